// Package ring is a bounded FIFO for the fakes' stores and journals.
package ring

// Ring is a bounded FIFO: pushing beyond the limit drops the oldest item, so a long load cannot eat the memory.
// With a byte budget (Budget) it also drops the oldest while the items' sizes add up to more than the budget: a
// count of entries alone does not bound memory when one entry can be a megabyte.
type Ring[T any] struct {
	items   []T
	sizes   []int // the size of each item, by slot, when there is a budget
	start   int   // index of the oldest item
	n       int
	limit   int
	dropped uint64 // items evicted since the last Clear

	budget int64
	bytes  int64
	size   func(*T) int
}

// New makes a ring that holds at most limit items (at least 1).
func New[T any](limit int) *Ring[T] {
	if limit < 1 {
		limit = 1
	}
	return &Ring[T]{limit: limit}
}

// Budget bounds the items' total size as size measures it (maxBytes <= 0: no bound). Set it before the first Push.
// The newest item is always kept, even alone over the budget.
func (r *Ring[T]) Budget(maxBytes int64, size func(*T) int) *Ring[T] {
	r.budget, r.size = maxBytes, size
	return r
}

// Push adds an item, dropping the oldest while the ring is full or over its budget.
func (r *Ring[T]) Push(v T) {
	s := 0
	if r.budget > 0 {
		s = r.size(&v)
		for r.n > 0 && r.bytes+int64(s) > r.budget {
			r.dropOldest()
		}
	}
	if r.n == r.limit {
		r.dropOldest()
	}
	if r.n == len(r.items) { // no free slot: grow (after a wrap, with the oldest first again)
		if r.start != 0 {
			r.items, r.sizes, r.start = r.linear(), r.linearSizes(), 0
		}
		r.items = append(r.items, v)
		if r.budget > 0 {
			r.sizes = append(r.sizes, s)
		}
	} else {
		i := (r.start + r.n) % len(r.items)
		r.items[i] = v
		if r.sizes != nil {
			r.sizes[i] = s
		}
	}
	r.n++
	r.bytes += int64(s)
}

func (r *Ring[T]) dropOldest() {
	var zero T
	r.items[r.start] = zero // let the item's memory go
	if r.sizes != nil {
		r.bytes -= int64(r.sizes[r.start])
		r.sizes[r.start] = 0
	}
	r.start = (r.start + 1) % len(r.items)
	r.n--
	r.dropped++
}

// linear is the held items, oldest first, in a new slice with room to grow.
func (r *Ring[T]) linear() []T {
	out := make([]T, 0, min(2*r.n+1, r.limit))
	r.Each(func(v *T) bool { out = append(out, *v); return true })
	return out
}

func (r *Ring[T]) linearSizes() []int {
	if r.budget <= 0 {
		return nil
	}
	out := make([]int, 0, min(2*r.n+1, r.limit))
	for i := 0; i < r.n; i++ {
		out = append(out, r.sizes[(r.start+i)%len(r.sizes)])
	}
	return out
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

// Bytes is the held items' total size (0 without a budget).
func (r *Ring[T]) Bytes() int64 { return r.bytes }

// Dropped counts the items evicted since the last Clear.
func (r *Ring[T]) Dropped() uint64 { return r.dropped }

// Clear empties the ring.
func (r *Ring[T]) Clear() {
	r.items, r.sizes = nil, nil
	r.start, r.n, r.dropped, r.bytes = 0, 0, 0, 0
}
