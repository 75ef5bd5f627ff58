package data

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"
)

// Config parameterises the synthetic generator. The zero value of a field
// means its default (see DefaultConfig).
type Config struct {
	// Users is the number of users. Default 50,000.
	Users int
	// Items is the number of catalogue items. Default 20,000.
	Items int
	// Seed makes the output reproducible. Default 1.
	Seed uint64
	// Start is the first day of the simulated period. Default 2026-09-01 UTC.
	Start time.Time
	// Days is the length of the simulated period. Default 91.
	Days int
	// Factors is the dimension of the latent taste space. Default 16.
	Factors int
	// Workers bounds generation parallelism. Default GOMAXPROCS. The output
	// does not depend on it.
	Workers int
}

// DefaultConfig returns the default generator configuration: 50k users, 20k
// items, about one million interactions.
func DefaultConfig() Config {
	return Config{
		Users:   50_000,
		Items:   20_000,
		Seed:    1,
		Start:   time.Date(2026, 9, 1, 0, 0, 0, 0, time.UTC),
		Days:    91,
		Factors: 16,
		Workers: runtime.GOMAXPROCS(0),
	}
}

// withDefaults fills zero fields from DefaultConfig.
func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.Users == 0 {
		c.Users = d.Users
	}
	if c.Items == 0 {
		c.Items = d.Items
	}
	if c.Seed == 0 {
		c.Seed = d.Seed
	}
	if c.Start.IsZero() {
		c.Start = d.Start
	}
	if c.Days == 0 {
		c.Days = d.Days
	}
	if c.Factors == 0 {
		c.Factors = d.Factors
	}
	if c.Workers == 0 {
		c.Workers = d.Workers
	}
	return c
}

func (c Config) validate() error {
	var errs []error
	if c.Users < 1 {
		errs = append(errs, fmt.Errorf("users must be at least 1, got %d", c.Users))
	}
	if c.Items < 10 {
		errs = append(errs, fmt.Errorf("items must be at least 10, got %d", c.Items))
	}
	if c.Users > 50_000_000 || c.Items > 10_000_000 {
		errs = append(errs, fmt.Errorf("at most 50M users and 10M items, got %d and %d", c.Users, c.Items))
	}
	if c.Days < 1 {
		errs = append(errs, fmt.Errorf("days must be at least 1, got %d", c.Days))
	}
	if c.Factors < 1 || c.Factors > 256 {
		errs = append(errs, fmt.Errorf("factors must be in [1,256], got %d", c.Factors))
	}
	return errors.Join(errs...)
}

// calibration holds the generator's shape parameters. The defaults were
// tuned so the default dataset matches published e-commerce statistics (see
// docs/recommender.md and the calibration test).
type calibration struct {
	tailFraction   float64 // share of items in the dead long tail
	tailWeight     float64 // their base popularity relative to the median head item
	headSigma      float64 // log-normal spread of head item popularity
	headClip       float64 // z-score cap of head popularity: real catalogues have no runaway items
	neutral        float64 // exponent of the taste-boost correction (0 = none, 1 = full)
	aisleSigma     float64 // log-normal spread of aisle sizes
	deptAffinity   float64 // how strongly taste picks aisles
	itemAffinity   float64 // how strongly taste picks items within an aisle
	itemNoise      float64 // item deviation from its aisle centroid
	aisleNoise     float64 // aisle deviation from its department centroid
	userNoise      float64 // user deviation from favourite departments
	sessionMedian  float64 // median views per session
	sessionSigma   float64 // log-normal spread of session length
	maxSession     float64 // cap on views per session
	extraSessions  float64 // mean number of sessions per user beyond the first
	activitySigma  float64 // log-normal spread of user activity
	stayInAisle    float64 // probability the next view stays in the aisle
	reviewProb     float64 // probability a view revisits an item already seen
	cartRate       float64 // carts per view
	purchaseRate   float64 // purchases per cart
	searchAtStart  float64
	searchOnSwitch float64
	meanGapSeconds float64
}

