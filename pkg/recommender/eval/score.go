package eval

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
	"sync/atomic"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas32"

	"github.com/firedrill/firedrill/pkg/recommender/train"
)

// Scorer fills scores with user u's score for every item.
type Scorer func(u int32, scores []float32)

// PopularityScorer scores every user by item popularity.
func PopularityScorer(pop []float32) Scorer {
	return func(_ int32, s []float32) { copy(s, pop) }
}

// ListScorer scores user u by summing, over u's items in m, the weights of
// their neighbour lists (item-kNN similarities or EASE weights), with
// popularity as a tie-breaker far below any weight so unscored items fall
// back to popularity.
func ListScorer(m *train.Matrix, nb *train.Neighbors, pop []float32) Scorer {
	var maxPop float32
	for _, p := range pop {
		maxPop = max(maxPop, p)
	}
	popNorm := make([]float32, len(pop))
	for i, p := range pop {
		popNorm[i] = p / max(maxPop, 1)
	}
	return func(u int32, s []float32) {
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
	}
}

// ALSScorer scores user u by the dot product of factors.
func ALSScorer(f *train.Factors, items int) Scorer {
	return func(u int32, s []float32) {
		a := blas32.General{Rows: items, Cols: f.Rank, Stride: f.Rank, Data: f.Items}
		x := blas32.Vector{N: f.Rank, Inc: 1, Data: f.Users[int(u)*f.Rank : int(u+1)*f.Rank]}
		blas32.Gemv(blas.NoTrans, 1, a, x, 0, blas32.Vector{N: items, Inc: 1, Data: s})
	}
}

// Score ranks the full catalogue with fn for every evaluated user of f,
// excluding the user's training items, and returns the mean NDCG@K and
// Recall@K (opts.K, default 10; opts.Workers goroutines).
func Score(ctx context.Context, f *Fold, fn Scorer, opts Options) (ndcg, recall float64, err error) {
	if opts.K == 0 {
		opts.K = 10
	}
	if opts.Workers <= 0 {
		opts.Workers = 1
	}
	if len(f.Users) == 0 {
		return 0, 0, errors.New("no users to evaluate")
	}
	return score(ctx, f, fn, opts)
}

// score ranks the full catalogue for every evaluated user and averages
// NDCG@K and Recall@K.
func score(ctx context.Context, sp *Fold, fn Scorer, opts Options) (float64, float64, error) {
	m := sp.Train
	k := opts.K
	var next atomic.Int64
	var wg sync.WaitGroup
	ndcgs := make([]float64, len(sp.Users))
	recalls := make([]float64, len(sp.Users))
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
				if j >= len(sp.Users) || ctx.Err() != nil {
					return
				}
				u := sp.Users[j]
				fn(u, scores)
				trainItems, _ := m.Row(int(u))
				top = TopK(scores, trainItems, k, top[:0])
				test := sp.Test[j]
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
