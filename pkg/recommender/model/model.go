package model

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/firedrill/firedrill/pkg/recommender/model/artifact"
)

// ErrUnknownItem is returned by Similar for an item the model was not trained on.
var ErrUnknownItem = errors.New("unknown item")

// ErrCorrupt is wrapped by Load when a checksum, size or format check fails.
var ErrCorrupt = artifact.ErrCorrupt

// Result is one ranked item.
type Result struct {
	Item     string  `json:"item"`
	Title    string  `json:"title,omitempty"`
	Category string  `json:"category,omitempty"`
	Score    float64 `json:"score"`
}

// Metadata describes one training run.
type Metadata struct {
	Version   string             `json:"version"`   // e.g. 20261202T081500Z-<shorthash>
	CreatedAt time.Time          `json:"createdAt"` // when training finished
	DataHash  string             `json:"dataHash"`  // sha256 of training data
	Metrics   map[string]float64 `json:"metrics"`   // e.g. "als/ndcg@10"
	Users     int                `json:"users"`
	Items     int                `json:"items"`
	Params    map[string]string  `json:"params,omitempty"`
}

// Item is one catalogue entry.
type Item struct {
	// ID is the external item identifier.
	ID string
	// Title is the human-readable product title; it may be empty.
	Title string
	// Category is the item's category (aisle); it may be empty.
	Category string
}

// Blend weights the three signals of a search ranking. Each signal is
// normalised to [0,1] over the candidate set before weighting.
type Blend struct {
	// Text weights BM25 relevance.
	Text float64
	// Personal weights the user's ALS score; it is ignored for unknown users.
	Personal float64
	// Popularity weights log-scaled item popularity.
	Popularity float64
	// Candidates is how many BM25 hits are re-ranked. Zero means 200.
	Candidates int
}

// DefaultBlend is the search blend used when training does not choose one.
func DefaultBlend() Blend {
	return Blend{Text: 0.6, Personal: 0.25, Popularity: 0.15, Candidates: 200}
}

// Parts are the trained components that New assembles into a Model. Item
// indices refer to positions in Items, user indices to positions in Users.
type Parts struct {
	// Metadata describes the run; Users and Items are filled in by New.
	Metadata Metadata
	// Users are the external user identifiers, one per factor row.
	Users []string
	// Items is the catalogue, one entry per factor row.
	Items []Item
	// Rank is the number of latent factors.
	Rank int
	// UserFactors is a row-major len(Users) x Rank matrix.
	UserFactors []float32
	// ItemFactors is a row-major len(Items) x Rank matrix.
	ItemFactors []float32
	// Seen lists, per user, the item indices the user interacted with in
	// training; Recommend excludes them.
	Seen [][]int32
	// NeighborK is the number of neighbours stored per item.
	NeighborK int
	// NeighborItems is a row-major len(Items) x NeighborK matrix of item
	// indices, best first, padded with -1.
	NeighborItems []int32
	// NeighborScores holds the cosine similarity for each NeighborItems entry.
	NeighborScores []float32
	// Popularity is the (weighted) interaction mass per item.
	Popularity []float32
	// EASEK is the number of EASE weights stored per item; zero means the
	// model has no EASE part.
	EASEK int
	// EASEItems is a row-major len(Items) x EASEK matrix of item indices,
	// largest weight first, padded with -1.
	EASEItems []int32
	// EASEScores holds the EASE weight for each EASEItems entry.
	EASEScores []float32
	// Recommender is what Recommend ranks by: RecommenderALS (the default
	// for ""), RecommenderItemKNN, RecommenderEASE or RecommenderPopularity.
	Recommender string
	// Queries are sample search queries for load generators; may be empty.
	Queries []string
	// Blend configures Search.
	Blend Blend
}