func defaultCalibration() calibration {
	return calibration{
		tailFraction:   0.38,
		tailWeight:     0.01,
		headSigma:      1.0,
		headClip:       1.8,
		neutral:        0.5,
		aisleSigma:     0.5,
		deptAffinity:   3.0,
		itemAffinity:   5.0,
		itemNoise:      0.8,
		aisleNoise:     0.7,
		userNoise:      0.5,
		sessionMedian:  5.6,
		sessionSigma:   1.5,
		maxSession:     600,
		extraSessions:  0.22,
		activitySigma:  1.0,
		stayInAisle:    0.7,
		reviewProb:     0.18,
		cartRate:       0.026,
		purchaseRate:   0.008 / 0.026,
		searchAtStart:  0.5,
		searchOnSwitch: 0.3,
		meanGapSeconds: 45.0,
	}
}

// hourWeights is the diurnal shape of session starts (UTC hours).
var hourWeights = []float64{1, 0.6, 0.4, 0.3, 0.3, 0.5, 1, 2, 3, 3.5, 3.5, 3.5, 4, 3.8, 3.5, 3.5, 3.8, 4.5, 5.5, 6.5, 7, 6, 4, 2}

// world is the fixed catalogue and latent space shared by all users.
type world struct {
	cfg       Config
	cal       calibration
	depts     []department
	aisles    []aisleState
	deptVec   []float64 // depts x factors
	items     []Item
	itemAisle []int32
	itemNoun  []string
	itemAttr  []string
	itemBrand []string
	itemVec   []float64 // items x factors
	itemW     []float64
	hourCum   []float64
}

type aisleState struct {
	name   string
	dept   int
	vec    []float64
	items  []int32
	weight float64 // sum of item weights
}

// Generate builds a synthetic dataset. It is deterministic for cfg (with
// defaults applied) and independent of cfg.Workers.
func Generate(ctx context.Context, cfg Config) (*Dataset, error) {
	return generate(ctx, cfg, defaultCalibration())
}

func generate(ctx context.Context, cfg Config, cal calibration) (*Dataset, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("invalid generator config: %w", err)
	}
	w := newWorld(cfg, cal)
	users := make([]userOut, cfg.Users)
	workers := max(1, cfg.Workers)
	var wg sync.WaitGroup
	var next int64
	var mu sync.Mutex
	for range workers {
		wg.Go(func() {
			g := newUserGen(w)
			for {
				mu.Lock()
				lo := int(next)
				next += 512
				mu.Unlock()
				if lo >= cfg.Users || ctx.Err() != nil {
					return
				}
				for u := lo; u < min(lo+512, cfg.Users); u++ {
					users[u] = g.user(int32(u))
				}
			}
		})
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("generating data: %w", err)
	}
	return w.assemble(users), nil
}

