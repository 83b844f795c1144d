package ring

import (
	"slices"
	"testing"
)

func ringContents(r *Ring[int]) []int {
	var out []int
	r.Each(func(v *int) bool { out = append(out, *v); return true })
	return out
}

func TestRingKeepsTheNewestUpToItsLimit(t *testing.T) {
	r := New[int](3)
	for i := 1; i <= 2; i++ {
		r.Push(i)
	}
	if got := ringContents(r); !slices.Equal(got, []int{1, 2}) {
		t.Fatalf("before the limit: expected [1 2], got %v", got)
	}
	for i := 3; i <= 7; i++ {
		r.Push(i)
	}
	if got := ringContents(r); !slices.Equal(got, []int{5, 6, 7}) {
		t.Fatalf("after wrapping: expected [5 6 7], got %v", got)
	}
	if r.Dropped() != 4 {
		t.Fatalf("expected 4 dropped items, got %d", r.dropped)
	}
	r.Clear()
	r.Push(9)
	if got := ringContents(r); !slices.Equal(got, []int{9}) {
		t.Fatalf("after clear: expected [9], got %v", got)
	}
}

func TestRingEachStopsWhenAsked(t *testing.T) {
	r := New[int](5)
	for i := 1; i <= 5; i++ {
		r.Push(i)
	}
	var seen []int
	r.Each(func(v *int) bool { seen = append(seen, *v); return len(seen) < 2 })
	if !slices.Equal(seen, []int{1, 2}) {
		t.Fatalf("expected to stop after [1 2], got %v", seen)
	}
}

func TestEachNewestGoesBackwards(t *testing.T) {
	r := New[int](3)
	for i := 1; i <= 5; i++ {
		r.Push(i)
	}
	var got []int
	r.EachNewest(func(v *int) bool { got = append(got, *v); return len(got) < 2 })
	if len(got) != 2 || got[0] != 5 || got[1] != 4 {
		t.Fatalf("expected 5 then 4, got %v", got)
	}
}
