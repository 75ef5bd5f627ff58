package train

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"sync/atomic"

	"github.com/firedrill/firedrill/pkg/recommender/topk"
)

// KNNOptions configure ItemKNN.
type KNNOptions struct {
	// K is the number of neighbours kept per item. Default 50.
	K int
	// Shrink is added to the cosine denominator to damp similarities
	// supported by few users (Koren's shrinkage). Default 10.
	Shrink float64
	// Workers is the number of goroutines. Default 1.
	Workers int
}

func (o KNNOptions) withDefaults() KNNOptions {
	if o.K == 0 {
		o.K = 50
	}
	if o.Shrink == 0 {
		o.Shrink = 10
	}
	if o.Workers <= 0 {
		o.Workers = 1
	}
	return o
}

// Validate reports invalid options.
func (o KNNOptions) Validate() error {
	var errs []error
	if o.K < 0 || o.K > 1000 {
		errs = append(errs, fmt.Errorf("neighbours must be in [1,1000], got %d", o.K))
	}
	if o.Shrink < 0 {
		errs = append(errs, fmt.Errorf("shrink must not be negative, got %g", o.Shrink))
	}
	return errors.Join(errs...)
}

// Neighbors are the item-kNN lists: row-major Items x K, best first, padded
// with index -1 and score 0.
type Neighbors struct {
	// K is the row length.
	K int
	// Items holds neighbour indices.
	Items []int32
	// Scores holds each neighbour's weight: the shrunk cosine similarity
	// for item-kNN, the EASE weight for EASE.
	Scores []float32
}

// ItemKNN computes, for every item, its K most similar items by cosine
// similarity of their user vectors (entries log(1+weight)), shrunk by
// |common|-independent damping: sim = dot / (|a||b| + shrink).
func ItemKNN(ctx context.Context, m *Matrix, opts KNNOptions) (*Neighbors, error) {
	opts = opts.withDefaults()
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	k := opts.K
	vals := make([]float32, len(m.RowVals))
	for p, w := range m.RowVals {
		vals[p] = float32(math.Log1p(float64(w)))
	}
	norm := make([]float32, m.Items)
	for u := range m.Users {
		for p := m.RowPtr[u]; p < m.RowPtr[u+1]; p++ {
			norm[m.RowItems[p]] += vals[p] * vals[p]
		}
	}
	for i := range norm {
		norm[i] = float32(math.Sqrt(float64(norm[i])))
	}
	// Column values in log space, aligned with ColUsers.
	colVals := make([]float32, len(m.ColVals))
	for p, w := range m.ColVals {
		colVals[p] = float32(math.Log1p(float64(w)))
	}
	nb := &Neighbors{K: k, Items: make([]int32, m.Items*k), Scores: make([]float32, m.Items*k)}
	for p := range nb.Items {
		nb.Items[p] = -1
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	shrink := float32(opts.Shrink)
	for range opts.Workers {
		wg.Go(func() {
			acc := make([]float32, m.Items)
			touched := make([]int32, 0, 1024)
			var h topk.Heap
			for {
				i := int(next.Add(1) - 1)
				if i >= m.Items || ctx.Err() != nil {
					return
				}
				touched = touched[:0]
				for p := m.ColPtr[i]; p < m.ColPtr[i+1]; p++ {
					u, vi := m.ColUsers[p], colVals[p]
					for q := m.RowPtr[u]; q < m.RowPtr[u+1]; q++ {
						j := m.RowItems[q]
						if int(j) == i {
							continue
						}
						if acc[j] == 0 {
							touched = append(touched, j)
						}
						acc[j] += vi * vals[q]
					}
				}
				h.Reset(k)
				for _, j := range touched {
					s := acc[j] / (norm[i]*norm[j] + shrink)
					acc[j] = 0
					h.Push(topk.Item{Idx: j, Score: s})
				}
				for r, c := range h.Sorted() {
					nb.Items[i*k+r] = c.Idx
					nb.Scores[i*k+r] = c.Score
				}
			}
		})
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("item-kNN: %w", err)
	}
	return nb, nil
}
