package topk

import (
	"math/rand/v2"
	"sort"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestTopKIsExactWithTies(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	var reused Heap
	for n := range 200 {
		scores := make([]float32, n)
		for i := range scores {
			scores[i] = float32(r.IntN(5)) // many ties
		}
		for _, k := range []int{0, 1, 3, 10, 300} {
			idx := make([]int, n)
			for i := range idx {
				idx[i] = i
			}
			sort.SliceStable(idx, func(a, b int) bool { return scores[idx[a]] > scores[idx[b]] })
			want := idx[:min(k, n)]

			h := New(k)
			reused.Reset(k)
			for i, s := range scores {
				h.Push(Item{Score: s, Idx: int32(i)})
				reused.Push(Item{Score: s, Idx: int32(i)})
			}
			for _, got := range [][]Item{h.Sorted(), reused.Sorted()} {
				require.Len(t, got, len(want))
				for j := range want {
					require.Equal(t, int32(want[j]), got[j].Idx, "n %d k %d rank %d", n, k, j)
				}
			}
		}
	}
}
