package model

import (
	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas32"
)

// scoreAll writes the ALS score of every item for user u into out with one
// float32 matrix-vector product over the transposed (rank x items) item
// factors: rank SIMD axpy passes over contiguous rows of 20k floats are about
// a third cheaper than 20k short dot products. Each score is accumulated
// factor by factor in float32, exactly as a plain loop would.
func (m *Model) scoreAll(u int32, out []float32) {
	a := blas32.General{Rows: m.rank, Cols: len(m.items), Stride: len(m.items), Data: m.itemFT}
	x := blas32.Vector{N: m.rank, Inc: 1, Data: m.userVec(u)}
	y := blas32.Vector{N: len(m.items), Inc: 1, Data: out}
	blas32.Gemv(blas.Trans, 1, a, x, 0, y)
}

// itemScore is the ALS score of item i for user vector uv, summed in the
// same order as scoreAll.
func (m *Model) itemScore(uv []float32, i int32) float32 {
	n := len(m.items)
	var s float32
	for j, x := range uv {
		s += x * m.itemFT[j*n+int(i)]
	}
	return s
}

// transpose returns the cols x rows transpose of a row-major rows x cols
// matrix.
func transpose(a []float32, rows, cols int) []float32 {
	t := make([]float32, len(a))
	for i := range rows {
		row := a[i*cols : (i+1)*cols]
		for j, v := range row {
			t[j*rows+i] = v
		}
	}
	return t
}
