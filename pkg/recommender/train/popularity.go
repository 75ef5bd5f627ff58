package train

// Popularity scores each item by the number of distinct users who
// interacted with it. Per-category rankings are derived from it by the
// model, which knows each item's category.
func Popularity(m *Matrix) []float32 {
	pop := make([]float32, m.Items)
	for i := range m.Items {
		pop[i] = float32(m.ColPtr[i+1] - m.ColPtr[i])
	}
	return pop
}
