// Package broadcast hands each published value to every subscriber without ever waiting for one: a subscriber
// whose buffer is full is dropped (its channel closed), so a slow stream client cannot hold up the publisher or
// grow memory without bound.
package broadcast

import "sync"

// Broadcaster publishes values of T to its subscribers.
type Broadcaster[T any] struct {
	mu   sync.Mutex
	subs map[*sub[T]]struct{}
	max  int
}

type sub[T any] struct {
	ch chan T
}

// New is a broadcaster that takes at most max subscribers at once (0: no limit).
func New[T any](max int) *Broadcaster[T] {
	return &Broadcaster[T]{subs: map[*sub[T]]struct{}{}, max: max}
}

// Subscribe returns a channel of the values published from now on, buffered to buffer values; it is closed
// when the subscriber falls behind by more than that, or by cancel. ok is false when the broadcaster holds its
// limit of subscribers.
func (b *Broadcaster[T]) Subscribe(buffer int) (values <-chan T, cancel func(), ok bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.max > 0 && len(b.subs) >= b.max {
		return nil, func() {}, false
	}
	s := &sub[T]{ch: make(chan T, buffer)}
	b.subs[s] = struct{}{}
	return s.ch, func() { b.drop(s) }, true
}

func (b *Broadcaster[T]) drop(s *sub[T]) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, ok := b.subs[s]; ok {
		delete(b.subs, s)
		close(s.ch)
	}
}

// Publish hands v to every subscriber that has room and drops those that have none.
func (b *Broadcaster[T]) Publish(v T) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for s := range b.subs {
		select {
		case s.ch <- v:
		default:
			delete(b.subs, s)
			close(s.ch)
		}
	}
}

// Subscribers is how many subscribers there are.
func (b *Broadcaster[T]) Subscribers() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.subs)
}
