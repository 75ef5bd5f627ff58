package eval

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas32"
	"k8s.io/utils/clock"

	"github.com/firedrill/firedrill/pkg/log"
	"github.com/firedrill/firedrill/pkg/recommender/data"
	"github.com/firedrill/firedrill/pkg/recommender/train"
)

// Split names an evaluation protocol.
type Split string

const (
	// SplitUser holds out a random fraction of each user's distinct items.
	SplitUser Split = "user"
	// SplitTime trains on interactions before a time cutoff and tests on the
	// items each user first interacts with after it.
	SplitTime Split = "time"
)

// Model names used in results and metric keys.
const (
	ModelPopularity = "popularity"
	ModelItemKNN    = "itemknn"
	ModelALS        = "als"
)

// Options configure Evaluate. Zero values mean the documented defaults.
type Options struct {
	// Splits to run. Default: user, plus time when the data has timestamps.
	Splits []Split
	// K is the ranking cutoff. Default 10.
	K int
	// Holdout is the fraction of a user's distinct items held out in the
	// user split. Default 0.2 (at least one item).
	Holdout float64
	// MinItems is the fewest distinct items a user needs to be evaluated in
	// the user split. Default 3.
	MinItems int
	// TimeFraction places the time-split cutoff at this quantile of
	// interaction times. Default 0.8.
	TimeFraction float64
	// MaxUsers caps the evaluated users per split (a seeded sample). Default
	// 10,000; negative means all.
	MaxUsers int
	// Seed drives the holdout and the user sample. Default 1.
	Seed uint64
	// Workers bounds parallel scoring. Default GOMAXPROCS.
	Workers int
	// Clock times the stages. Default the real clock.
	Clock clock.PassiveClock
}

func (o Options) withDefaults(ds *data.Dataset) Options {
	if len(o.Splits) == 0 {
		o.Splits = []Split{SplitUser}
		if ds.HasTime {
			o.Splits = append(o.Splits, SplitTime)
		}
	}
	if o.K == 0 {
		o.K = 10
	}
	if o.Holdout == 0 {
		o.Holdout = 0.2
	}
	if o.MinItems == 0 {
		o.MinItems = 3
	}
	if o.TimeFraction == 0 {
		o.TimeFraction = 0.8
	}
	if o.MaxUsers == 0 {
		o.MaxUsers = 10_000
	}
	if o.Seed == 0 {
		o.Seed = 1
	}
	if o.Workers <= 0 {
		o.Workers = runtime.GOMAXPROCS(0)
	}
	if o.Clock == nil {
		o.Clock = clock.RealClock{}
	}
	return o
}

// Validate reports every invalid option.
func (o Options) Validate(ds *data.Dataset) error {
	var errs []error
	for _, s := range o.Splits {
		switch s {
		case SplitUser:
		case SplitTime:
			if !ds.HasTime {
				errs = append(errs, errors.New("time split needs a timestamp on every interaction"))
			}
		default:
			errs = append(errs, fmt.Errorf("unknown split %q (want user or time)", s))
		}
	}
	if o.K < 1 {
		errs = append(errs, fmt.Errorf("k must be at least 1, got %d", o.K))
	}
	if o.Holdout <= 0 || o.Holdout >= 1 {
		errs = append(errs, fmt.Errorf("holdout must be in (0,1), got %g", o.Holdout))
	}
	if o.TimeFraction <= 0 || o.TimeFraction >= 1 {
		errs = append(errs, fmt.Errorf("time fraction must be in (0,1), got %g", o.TimeFraction))
	}
	if o.MinItems < 2 {
		errs = append(errs, fmt.Errorf("min items must be at least 2, got %d", o.MinItems))
	}
	return errors.Join(errs...)
}

// ModelResult is one model's quality on one split.
type ModelResult struct {
	// Model is popularity, itemknn or als.
	Model string `json:"model"`
	// NDCG is the mean NDCG@K over evaluated users.
	NDCG float64 `json:"ndcg"`
	// Recall is the mean Recall@K over evaluated users.
	Recall float64 `json:"recall"`
	// Train is how long fitting took.
	Train time.Duration `json:"train"`
}

