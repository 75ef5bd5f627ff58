package train

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
	"gonum.org/v1/gonum/mat"
)

// bruteEASE computes B = I − P·diag(1/diag P), P = (XᵀX + λI)⁻¹ over the
// given items with a general dense inverse.
func bruteEASE(t *testing.T, m *Matrix, items []int32, lambda float64) *mat.Dense {
	t.Helper()
	n := len(items)
	pos := map[int32]int{}
	for j, i := range items {
		pos[i] = j
	}
	x := mat.NewDense(m.Users, n, nil)
	for u := range m.Users {
		row, _ := m.Row(u)
		for _, i := range row {
			if j, ok := pos[i]; ok {
				x.Set(u, j, 1)
			}
		}
	}
	var g mat.Dense
	g.Mul(x.T(), x)
	for j := range n {
		g.Set(j, j, g.At(j, j)+lambda)
	}
	var p mat.Dense
	require.NoError(t, p.Inverse(&g))
	b := mat.NewDense(n, n, nil)
	for i := range n {
		for j := range n {
			if i != j {
				b.Set(i, j, -p.At(i, j)/p.At(j, j))
			}
		}
	}
	return b
}

func TestEASEMatchesTheClosedForm(t *testing.T) {
	tests := []struct {
		name         string
		users, items int
	}{
		{"more users than items (item Gram inverse)", 70, 25},
		{"fewer users than items (Woodbury, user Gram inverse)", 20, 45},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := randomMatrix(tt.users, tt.items, 0.2, 5)
			items, shape := easeItems(m, 1000)
			require.Equal(t, min(tt.users, len(items)), shape.Dim())
			const lambda = 3
			want := bruteEASE(t, m, items, lambda)
			nb, err := EASE(context.Background(), m, EASEOptions{Lambda: lambda, K: 1000, Workers: 2})
			require.NoError(t, err)
			require.Equal(t, len(items)-1, nb.K, "every weight but the diagonal is kept")
			for a, i := range items {
				got := map[int32]float32{}
				for c := range nb.K {
					if j := nb.Items[int(i)*nb.K+c]; j >= 0 {
						got[j] = nb.Scores[int(i)*nb.K+c]
						if c > 0 {
							require.GreaterOrEqual(t, nb.Scores[int(i)*nb.K+c-1], nb.Scores[int(i)*nb.K+c], "best first")
						}
					}
				}
				require.Len(t, got, len(items)-1)
				for b, j := range items {
					if a != b {
						require.InDelta(t, want.At(a, b), float64(got[j]), 1e-5, "B[%d][%d]", i, j)
					}
				}
			}
		})
	}
}

func TestEASEKeepsTheMostPopularItems(t *testing.T) {
	m := randomMatrix(50, 30, 0.2, 7)
	items, shape := easeItems(m, 10)
	require.Len(t, items, 10)
	require.Equal(t, 10, shape.Items)
	pop := Popularity(m)
	var minKept float32 = 1e9
	in := map[int32]bool{}
	for _, i := range items {
		in[i] = true
		minKept = min(minKept, pop[i])
	}
	for i := range m.Items {
		if !in[int32(i)] {
			require.LessOrEqual(t, pop[i], minKept, "item %d is more popular than a kept one", i)
		}
	}
	nb, err := EASE(context.Background(), m, EASEOptions{MaxItems: 10, K: 3})
	require.NoError(t, err)
	require.Equal(t, 3, nb.K)
	for i := range m.Items {
		for c := range nb.K {
			j := nb.Items[i*nb.K+c]
			if !in[int32(i)] {
				require.Equal(t, int32(-1), j, "item %d is not modelled", i)
				continue
			}
			require.True(t, in[j], "neighbour %d of %d is modelled", j, i)
		}
	}
}

func TestEASEEnabled(t *testing.T) {
	tests := []struct {
		name  string
		mode  Mode
		shape EASEShape
		want  bool
	}{
		{"auto with few users", ModeAuto, EASEShape{Items: 9000, Users: 600}, true},
		{"auto with few items", ModeAuto, EASEShape{Items: 2000, Users: 50000}, true},
		{"auto with many of both", ModeAuto, EASEShape{Items: 20000, Users: 50000}, false},
		{"the zero mode is auto", "", EASEShape{Items: 100, Users: 100}, true},
		{"on with many of both", ModeOn, EASEShape{Items: 20000, Users: 50000}, true},
		{"on with one item", ModeOn, EASEShape{Items: 1, Users: 10}, false},
		{"off", ModeOff, EASEShape{Items: 10, Users: 10}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, EASEOptions{Mode: tt.mode}.Enabled(tt.shape))
		})
	}
}

func TestEASEOptionsValidation(t *testing.T) {
	tests := []struct {
		name string
		opts EASEOptions
		want string
	}{
		{"an unknown mode", EASEOptions{Mode: "sometimes"}, `ease mode must be auto, on or off, got "sometimes"`},
		{"a negative lambda", EASEOptions{Lambda: -1}, "ease lambda must be positive"},
		{"too many items", EASEOptions{MaxItems: 60_000}, "ease max items must be in [1,50000]"},
		{"too many weights", EASEOptions{K: 6000}, "ease weights per item must be in [1,5000]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.ErrorContains(t, tt.opts.withDefaults().Validate(), tt.want)
		})
	}
}
