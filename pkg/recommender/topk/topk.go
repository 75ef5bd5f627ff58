package topk

import "slices"

// Item is a scored item index.
type Item struct {
	Score float32
	Idx   int32
}

// Better reports whether a ranks before b: higher score first, then lower
// index.
func Better(a, b Item) bool {
	return a.Score > b.Score || (a.Score == b.Score && a.Idx < b.Idx)
}

// Heap keeps the best k items in a min-heap whose root is the worst kept
// item. The zero value keeps nothing until Reset.
type Heap struct {
	h []Item
	k int
}

// New returns a heap that keeps the best k items.
func New(k int) *Heap {
	return &Heap{h: make([]Item, 0, k), k: k}
}

// Reset empties the heap, keeping its storage, to keep the best k items.
func (t *Heap) Reset(k int) {
	t.h, t.k = t.h[:0], k
}

// Push offers c; it is kept if fewer than k are held or it beats the
// worst kept item.
func (t *Heap) Push(c Item) {
	if len(t.h) < t.k {
		t.h = append(t.h, c)
		for i := len(t.h) - 1; i > 0; {
			p := (i - 1) / 2
			if !Better(t.h[p], t.h[i]) {
				break
			}
			t.h[p], t.h[i] = t.h[i], t.h[p]
			i = p
		}
		return
	}
	if t.k == 0 || !Better(c, t.h[0]) {
		return
	}
	t.h[0] = c
	for i, n := 0, len(t.h); ; {
		l := 2*i + 1
		if l >= n {
			return
		}
		w := l // the worse child
		if r := l + 1; r < n && Better(t.h[l], t.h[r]) {
			w = r
		}
		if !Better(t.h[i], t.h[w]) {
			return
		}
		t.h[i], t.h[w] = t.h[w], t.h[i]
		i = w
	}
}

// Sorted returns the kept items best first. The heap is consumed.
func (t *Heap) Sorted() []Item {
	slices.SortFunc(t.h, func(a, b Item) int {
		if Better(a, b) {
			return -1
		}
		if Better(b, a) {
			return 1
		}
		return 0
	})
	return t.h
}