// SplitReport holds the results of one split.
type SplitReport struct {
	// Split is the protocol.
	Split Split `json:"split"`
	// K is the cutoff.
	K int `json:"k"`
	// Users is the number of evaluated users.
	Users int `json:"users"`
	// TrainPairs and TestPairs count distinct (user, item) pairs.
	TrainPairs int `json:"trainPairs"`
	// TestPairs counts held-out pairs of evaluated users.
	TestPairs int `json:"testPairs"`
	// Results lists every model, in popularity, itemknn, als order.
	Results []ModelResult `json:"results"`
}

// Report is the outcome of Evaluate.
type Report struct {
	// Splits holds one report per split, in the order requested.
	Splits []SplitReport `json:"splits"`
}

// Metrics flattens the report into metadata keys: "<model>/ndcg@K" and
// "<model>/recall@K" for the user split and "time/<model>/..." for the time
// split.
func (r *Report) Metrics() map[string]float64 {
	out := map[string]float64{}
	for _, s := range r.Splits {
		prefix := ""
		if s.Split != SplitUser {
			prefix = string(s.Split) + "/"
		}
		for _, res := range s.Results {
			out[fmt.Sprintf("%s%s/ndcg@%d", prefix, res.Model, s.K)] = res.NDCG
			out[fmt.Sprintf("%s%s/recall@%d", prefix, res.Model, s.K)] = res.Recall
		}
	}
	return out
}

// Result returns the result of model on split, if present.
func (r *Report) Result(split Split, model string) (ModelResult, bool) {
	for _, s := range r.Splits {
		if s.Split != split {
			continue
		}
		for _, res := range s.Results {
			if res.Model == model {
				return res, true
			}
		}
	}
	return ModelResult{}, false
}

// Evaluate runs every requested split with models configured by topts.
func Evaluate(ctx context.Context, ds *data.Dataset, topts train.Options, opts Options) (*Report, error) {
	opts = opts.withDefaults(ds)
	if err := opts.Validate(ds); err != nil {
		return nil, fmt.Errorf("invalid evaluation options: %w", err)
	}
	topts = topts.WithDefaults()
	if err := topts.Validate(); err != nil {
		return nil, fmt.Errorf("invalid training options: %w", err)
	}
	rep := &Report{}
	for _, s := range opts.Splits {
		var sp *split
		switch s {
		case SplitUser:
			sp = userSplit(ds, opts)
		case SplitTime:
			sp = timeSplit(ds, opts)
		}
		sr, err := runSplit(ctx, sp, topts, opts)
		if err != nil {
			return nil, fmt.Errorf("%s split: %w", s, err)
		}
		sr.Split = s
		rep.Splits = append(rep.Splits, *sr)
	}
	return rep, nil
}

// split is a training matrix plus the held-out items of evaluated users.
type split struct {
	train *train.Matrix
	users []int32   // evaluated users
	test  [][]int32 // sorted held-out items per evaluated user
}

// sample keeps at most max users, chosen with a seeded shuffle.
func sample(users []int32, test [][]int32, opts Options) ([]int32, [][]int32) {
	if opts.MaxUsers < 0 || len(users) <= opts.MaxUsers {
		return users, test
	}
	r := rand.New(rand.NewPCG(opts.Seed, 0x73616d706c65))
	perm := r.Perm(len(users))[:opts.MaxUsers]
	slices.Sort(perm)
	u2, t2 := make([]int32, len(perm)), make([][]int32, len(perm))
	for j, p := range perm {
		u2[j], t2[j] = users[p], test[p]
	}
	return u2, t2
}

