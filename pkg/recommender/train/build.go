package train

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"k8s.io/utils/clock"

	"github.com/firedrill/firedrill/pkg/log"
	"github.com/firedrill/firedrill/pkg/recommender/data"
	"github.com/firedrill/firedrill/pkg/recommender/model"
)

// Options configure Build. Zero values mean the documented defaults.
type Options struct {
	// ALS configures the factor model.
	ALS ALSOptions
	// KNN configures the neighbour lists.
	KNN KNNOptions
	// EASE configures the EASE item-item model.
	EASE EASEOptions
	// Recommender is what the model's Recommend ranks by (model.Recommender*
	// names). Empty means ALS. Choosing EASE trains it whatever EASE.Mode
	// says.
	Recommender string
	// Blend weights the search ranking. Zero means model.DefaultBlend.
	Blend model.Blend
	// Workers bounds parallelism for ALS and kNN. Default GOMAXPROCS.
	Workers int
	// SampleQueries is how many distinct queries the model keeps for load
	// generators. Default 1000.
	SampleQueries int
	// Metrics are evaluation results recorded in the model metadata.
	Metrics map[string]float64
	// Notes are recorded in the metadata's params besides the options, e.g.
	// how the settings were chosen.
	Notes map[string]string
	// Clock stamps the model version. Default the real clock.
	Clock clock.PassiveClock
}

// WithDefaults returns o with every zero field set to its default.
func (o Options) WithDefaults() Options {
	if o.Workers <= 0 {
		o.Workers = runtime.GOMAXPROCS(0)
	}
	if o.ALS.Workers <= 0 {
		o.ALS.Workers = o.Workers
	}
	if o.KNN.Workers <= 0 {
		o.KNN.Workers = o.Workers
	}
	if o.EASE.Workers <= 0 {
		o.EASE.Workers = o.Workers
	}
	o.ALS = o.ALS.withDefaults()
	o.KNN = o.KNN.withDefaults()
	o.EASE = o.EASE.withDefaults()
	if o.Blend == (model.Blend{}) {
		o.Blend = model.DefaultBlend()
	}
	if o.SampleQueries == 0 {
		o.SampleQueries = 1000
	}
	if o.Clock == nil {
		o.Clock = clock.RealClock{}
	}
	return o
}

// Validate reports every invalid option at once.
func (o Options) Validate() error {
	errs := []error{o.ALS.Validate(), o.KNN.Validate(), o.EASE.Validate()}
	switch o.Recommender {
	case "", model.RecommenderALS, model.RecommenderItemKNN, model.RecommenderEASE, model.RecommenderPopularity:
	default:
		errs = append(errs, fmt.Errorf("recommender must be als, itemknn, ease or popularity, got %q", o.Recommender))
	}
	if o.Blend.Text < 0 || o.Blend.Personal < 0 || o.Blend.Popularity < 0 || o.Blend.Candidates < 0 {
		errs = append(errs, fmt.Errorf("search blend weights must not be negative, got %+v", o.Blend))
	}
	return errors.Join(errs...)
}

