package model

import (
	"fmt"
	"slices"
	"strings"

	"github.com/firedrill/firedrill/pkg/recommender/topk"
)

// What Recommend can rank by.
const (
	// RecommenderALS ranks by the ALS factor model's score.
	RecommenderALS = "als"
	// RecommenderItemKNN ranks by the summed item-kNN similarities of the
	// user's items.
	RecommenderItemKNN = "itemknn"
	// RecommenderEASE ranks by the summed EASE weights of the user's items.
	RecommenderEASE = "ease"
	// RecommenderPopularity ranks by popularity.
	RecommenderPopularity = "popularity"
	// RecommenderAuto is the artifact's own choice, made at training time by
	// validation NDCG.
	RecommenderAuto = "auto"
)

// Recommenders lists what this model can rank by.
func (m *Model) Recommenders() []string {
	out := []string{RecommenderALS, RecommenderItemKNN}
	if m.easeK > 0 {
		out = append(out, RecommenderEASE)
	}
	return append(out, RecommenderPopularity)
}

// Recommender is what Recommend ranks by.
func (m *Model) Recommender() string { return m.rec }

// LoadOptions configure LoadWith.
type LoadOptions struct {
	// Recommender overrides what Recommend ranks by; "" and RecommenderAuto
	// keep the artifact's choice.
	Recommender string
}

// LoadWith is Load with options. Asking for a recommender the artifact
// lacks is an error.
func LoadWith(dir string, opts LoadOptions) (*Model, error) {
	m, err := Load(dir)
	if err != nil {
		return nil, err
	}
	if r := opts.Recommender; r != "" && r != RecommenderAuto {
		if !slices.Contains(m.Recommenders(), r) {
			return nil, fmt.Errorf("recommender %q is not in the model %s (have %s, or auto)", r, dir, strings.Join(m.Recommenders(), ", "))
		}
		m.rec = r
	}
	return m, nil
}

// Recommend returns the top k items for a known user by the model's
// recommender (see Recommender), excluding items the user interacted with in
// training. An unknown user gets the global popularity ranking.
func (m *Model) Recommend(user string, k int) []Result {
	if k <= 0 {
		return []Result{}
	}
	u, ok := m.userIdx[user]
	if !ok || m.rec == RecommenderPopularity {
		return m.Popular("", k)
	}
	top := m.recommend(u, k)
	out := make([]Result, len(top))
	for j, c := range top {
		out[j] = m.result(c.Idx, float64(c.Score))
	}
	return out
}

// recommend is the exact top-k scan for user index u.
func (m *Model) recommend(u int32, k int) []topk.Item {
	sp := m.scratch.Get().(*[]float32)
	defer m.scratch.Put(sp)
	scores := *sp
	seen := m.seen[m.seenPtr[u]:m.seenPtr[u+1]]
	switch m.rec {
	case RecommenderItemKNN:
		m.scoreLists(seen, m.nbrK, m.nbrItems, m.nbrScore, scores)
	case RecommenderEASE:
		m.scoreLists(seen, m.easeK, m.easeItems, m.easeScore, scores)
	default:
		m.scoreAll(u, scores)
	}
	h := topk.New(k)
	next := 0
	for i, s := range scores {
		if next < len(seen) && seen[next] == int32(i) {
			next++
			for next < len(seen) && seen[next] == int32(i) {
				next++
			}
			continue
		}
		h.Push(topk.Item{Score: s, Idx: int32(i)})
	}
	return h.Sorted()
}

// scoreLists scores every item by the summed list weights of the user's
// seen items, with popularity as a tie-breaker far below any weight, as the
// evaluation does.
func (m *Model) scoreLists(seen []int32, k int, items []int32, weights []float32, out []float32) {
	var maxPop float32 = 1
	for _, p := range m.pop {
		maxPop = max(maxPop, p)
	}
	for i, p := range m.pop {
		out[i] = 1e-6 * p / maxPop
	}
	for _, i := range seen {
		row := int(i) * k
		for j := range k {
			n := items[row+j]
			if n < 0 {
				break
			}
			out[n] += weights[row+j]
		}
	}
}