func newWorld(cfg Config, cal calibration) *world {
	r := rand.New(rand.NewPCG(cfg.Seed, 0x636174616c6f67)) // "catalog"
	f := cfg.Factors
	scale := 1 / math.Sqrt(float64(f))
	w := &world{cfg: cfg, cal: cal, depts: parseTaxonomy()}
	w.deptVec = make([]float64, len(w.depts)*f)
	for i := range w.deptVec {
		w.deptVec[i] = r.NormFloat64() * scale
	}
	var aisleCum []float64
	total := 0.0
	for d, dep := range w.depts {
		for _, a := range dep.aisles {
			vec := make([]float64, f)
			for j := range vec {
				vec[j] = w.deptVec[d*f+j] + r.NormFloat64()*scale*cal.aisleNoise
			}
			w.aisles = append(w.aisles, aisleState{name: a.name, dept: d, vec: vec})
			total += math.Exp(r.NormFloat64() * cal.aisleSigma)
			aisleCum = append(aisleCum, total)
		}
	}
	aisleNouns := make([][]string, 0, len(w.aisles))
	for _, dep := range w.depts {
		for _, a := range dep.aisles {
			aisleNouns = append(aisleNouns, a.nouns)
		}
	}
	n := cfg.Items
	w.items = make([]Item, n)
	w.itemAisle = make([]int32, n)
	w.itemNoun = make([]string, n)
	w.itemAttr = make([]string, n)
	w.itemBrand = make([]string, n)
	w.itemVec = make([]float64, n*f)
	w.itemW = make([]float64, n)
	width := len(fmt.Sprint(n))
	for i := range n {
		// Every aisle gets items round-robin first, then by size.
		var a int
		if i < len(w.aisles) {
			a = i
		} else {
			a, _ = slices.BinarySearch(aisleCum, r.Float64()*total)
			a = min(a, len(w.aisles)-1)
		}
		as := &w.aisles[a]
		dep := w.depts[as.dept]
		nouns := aisleNouns[a]
		noun := nouns[r.IntN(len(nouns))]
		brand := brandName(as.dept, r.IntN(8))
		var parts []string
		parts = append(parts, brand)
		if r.Float64() < 0.7 {
			w.itemAttr[i] = dep.attributes[r.IntN(len(dep.attributes))]
			parts = append(parts, w.itemAttr[i])
		}
		parts = append(parts, noun)
		if r.Float64() < 0.5 {
			parts = append(parts, sizes[r.IntN(len(sizes))])
		}
		w.items[i] = Item{ID: fmt.Sprintf("i%0*d", width, i+1), Title: strings.Join(parts, " "), Category: as.name}
		w.itemAisle[i] = int32(a)
		w.itemNoun[i], w.itemBrand[i] = noun, brand
		for j := range f {
			w.itemVec[i*f+j] = as.vec[j] + r.NormFloat64()*scale*cal.itemNoise
		}
		if r.Float64() < cal.tailFraction {
			w.itemW[i] = cal.tailWeight * math.Exp(r.NormFloat64()*0.5)
		} else {
			w.itemW[i] = math.Exp(min(r.NormFloat64(), cal.headClip) * cal.headSigma)
		}
		as.items = append(as.items, int32(i))
		as.weight += w.itemW[i]
	}
	w.neutralise()
	acc := 0.0
	for _, h := range hourWeights {
		acc += h
		w.hourCum = append(w.hourCum, acc)
	}
	return w
}

// taste draws a user's latent vector into vec: a mix of one to three
// favourite departments plus noise.
func (w *world) taste(r *rand.Rand, vec []float64) {
	f := w.cfg.Factors
	scale := 1 / math.Sqrt(float64(f))
	clear(vec)
	nfav := 1 + r.IntN(3)
	for range nfav {
		d := r.IntN(len(w.depts))
		wt := 0.5 + r.Float64()
		for j := range f {
			vec[j] += wt * w.deptVec[d*f+j]
		}
	}
	for j := range f {
		vec[j] += r.NormFloat64() * scale * w.cal.userNoise
	}
}

// neutralise divides each item's base popularity by the taste boost it gets
// from an average visitor of its aisle (estimated on reference users). Taste
// then decides who buys an item, while base popularity alone decides how
// much it sells, so the popularity curve does not drift with catalogue size.
func (w *world) neutralise() {
	f := w.cfg.Factors
	r := rand.New(rand.NewPCG(w.cfg.Seed, 0x726566)) // "ref"
	const refs = 300
	vec := make([]float64, f)
	boost := make([]float64, len(w.items))
	norm := make([]float64, len(w.aisles))
	for range refs {
		w.taste(r, vec)
		for a := range w.aisles {
			pa := math.Exp(w.cal.deptAffinity * dotf(vec, w.aisles[a].vec))
			norm[a] += pa
			for _, i := range w.aisles[a].items {
				boost[i] += pa * math.Exp(w.cal.itemAffinity*dotf(vec, w.itemVec[int(i)*f:int(i+1)*f]))
			}
		}
	}
	for a := range w.aisles {
		as := &w.aisles[a]
		as.weight = 0
		for _, i := range as.items {
			w.itemW[i] /= math.Pow(boost[i]/norm[a], w.cal.neutral)
			as.weight += w.itemW[i]
		}
	}
}