// Params renders the hyper-parameters for the model metadata.
func (o Options) Params() map[string]string {
	f := func(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
	return map[string]string{
		"als.factors":        strconv.Itoa(o.ALS.Factors),
		"als.iterations":     strconv.Itoa(o.ALS.Iterations),
		"als.regularization": f(o.ALS.Regularization),
		"als.alpha":          f(o.ALS.Alpha),
		"als.epsilon":        f(o.ALS.Epsilon),
		"als.cgSteps":        strconv.Itoa(o.ALS.CGSteps),
		"als.seed":           strconv.FormatUint(o.ALS.Seed, 10),
		"knn.k":              strconv.Itoa(o.KNN.K),
		"knn.shrink":         f(o.KNN.Shrink),
		"search.text":        f(o.Blend.Text),
		"search.personal":    f(o.Blend.Personal),
		"search.popularity":  f(o.Blend.Popularity),
		"search.candidates":  strconv.Itoa(o.Blend.Candidates),
		"ease.mode":          string(o.EASE.Mode),
		"ease.lambda":        f(o.EASE.Lambda),
		"ease.maxItems":      strconv.Itoa(o.EASE.MaxItems),
		"ease.k":             strconv.Itoa(o.EASE.K),
		"recommender":        cmp.Or(o.Recommender, model.RecommenderALS),
	}
}

// Timings records how long each stage of Build took.
type Timings struct {
	// Matrix is the aggregation of interactions.
	Matrix time.Duration
	// Popularity, KNN, ALS and EASE are the model fits.
	Popularity, KNN, ALS, EASE time.Duration
	// Search covers model assembly including the bleve BM25 index.
	Search time.Duration
	// Total is the whole Build.
	Total time.Duration
}

// Build trains every model on all of ds and assembles a model.Model.
func Build(ctx context.Context, ds *data.Dataset, opts Options) (*model.Model, Timings, error) {
	opts = opts.WithDefaults()
	var tm Timings
	if err := opts.Validate(); err != nil {
		return nil, tm, fmt.Errorf("invalid training options: %w", err)
	}
	logger := log.FromContext(ctx)
	clk := opts.Clock
	start := clk.Now()
	lap := func(d *time.Duration, t0 time.Time) { *d = clk.Since(t0) }

	// Only users with interactions are part of the model.
	t0 := clk.Now()
	active := make([]int32, len(ds.Users))
	for i := range active {
		active[i] = -1
	}
	var users []string
	for _, in := range ds.Interactions {
		if active[in.User] < 0 {
			active[in.User] = 0
		}
	}
	for u, a := range active {
		if a == 0 {
			active[u] = int32(len(users))
			users = append(users, ds.Users[u])
		}
	}
	remapped := make([]data.Interaction, len(ds.Interactions))
	for n, in := range ds.Interactions {
		in.User = active[in.User]
		remapped[n] = in
	}
	m := NewMatrix(len(users), len(ds.Items), remapped, nil)
	lap(&tm.Matrix, t0)
	logger.Info("aggregated interactions", "users", m.Users, "items", m.Items, "pairs", m.NNZ(), "duration", tm.Matrix)

	t0 = clk.Now()
	pop := Popularity(m)
	lap(&tm.Popularity, t0)

	t0 = clk.Now()
	nb, err := ItemKNN(ctx, m, opts.KNN)
	if err != nil {
		return nil, tm, err
	}
	lap(&tm.KNN, t0)
	logger.Info("trained item-kNN", "k", nb.K, "duration", tm.KNN)

	t0 = clk.Now()
	f, err := ALS(ctx, m, opts.ALS)
	if err != nil {
		return nil, tm, err
	}
	lap(&tm.ALS, t0)
	logger.Info("trained ALS", "factors", f.Rank, "iterations", opts.ALS.Iterations, "duration", tm.ALS)

	var ease *Neighbors
	if opts.Recommender == model.RecommenderEASE || opts.EASE.Enabled(EASEShapeOf(m, opts.EASE)) {
		t0 = clk.Now()
		if ease, err = EASE(ctx, m, opts.EASE); err != nil {
			return nil, tm, err
		}
		lap(&tm.EASE, t0)
		logger.Info("trained EASE", "k", ease.K, "duration", tm.EASE)
	}

	t0 = clk.Now()
	seen := make([][]int32, m.Users)
	for u := range m.Users {
		seen[u], _ = m.Row(u)
	}
	items := make([]model.Item, len(ds.Items))
	for i, it := range ds.Items {
		items[i] = model.Item{ID: it.ID, Title: it.Title, Category: it.Category}
	}
	created := clk.Now().UTC().Truncate(time.Second)
	params := opts.Params()
	params["ease.trained"] = strconv.FormatBool(ease != nil)
	maps.Copy(params, opts.Notes)
	meta := model.Metadata{
		Version:   Version(created, ds.Hash, params),
		CreatedAt: created,
		DataHash:  ds.Hash,
		Metrics:   maps.Clone(opts.Metrics),
		Params:    params,
	}
	if meta.Metrics == nil {
		meta.Metrics = map[string]float64{}
	}
	parts := model.Parts{
		Metadata:       meta,
		Users:          users,
		Items:          items,
		Rank:           f.Rank,
		UserFactors:    f.Users,
		ItemFactors:    f.Items,
		Seen:           seen,
		NeighborK:      nb.K,
		NeighborItems:  nb.Items,
		NeighborScores: nb.Scores,
		Popularity:     pop,
		Queries:        SampleQueries(ds, pop, opts.SampleQueries),
		Recommender:    opts.Recommender,
		Blend:          opts.Blend,
	}
	if ease != nil {
		parts.EASEK, parts.EASEItems, parts.EASEScores = ease.K, ease.Items, ease.Scores
	}
	mdl, err := model.New(parts)
	if err != nil {
		return nil, tm, fmt.Errorf("assembling model: %w", err)
	}
	lap(&tm.Search, t0)
	lap(&tm.Total, start)
	logger.Info("assembled model", "version", meta.Version, "duration", tm.Search)
	return mdl, tm, nil
}

// Version names a training run: UTC creation time and a short hash of the
// data hash and parameters, e.g. 20261202T081500Z-1a2b3c4d.
func Version(created time.Time, dataHash string, params map[string]string) string {
	h := sha256.New()
	h.Write([]byte(dataHash))
	for _, k := range slices.Sorted(maps.Keys(params)) {
		fmt.Fprintf(h, "\n%s=%s", k, params[k])
	}
	return created.UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(h.Sum(nil))[:8]
}

// SampleQueries returns up to n distinct queries, most frequent first. Data
// without queries falls back to category names and the leading words of the
// most popular titles, so load generators always have something to send.
func SampleQueries(ds *data.Dataset, pop []float32, n int) []string {
	counts := map[string]int{}
	for _, q := range ds.Queries {
		if t := strings.TrimSpace(q.Text); t != "" {
			counts[t]++
		}
	}
	if len(counts) == 0 {
		for _, it := range ds.Items {
			if it.Category != "" {
				counts[strings.ToLower(it.Category)]++
			}
		}
		order := make([]int, len(ds.Items))
		for i := range order {
			order[i] = i
		}
		slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(pop[b], pop[a]) })
		for _, i := range order[:min(n, len(order))] {
			words := strings.Fields(strings.ToLower(ds.Items[i].Title))
			if len(words) > 0 {
				counts[strings.Join(words[max(0, len(words)-2):], " ")]++
			}
		}
	}
	qs := slices.Collect(maps.Keys(counts))
	slices.SortFunc(qs, func(a, b string) int {
		if c := cmp.Compare(counts[b], counts[a]); c != 0 {
			return c
		}
		return strings.Compare(a, b)
	})
	return qs[:min(n, len(qs))]
}