// Model is a trained recommender. It is immutable after New or Load and safe
// for concurrent use.
type Model struct {
	meta Metadata

	users   []string
	userIdx map[string]int32

	items      []string
	titles     []string
	itemIdx    map[string]int32
	categories []string
	catIdx     map[string]int32
	itemCat    []int32

	rank   int
	userF  []float32 // users x rank
	itemFT []float32 // rank x items (factor-major), see scoreAll

	seenPtr []int32
	seen    []int32

	nbrK     int
	nbrItems []int32
	nbrScore []float32

	easeK     int
	easeItems []int32
	easeScore []float32
	rec       string // what Recommend ranks by

	pop      []float32
	popNorm  []float32 // log1p(pop)/log1p(max pop), in [0,1]
	popOrder []int32
	catOrder [][]int32

	queries []string
	blend   Blend
	search  *searchIndex

	scratch sync.Pool // *[]float32 of len(items)
}

// New validates parts and builds a Model from them, including its search
// index. It does not retain parts' slices beyond what it copies or owns.
func New(p Parts) (*Model, error) {
	nu, ni := len(p.Users), len(p.Items)
	if ni == 0 {
		return nil, errors.New("model has no items")
	}
	if p.Rank <= 0 {
		return nil, fmt.Errorf("rank must be positive, got %d", p.Rank)
	}
	if len(p.UserFactors) != nu*p.Rank || len(p.ItemFactors) != ni*p.Rank {
		return nil, fmt.Errorf("factor sizes %d/%d do not match %d users, %d items, rank %d",
			len(p.UserFactors), len(p.ItemFactors), nu, ni, p.Rank)
	}
	if len(p.Seen) != nu {
		return nil, fmt.Errorf("seen lists for %d users, want %d", len(p.Seen), nu)
	}
	if p.NeighborK < 0 || len(p.NeighborItems) != ni*p.NeighborK || len(p.NeighborScores) != ni*p.NeighborK {
		return nil, fmt.Errorf("neighbour matrix sizes %d/%d do not match %d items x %d",
			len(p.NeighborItems), len(p.NeighborScores), ni, p.NeighborK)
	}
	if p.EASEK < 0 || len(p.EASEItems) != ni*p.EASEK || len(p.EASEScores) != ni*p.EASEK {
		return nil, fmt.Errorf("EASE matrix sizes %d/%d do not match %d items x %d",
			len(p.EASEItems), len(p.EASEScores), ni, p.EASEK)
	}
	if len(p.Popularity) != ni {
		return nil, fmt.Errorf("popularity has %d entries, want %d", len(p.Popularity), ni)
	}
	m := &Model{
		meta:     p.Metadata,
		users:    p.Users,
		rank:     p.Rank,
		userF:    p.UserFactors,
		itemFT:   transpose(p.ItemFactors, len(p.Items), p.Rank),
		nbrK:     p.NeighborK,
		nbrItems: p.NeighborItems,
		nbrScore: p.NeighborScores,
		pop:      p.Popularity,
		rec:      p.Recommender,
		queries:  p.Queries,
		blend:    p.Blend,
	}
	m.meta.Users, m.meta.Items = nu, ni
	m.easeK, m.easeItems, m.easeScore = p.EASEK, p.EASEItems, p.EASEScores
	m.items = make([]string, ni)
	m.titles = make([]string, ni)
	m.itemCat = make([]int32, ni)
	catIdx := map[string]int32{}
	for i, it := range p.Items {
		m.items[i], m.titles[i] = it.ID, it.Title
		c, ok := catIdx[it.Category]
		if !ok {
			c = int32(len(m.categories))
			catIdx[it.Category] = c
			m.categories = append(m.categories, it.Category)
		}
		m.itemCat[i] = c
	}
	m.seenPtr = make([]int32, nu+1)
	for u, s := range p.Seen {
		m.seenPtr[u+1] = m.seenPtr[u] + int32(len(s))
	}
	m.seen = make([]int32, 0, m.seenPtr[nu])
	for _, s := range p.Seen {
		if !slices.IsSorted(s) {
			s = slices.Clone(s)
			slices.Sort(s)
		}
		m.seen = append(m.seen, s...)
	}
	if err := m.index(); err != nil {
		return nil, err
	}
	idx, err := buildSearchIndex(m.titles, m.categories, m.itemCat)
	if err != nil {
		return nil, fmt.Errorf("building search index: %w", err)
	}
	m.search = idx
	m.releaseOnCollect()
	return m, nil
}