func userSplit(ds *data.Dataset, opts Options) *split {
	full := train.NewMatrix(len(ds.Users), len(ds.Items), ds.Interactions, nil)
	held := make([][]int32, full.Users)
	sp := &split{}
	for u := range full.Users {
		items, _ := full.Row(u)
		if len(items) < opts.MinItems {
			continue
		}
		r := rand.New(rand.NewPCG(opts.Seed, uint64(u)))
		n := max(1, int(math.Round(opts.Holdout*float64(len(items)))))
		h := make([]int32, 0, n)
		for _, p := range r.Perm(len(items))[:n] {
			h = append(h, items[p])
		}
		slices.Sort(h)
		held[u] = h
		sp.users = append(sp.users, int32(u))
		sp.test = append(sp.test, h)
	}
	sp.train = train.NewMatrix(len(ds.Users), len(ds.Items), ds.Interactions, func(n int) bool {
		in := ds.Interactions[n]
		_, found := slices.BinarySearch(held[in.User], in.Item)
		return !found
	})
	sp.users, sp.test = sample(sp.users, sp.test, opts)
	return sp
}

func timeSplit(ds *data.Dataset, opts Options) *split {
	times := make([]int64, len(ds.Interactions))
	for n, in := range ds.Interactions {
		times[n] = in.Time
	}
	slices.Sort(times)
	cutoff := times[min(len(times)-1, int(opts.TimeFraction*float64(len(times))))]
	sp := &split{}
	sp.train = train.NewMatrix(len(ds.Users), len(ds.Items), ds.Interactions, func(n int) bool {
		return ds.Interactions[n].Time < cutoff
	})
	test := train.NewMatrix(len(ds.Users), len(ds.Items), ds.Interactions, func(n int) bool {
		return ds.Interactions[n].Time >= cutoff
	})
	for u := range test.Users {
		trainItems, _ := sp.train.Row(u)
		if len(trainItems) == 0 {
			continue
		}
		items, _ := test.Row(u)
		var h []int32
		for _, i := range items {
			if _, found := slices.BinarySearch(trainItems, i); !found {
				h = append(h, i)
			}
		}
		if len(h) > 0 {
			sp.users = append(sp.users, int32(u))
			sp.test = append(sp.test, h)
		}
	}
	sp.users, sp.test = sample(sp.users, sp.test, opts)
	return sp
}

// scorer fills scores for user u over all items.
type scorer func(u int32, scores []float32)

func runSplit(ctx context.Context, sp *split, topts train.Options, opts Options) (*SplitReport, error) {
	logger := log.FromContext(ctx)
	clk := opts.Clock
	m := sp.train
	sr := &SplitReport{K: opts.K, Users: len(sp.users), TrainPairs: m.NNZ()}
	for _, t := range sp.test {
		sr.TestPairs += len(t)
	}
	if len(sp.users) == 0 {
		return nil, errors.New("no users to evaluate: too little data")
	}
	t0 := clk.Now()
	pop := train.Popularity(m)
	popTime := clk.Since(t0)
	var maxPop float32
	for _, p := range pop {
		maxPop = max(maxPop, p)
	}
	popNorm := make([]float32, len(pop))
	for i, p := range pop {
		popNorm[i] = p / max(maxPop, 1)
	}

	t0 = clk.Now()
	nb, err := train.ItemKNN(ctx, m, topts.KNN)
	if err != nil {
		return nil, err
	}
	knnTime := clk.Since(t0)

	t0 = clk.Now()
	f, err := train.ALS(ctx, m, topts.ALS)
	if err != nil {
		return nil, err
	}
	alsTime := clk.Since(t0)

	models := []struct {
		name  string
		score scorer
		took  time.Duration
	}{
		{ModelPopularity, func(_ int32, s []float32) { copy(s, pop) }, popTime},
		{ModelItemKNN, func(u int32, s []float32) {
			// Neighbour votes, with popularity as a tie-breaker far below
			// any similarity so unscored items fall back to popularity.
			for i, p := range popNorm {
				s[i] = 1e-6 * p
			}
			items, _ := m.Row(int(u))
			for _, i := range items {
				row := int(i) * nb.K
				for j := range nb.K {
					n := nb.Items[row+j]
					if n < 0 {
						break
					}
					s[n] += nb.Scores[row+j]
				}
			}
		}, knnTime},
		{ModelALS, func(u int32, s []float32) {
			a := blas32.General{Rows: m.Items, Cols: f.Rank, Stride: f.Rank, Data: f.Items}
			x := blas32.Vector{N: f.Rank, Inc: 1, Data: f.Users[int(u)*f.Rank : int(u+1)*f.Rank]}
			blas32.Gemv(blas.NoTrans, 1, a, x, 0, blas32.Vector{N: m.Items, Inc: 1, Data: s})
		}, alsTime},
	}
	for _, md := range models {
		ndcg, recall, err := score(ctx, sp, md.score, opts)
		if err != nil {
			return nil, err
		}
		sr.Results = append(sr.Results, ModelResult{Model: md.name, NDCG: ndcg, Recall: recall, Train: md.took})
		logger.Info("evaluated model", "model", md.name, "users", len(sp.users), "ndcg", ndcg, "recall", recall)
	}
	return sr, nil
}

