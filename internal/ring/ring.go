// Package ring is a bounded FIFO for the fakes' stores and journals.
package ring

// Ring is a bounded FIFO: pushing beyond the limit drops the oldest item, so a long load cannot eat the memory.
type Ring[T any] struct {
	items   []T
	start   int // index of the oldest item
	n       int
	limit   int
	dropped uint64 // items evicted since the last Clear
}

// New makes a ring that holds at most limit items (at least 1).
func New[T any](limit int) *Ring[T] {
	if limit < 1 {
		limit = 1
	}
	return &Ring[T]{limit: limit}
}

// Push adds an item, dropping the oldest when the ring is full.
func (r *Ring[T]) Push(v T) {
	if r.n < r.limit {
		if len(r.items) < r.limit && r.start == 0 && r.n == len(r.items) {
			r.items = append(r.items, v)
			r.n++
			return
		}
		r.items[(r.start+r.n)%len(r.items)] = v
		r.n++
		return
	}
	r.items[r.start] = v
	r.start = (r.start + 1) % len(r.items)
	r.dropped++
}

// Each visits items oldest first until fn returns false.
func (r *Ring[T]) Each(fn func(*T) bool) {
	for i := 0; i < r.n; i++ {
		if !fn(&r.items[(r.start+i)%len(r.items)]) {
			return
		}
	}
}

// EachNewest calls fn for each item, newest first, until fn returns false.
func (r *Ring[T]) EachNewest(fn func(*T) bool) {
	for i := r.n - 1; i >= 0; i-- {
		if !fn(&r.items[(r.start+i)%len(r.items)]) {
			return
		}
	}
}

// Len is the number of items held.
func (r *Ring[T]) Len() int { return r.n }

// Dropped counts the items evicted since the last Clear.
func (r *Ring[T]) Dropped() uint64 { return r.dropped }

// Clear empties the ring.
func (r *Ring[T]) Clear() {
	r.items = nil
	r.start, r.n, r.dropped = 0, 0, 0
}
