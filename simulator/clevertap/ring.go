package clevertap

// ring is a bounded FIFO: pushing beyond the limit drops the oldest item, so a long load cannot eat the memory.
type ring[T any] struct {
	items []T
	start int // index of the oldest item
	n     int
	limit int
	// dropped counts items evicted since the last clear.
	dropped uint64
}

func newRing[T any](limit int) *ring[T] {
	if limit < 1 {
		limit = 1
	}
	return &ring[T]{limit: limit}
}

func (r *ring[T]) push(v T) {
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

// each visits items oldest first until fn returns false.
func (r *ring[T]) each(fn func(*T) bool) {
	for i := 0; i < r.n; i++ {
		if !fn(&r.items[(r.start+i)%len(r.items)]) {
			return
		}
	}
}

func (r *ring[T]) len() int { return r.n }

func (r *ring[T]) clear() {
	r.items = nil
	r.start, r.n, r.dropped = 0, 0, 0
}