// brandName returns the j-th brand of department d.
func brandName(d, j int) string {
	return brandStarts[(d*3+j*7)%len(brandStarts)] + brandEnds[(d*7+j*3)%len(brandEnds)]
}

// userOut is one user's generated events with session numbers local to the
// user.
type userOut struct {
	events   []Interaction
	queries  []Query
	sessions int32
}

// userGen holds per-worker scratch space.
type userGen struct {
	w        *world
	vec      []float64
	aisleCum []float64
	cache    map[int32][]float64 // aisle -> cumulative item weights for this user
	viewed   []int32
}

func newUserGen(w *world) *userGen {
	return &userGen{w: w, vec: make([]float64, w.cfg.Factors), aisleCum: make([]float64, len(w.aisles)), cache: map[int32][]float64{}}
}

func dotf(a, b []float64) float64 {
	s := 0.0
	for i := range a {
		s += a[i] * b[i]
	}
	return s
}

func pick(r *rand.Rand, cum []float64) int {
	i, _ := slices.BinarySearch(cum, r.Float64()*cum[len(cum)-1])
	return min(i, len(cum)-1)
}

// user generates every session of user u from a generator seeded by
// (seed, u), so results do not depend on scheduling.
func (g *userGen) user(u int32) userOut {
	w := g.w
	cfg, cal := w.cfg, w.cal
	r := rand.New(rand.NewPCG(cfg.Seed, 0x75736572<<32|uint64(u)))
	w.taste(r, g.vec)
	acc := 0.0
	for a := range w.aisles {
		acc += w.aisles[a].weight * math.Exp(cal.deptAffinity*dotf(g.vec, w.aisles[a].vec))
		g.aisleCum[a] = acc
	}
	clear(g.cache)
	activity := math.Exp(r.NormFloat64()*cal.activitySigma - cal.activitySigma*cal.activitySigma/2)
	nsess := 1 + poisson(r, cal.extraSessions*activity)
	out := userOut{sessions: int32(nsess)}
	span := int64(cfg.Days) * 86400
	start := cfg.Start.Unix()
	for s := range nsess {
		day := int64(r.IntN(cfg.Days))
		hour := int64(pick(r, w.hourCum))
		t := start + day*86400 + hour*3600 + int64(r.IntN(3600))
		if t >= start+span {
			t = start + span - 1
		}
		views := int(math.Round(math.Exp(math.Log(cal.sessionMedian) + r.NormFloat64()*cal.sessionSigma)))
		views = max(1, min(views, int(cal.maxSession)))
		a := int32(pick(r, g.aisleCum))
		search := r.Float64() < cal.searchAtStart
		g.viewed = g.viewed[:0]
		for range views {
			var item int32
			if len(g.viewed) > 0 && r.Float64() < cal.reviewProb {
				item = g.viewed[r.IntN(len(g.viewed))]
			} else {
				if len(g.viewed) > 0 && r.Float64() > cal.stayInAisle {
					a = int32(pick(r, g.aisleCum))
					search = r.Float64() < cal.searchOnSwitch
				}
				item = g.pickItem(r, a)
				g.viewed = append(g.viewed, item)
			}
			if search {
				out.queries = append(out.queries, Query{User: u, Session: int32(s), Time: t, Text: w.query(r, item)})
				search = false
				t += 2 + int64(r.IntN(8))
			}
			out.events = append(out.events, Interaction{User: u, Item: item, Weight: EventView.DefaultWeight(), Time: t, Event: EventView, Session: int32(s)})
			t += 1 + int64(r.ExpFloat64()*cal.meanGapSeconds)
			if r.Float64() < cal.cartRate {
				out.events = append(out.events, Interaction{User: u, Item: item, Weight: EventCart.DefaultWeight(), Time: t, Event: EventCart, Session: int32(s)})
				t += 1 + int64(r.ExpFloat64()*cal.meanGapSeconds/3)
				if r.Float64() < cal.purchaseRate {
					out.events = append(out.events, Interaction{User: u, Item: item, Weight: EventPurchase.DefaultWeight(), Time: t, Event: EventPurchase, Session: int32(s)})
					t += 1 + int64(r.ExpFloat64()*cal.meanGapSeconds)
				}
			}
		}
	}
	return out
}