// index derives the lookup tables shared by New and Load and checks the
// internal consistency of the arrays.
func (m *Model) index() error {
	ni := len(m.items)
	m.userIdx = make(map[string]int32, len(m.users))
	for i, u := range m.users {
		if _, dup := m.userIdx[u]; dup {
			return fmt.Errorf("duplicate user %q", u)
		}
		m.userIdx[u] = int32(i)
	}
	m.itemIdx = make(map[string]int32, ni)
	for i, it := range m.items {
		if _, dup := m.itemIdx[it]; dup {
			return fmt.Errorf("duplicate item %q", it)
		}
		m.itemIdx[it] = int32(i)
	}
	m.catIdx = make(map[string]int32, len(m.categories))
	for i, c := range m.categories {
		m.catIdx[c] = int32(i)
	}
	for _, c := range m.itemCat {
		if c < 0 || int(c) >= len(m.categories) {
			return fmt.Errorf("item category index %d out of range", c)
		}
	}
	for _, v := range m.seen {
		if v < 0 || int(v) >= ni {
			return fmt.Errorf("seen item index %d out of range", v)
		}
	}
	if len(m.seenPtr) != len(m.users)+1 || m.seenPtr[0] != 0 {
		return errors.New("seen offsets do not match the users")
	}
	for u := 0; u < len(m.users); u++ {
		if m.seenPtr[u] > m.seenPtr[u+1] || int(m.seenPtr[u+1]) > len(m.seen) {
			return errors.New("seen offsets are not monotonic")
		}
		// Recommend's exclusion scan relies on sorted lists.
		if !slices.IsSorted(m.seen[m.seenPtr[u]:m.seenPtr[u+1]]) {
			return fmt.Errorf("seen items of user %q are not sorted", m.users[u])
		}
	}
	for _, v := range m.nbrItems {
		if v < -1 || int(v) >= ni {
			return fmt.Errorf("neighbour index %d out of range", v)
		}
	}
	for _, v := range m.easeItems {
		if v < -1 || int(v) >= ni {
			return fmt.Errorf("EASE item index %d out of range", v)
		}
	}
	if m.rec == "" {
		m.rec = RecommenderALS
	}
	if !slices.Contains(m.Recommenders(), m.rec) {
		return fmt.Errorf("recommender %q is not in the model (have %s)", m.rec, strings.Join(m.Recommenders(), ", "))
	}
	var maxPop float32
	for _, p := range m.pop {
		maxPop = max(maxPop, p)
	}
	m.popNorm = make([]float32, ni)
	if maxPop > 0 {
		den := math.Log1p(float64(maxPop))
		for i, p := range m.pop {
			m.popNorm[i] = float32(math.Log1p(float64(max(p, 0))) / den)
		}
	}
	m.popOrder = make([]int32, ni)
	for i := range m.popOrder {
		m.popOrder[i] = int32(i)
	}
	slices.SortFunc(m.popOrder, func(a, b int32) int {
		if m.pop[a] != m.pop[b] {
			if m.pop[a] > m.pop[b] {
				return -1
			}
			return 1
		}
		return int(a - b)
	})
	m.catOrder = make([][]int32, len(m.categories))
	for _, i := range m.popOrder {
		c := m.itemCat[i]
		m.catOrder[c] = append(m.catOrder[c], i)
	}
	if m.blend.Candidates <= 0 {
		m.blend.Candidates = DefaultBlend().Candidates
	}
	n := ni
	m.scratch.New = func() any { s := make([]float32, n); return &s }
	return nil
}

