package train

import (
	"slices"

	"github.com/firedrill/firedrill/pkg/recommender/data"
)

// Matrix is a sparse user x item matrix of aggregated interaction weights,
// stored both by row (user) and by column (item). Column indices within a
// row, and row indices within a column, are sorted.
type Matrix struct {
	// Users and Items are the matrix dimensions.
	Users, Items int
	// RowPtr has Users+1 offsets into RowItems and RowVals.
	RowPtr []int64
	// RowItems are the item indices of each row.
	RowItems []int32
	// RowVals are the summed weights of each row entry.
	RowVals []float32
	// ColPtr has Items+1 offsets into ColUsers and ColVals.
	ColPtr []int64
	// ColUsers are the user indices of each column.
	ColUsers []int32
	// ColVals are the summed weights of each column entry.
	ColVals []float32
}

// NewMatrix aggregates interactions into a Matrix: repeated (user, item)
// pairs sum their weights. keep, if not nil, selects which interactions to
// use.
func NewMatrix(users, items int, ints []data.Interaction, keep func(i int) bool) *Matrix {
	m := &Matrix{Users: users, Items: items}
	// Counting sort by user, then sort each row by item and merge duplicates.
	cnt := make([]int64, users+1)
	for n, in := range ints {
		if keep == nil || keep(n) {
			cnt[in.User+1]++
		}
	}
	for u := range users {
		cnt[u+1] += cnt[u]
	}
	type entry struct {
		item int32
		w    float32
	}
	tmp := make([]entry, cnt[users])
	pos := slices.Clone(cnt[:users])
	for n, in := range ints {
		if keep == nil || keep(n) {
			tmp[pos[in.User]] = entry{in.Item, in.Weight}
			pos[in.User]++
		}
	}
	m.RowPtr = make([]int64, users+1)
	m.RowItems = make([]int32, 0, len(tmp))
	m.RowVals = make([]float32, 0, len(tmp))
	for u := range users {
		row := tmp[cnt[u]:cnt[u+1]]
		slices.SortFunc(row, func(a, b entry) int { return int(a.item - b.item) })
		for j, e := range row {
			if j > 0 && row[j-1].item == e.item {
				m.RowVals[len(m.RowVals)-1] += e.w
				continue
			}
			m.RowItems = append(m.RowItems, e.item)
			m.RowVals = append(m.RowVals, e.w)
		}
		m.RowPtr[u+1] = int64(len(m.RowItems))
	}
	m.transpose()
	return m
}

// transpose fills the column view from the row view.
func (m *Matrix) transpose() {
	m.ColPtr = make([]int64, m.Items+1)
	for _, i := range m.RowItems {
		m.ColPtr[i+1]++
	}
	for i := range m.Items {
		m.ColPtr[i+1] += m.ColPtr[i]
	}
	pos := slices.Clone(m.ColPtr[:m.Items])
	m.ColUsers = make([]int32, len(m.RowItems))
	m.ColVals = make([]float32, len(m.RowItems))
	for u := range m.Users {
		for p := m.RowPtr[u]; p < m.RowPtr[u+1]; p++ {
			i := m.RowItems[p]
			m.ColUsers[pos[i]] = int32(u)
			m.ColVals[pos[i]] = m.RowVals[p]
			pos[i]++
		}
	}
}

// Row returns user u's item indices and weights.
func (m *Matrix) Row(u int) ([]int32, []float32) {
	return m.RowItems[m.RowPtr[u]:m.RowPtr[u+1]], m.RowVals[m.RowPtr[u]:m.RowPtr[u+1]]
}

// Col returns item i's user indices and weights.
func (m *Matrix) Col(i int) ([]int32, []float32) {
	return m.ColUsers[m.ColPtr[i]:m.ColPtr[i+1]], m.ColVals[m.ColPtr[i]:m.ColPtr[i+1]]
}

// NNZ is the number of stored (user, item) pairs.
func (m *Matrix) NNZ() int { return len(m.RowItems) }

// Filter returns a new matrix with the entries of m for which keep is true.
func (m *Matrix) Filter(keep func(u, i int32) bool) *Matrix {
	out := &Matrix{Users: m.Users, Items: m.Items, RowPtr: make([]int64, m.Users+1)}
	for u := range m.Users {
		for p := m.RowPtr[u]; p < m.RowPtr[u+1]; p++ {
			if keep(int32(u), m.RowItems[p]) {
				out.RowItems = append(out.RowItems, m.RowItems[p])
				out.RowVals = append(out.RowVals, m.RowVals[p])
			}
		}
		out.RowPtr[u+1] = int64(len(out.RowItems))
	}
	out.transpose()
	return out
}
