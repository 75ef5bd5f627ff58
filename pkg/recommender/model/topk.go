package model

import "slices"

// cand is a scored item index.
type cand struct {
	score float32
	idx   int32
}

// better reports whether a ranks before b: higher score first, then lower
// index, so rankings are total and reproducible.
func better(a, b cand) bool {
	return a.score > b.score || (a.score == b.score && a.idx < b.idx)
}

// topK is a fixed-capacity min-heap whose root is the worst kept candidate.
type topK struct {
	h []cand
	k int
}

func newTopK(k int) *topK {
	return &topK{h: make([]cand, 0, k), k: k}
}

// push offers c; it is kept if fewer than k are held or it beats the worst.
func (t *topK) push(c cand) {
	if len(t.h) < t.k {
		t.h = append(t.h, c)
		// sift up
		i := len(t.h) - 1
		for i > 0 {
			p := (i - 1) / 2
			if !better(t.h[p], t.h[i]) {
				break
			}
			t.h[p], t.h[i] = t.h[i], t.h[p]
			i = p
		}
		return
	}
	if !better(c, t.h[0]) {
		return
	}
	t.h[0] = c
	t.down(0)
}

func (t *topK) down(i int) {
	n := len(t.h)
	for {
		l := 2*i + 1
		if l >= n {
			return
		}
		w := l // the worse child
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

// sorted returns the kept candidates best first. The heap is consumed.
func (t *topK) sorted() []cand {
	slices.SortFunc(t.h, func(a, b cand) int {
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
