package train

import "slices"

// scored is an item index with a score.
type scored struct {
	idx   int32
	score float32
}

// better orders by score, then by lower index, for reproducible rankings.
func better(a, b scored) bool {
	return a.score > b.score || (a.score == b.score && a.idx < b.idx)
}

// topK keeps the best k entries in a min-heap (root = worst kept).
type topK struct {
	h []scored
	k int
}

func (t *topK) reset(k int) {
	t.h, t.k = t.h[:0], k
}

func (t *topK) push(c scored) {
	if len(t.h) < t.k {
		t.h = append(t.h, c)
		for i := len(t.h) - 1; i > 0; {
			p := (i - 1) / 2
			if !better(t.h[p], t.h[i]) {
				break
			}
			t.h[p], t.h[i] = t.h[i], t.h[p]
			i = p
		}
		return
	}
	if t.k == 0 || !better(c, t.h[0]) {
		return
	}
	t.h[0] = c
	for i, n := 0, len(t.h); ; {
		l := 2*i + 1
		if l >= n {
			return
		}
		w := l
		if r := l + 1; r < n && better(t.h[l], t.h[r]) {
			w = r
		}
		if !better(t.h[i], t.h[w]) {
			return
		}
		t.h[i], t.h[w] = t.h[w], t.h[i]
		i = w
	}
}

// sorted returns the kept entries best first; the heap is consumed.
func (t *topK) sorted() []scored {
	slices.SortFunc(t.h, func(a, b scored) int {
		if better(a, b) {
			return -1
		}
		if better(b, a) {
			return 1
		}
		return 0
	})
	return t.h
}