// score ranks the full catalogue for every evaluated user and averages
// NDCG@K and Recall@K.
func score(ctx context.Context, sp *split, fn scorer, opts Options) (float64, float64, error) {
	m := sp.train
	k := opts.K
	var next atomic.Int64
	var wg sync.WaitGroup
	ndcgs := make([]float64, len(sp.users))
	recalls := make([]float64, len(sp.users))
	idcg := make([]float64, k+1)
	for r := 1; r <= k; r++ {
		idcg[r] = idcg[r-1] + 1/math.Log2(float64(r)+1)
	}
	for range opts.Workers {
		wg.Go(func() {
			scores := make([]float32, m.Items)
			top := make([]int32, 0, k)
			for {
				j := int(next.Add(1) - 1)
				if j >= len(sp.users) || ctx.Err() != nil {
					return
				}
				u := sp.users[j]
				fn(u, scores)
				trainItems, _ := m.Row(int(u))
				top = TopK(scores, trainItems, k, top[:0])
				test := sp.test[j]
				dcg, hits := 0.0, 0
				for r, i := range top {
					if _, ok := slices.BinarySearch(test, i); ok {
						dcg += 1 / math.Log2(float64(r)+2)
						hits++
					}
				}
				ideal := min(len(test), k)
				ndcgs[j] = dcg / idcg[ideal]
				recalls[j] = float64(hits) / float64(ideal)
			}
		})
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return 0, 0, fmt.Errorf("scoring: %w", err)
	}
	var n, r float64
	for j := range ndcgs {
		n += ndcgs[j]
		r += recalls[j]
	}
	return n / float64(len(ndcgs)), r / float64(len(ndcgs)), nil
}

// TopK appends to dst the indices of the k highest scores, best first,
// skipping the sorted indices in exclude. Ties go to the lower index.
func TopK(scores []float32, exclude []int32, k int, dst []int32) []int32 {
	type c struct {
		s float32
		i int32
	}
	better := func(a, b c) bool { return a.s > b.s || (a.s == b.s && a.i < b.i) }
	h := make([]c, 0, k)
	next := 0
	for i, s := range scores {
		if next < len(exclude) && exclude[next] == int32(i) {
			next++
			continue
		}
		x := c{s, int32(i)}
		if len(h) < k {
			h = append(h, x)
			for p := len(h) - 1; p > 0; {
				q := (p - 1) / 2
				if !better(h[q], h[p]) {
					break
				}
				h[q], h[p] = h[p], h[q]
				p = q
			}
			continue
		}
		if !better(x, h[0]) {
			continue
		}
		h[0] = x
		for p := 0; ; {
			l := 2*p + 1
			if l >= len(h) {
				break
			}
			w := l
			if r := l + 1; r < len(h) && better(h[l], h[r]) {
				w = r
			}
			if !better(h[p], h[w]) {
				break
			}
			h[p], h[w] = h[w], h[p]
			p = w
		}
	}
	slices.SortFunc(h, func(a, b c) int {
		if better(a, b) {
			return -1
		}
		return 1
	})
	for _, x := range h {
		dst = append(dst, x.i)
	}
	return dst
}