// pickItem draws an item from aisle a in proportion to base popularity times
// the user's taste for it.
func (g *userGen) pickItem(r *rand.Rand, a int32) int32 {
	cum, ok := g.cache[a]
	if !ok {
		w := g.w
		cal := w.cal
		f := w.cfg.Factors
		items := w.aisles[a].items
		cum = make([]float64, len(items))
		acc := 0.0
		for j, i := range items {
			acc += w.itemW[i] * math.Exp(cal.itemAffinity*dotf(g.vec, w.itemVec[int(i)*f:int(i+1)*f]))
			cum[j] = acc
		}
		g.cache[a] = cum
	}
	return g.w.aisles[a].items[pick(r, cum)]
}

// query builds a search query that leads to item: its noun, sometimes with
// an attribute or the brand.
func (w *world) query(r *rand.Rand, item int32) string {
	q := strings.ToLower(w.itemNoun[item])
	if a := w.itemAttr[item]; a != "" && r.Float64() < 0.35 {
		q = strings.ToLower(a) + " " + q
	}
	if r.Float64() < 0.15 {
		q = strings.ToLower(w.itemBrand[item]) + " " + q
	}
	return q
}

// poisson draws from a Poisson distribution with mean lambda (Knuth; lambda
// is small here).
func poisson(r *rand.Rand, lambda float64) int {
	if lambda <= 0 {
		return 0
	}
	if lambda > 30 {
		return max(0, int(math.Round(lambda+math.Sqrt(lambda)*r.NormFloat64())))
	}
	l := math.Exp(-lambda)
	k, p := 0, 1.0
	for {
		p *= r.Float64()
		if p <= l {
			return k
		}
		k++
	}
}

// assemble numbers sessions globally and orders events by time.
func (w *world) assemble(users []userOut) *Dataset {
	ds := &Dataset{Items: w.items, HasTime: true}
	uw := len(fmt.Sprint(len(users)))
	ds.Users = make([]string, len(users))
	nev, nq, ns := 0, 0, 0
	for u, o := range users {
		ds.Users[u] = fmt.Sprintf("u%0*d", uw, u+1)
		nev += len(o.events)
		nq += len(o.queries)
		ns += int(o.sessions)
	}
	sw := len(fmt.Sprint(ns))
	ds.Sessions = make([]string, ns)
	for i := range ds.Sessions {
		ds.Sessions[i] = fmt.Sprintf("s%0*d", sw, i+1)
	}
	ds.Interactions = make([]Interaction, 0, nev)
	ds.Queries = make([]Query, 0, nq)
	off := int32(0)
	for _, o := range users {
		for _, e := range o.events {
			e.Session += off
			ds.Interactions = append(ds.Interactions, e)
		}
		for _, q := range o.queries {
			q.Session += off
			ds.Queries = append(ds.Queries, q)
		}
		off += o.sessions
	}
	slices.SortStableFunc(ds.Interactions, func(a, b Interaction) int {
		if a.Time != b.Time {
			return cmpInt(a.Time, b.Time)
		}
		return cmpInt(int64(a.User), int64(b.User))
	})
	slices.SortStableFunc(ds.Queries, func(a, b Query) int {
		if a.Time != b.Time {
			return cmpInt(a.Time, b.Time)
		}
		return cmpInt(int64(a.User), int64(b.User))
	})
	return ds
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
