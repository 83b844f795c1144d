package broadcast

import "testing"

func TestEverySubscriberGetsEachValueAndASlowOneIsDropped(t *testing.T) {
	b := New[int](2)
	fast, cancelFast, ok1 := b.Subscribe(10)
	slow, _, ok2 := b.Subscribe(1)
	if _, _, ok := b.Subscribe(1); !ok1 || !ok2 || ok {
		t.Fatalf("expected two subscribers taken and a third refused, got %v %v %v", ok1, ok2, ok)
	}
	b.Publish(1)
	b.Publish(2) // slow has no room: dropped
	if got := []int{<-fast, <-fast}; got[0] != 1 || got[1] != 2 {
		t.Fatalf("fast: expected 1 2, got %v", got)
	}
	if v, open := <-slow; !open || v != 1 {
		t.Fatalf("slow: expected 1 before being dropped, got %v %v", v, open)
	}
	if _, open := <-slow; open {
		t.Fatal("slow: expected its channel closed once it fell behind")
	}
	if n := b.Subscribers(); n != 1 {
		t.Fatalf("expected 1 subscriber left, got %d", n)
	}
	cancelFast()
	cancelFast() // twice is harmless
	if _, open := <-fast; open {
		t.Fatal("expected the cancelled channel closed")
	}
	if _, _, ok := b.Subscribe(1); !ok {
		t.Fatal("a place freed must be taken again")
	}
}