// releaseOnCollect closes the search index once the model is unreachable,
// so a server that swaps models on hot reload need not track readers.
func (m *Model) releaseOnCollect() {
	runtime.AddCleanup(m, func(s *searchIndex) { _ = s.close() }, m.search)
}

// Metadata returns a copy of the model's metadata.
func (m *Model) Metadata() Metadata {
	md := m.meta
	md.Metrics = cloneMap(m.meta.Metrics)
	md.Params = cloneMap(m.meta.Params)
	return md
}

func cloneMap[V any](in map[string]V) map[string]V {
	if in == nil {
		return nil
	}
	out := make(map[string]V, len(in))
	for k, v := range in {
		out[k] = v
	}
	return out
}

// KnownUser reports whether the user was part of the training data.
func (m *Model) KnownUser(user string) bool {
	_, ok := m.userIdx[user]
	return ok
}

// KnownItem reports whether the item is part of the catalogue.
func (m *Model) KnownItem(item string) bool {
	_, ok := m.itemIdx[item]
	return ok
}

// Categories returns the catalogue's categories in first-seen order.
func (m *Model) Categories() []string {
	return slices.Clone(m.categories)
}

// result builds the Result for item index i.
func (m *Model) result(i int32, score float64) Result {
	return Result{Item: m.items[i], Title: m.titles[i], Category: m.categories[m.itemCat[i]], Score: score}
}

// userVec returns user u's factor row.
func (m *Model) userVec(u int32) []float32 {
	return m.userF[int(u)*m.rank : int(u+1)*m.rank]
}

// Similar returns the item-kNN neighbours of item, best first.
func (m *Model) Similar(item string, k int) ([]Result, error) {
	i, ok := m.itemIdx[item]
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrUnknownItem, item)
	}
	if k <= 0 {
		return []Result{}, nil
	}
	row := int(i) * m.nbrK
	out := make([]Result, 0, min(k, m.nbrK))
	for j := 0; j < m.nbrK && len(out) < k; j++ {
		n := m.nbrItems[row+j]
		if n < 0 {
			break
		}
		out = append(out, m.result(n, float64(m.nbrScore[row+j])))
	}
	return out, nil
}

// Popular returns the k most popular items overall (category "") or within a
// category. An unknown category yields no results.
func (m *Model) Popular(category string, k int) []Result {
	order := m.popOrder
	if category != "" {
		c, ok := m.catIdx[category]
		if !ok {
			return []Result{}
		}
		order = m.catOrder[c]
	}
	k = max(0, min(k, len(order)))
	out := make([]Result, k)
	for j, i := range order[:k] {
		out[j] = m.result(i, float64(m.pop[i]))
	}
	return out
}

// PopularitySnapshot returns a small, self-contained top-N popularity list the
// server can persist and serve as a degraded fallback when no model loads.
func (m *Model) PopularitySnapshot(n int) []Result {
	return m.Popular("", n)
}

// Sample returns up to n users, items and queries chosen deterministically
// (the same model always yields the same samples) for load generators. Items
// are drawn in proportion to popularity so that generated traffic is as
// skewed as real traffic.
func (m *Model) Sample(n int) (users, items, queries []string) {
	if n <= 0 {
		return nil, nil, nil
	}
	r := rand.New(rand.NewPCG(0x5eed, uint64(len(m.users))<<32|uint64(len(m.items))))
	for _, j := range r.Perm(len(m.users))[:min(n, len(m.users))] {
		users = append(users, m.users[j])
	}
	cum := make([]float64, len(m.pop))
	var total float64
	for i, p := range m.pop {
		total += float64(max(p, 0)) + 1e-9
		cum[i] = total
	}
	for range min(n, len(m.items)) {
		x := r.Float64() * total
		j, _ := slices.BinarySearch(cum, x)
		items = append(items, m.items[min(j, len(m.items)-1)])
	}
	if len(m.queries) > 0 {
		for range n {
			queries = append(queries, m.queries[r.IntN(len(m.queries))])
		}
	}
	return users, items, queries
}
