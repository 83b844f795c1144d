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

func TestABudgetDropsTheOldestUntilTheSizesFit(t *testing.T) {
	r := New[int](100).Budget(10, func(v *int) int { return *v })
	for _, v := range []int{4, 3, 2} { // 9 bytes: all kept
		r.Push(v)
	}
	if got := ringContents(r); !slices.Equal(got, []int{4, 3, 2}) || r.Bytes() != 9 {
		t.Fatalf("within the budget: expected [4 3 2] and 9 bytes, got %v %d", got, r.Bytes())
	}
	r.Push(6) // 15: the 4 and the 3 go, 8 is within
	if got := ringContents(r); !slices.Equal(got, []int{2, 6}) || r.Bytes() != 8 || r.Dropped() != 2 {
		t.Fatalf("over the budget: expected [2 6], 8 bytes, 2 dropped, got %v %d %d", got, r.Bytes(), r.Dropped())
	}
	r.Push(50) // alone over the budget: kept, everything else goes
	if got := ringContents(r); !slices.Equal(got, []int{50}) || r.Bytes() != 50 {
		t.Fatalf("an item over the budget alone: expected [50], got %v %d", got, r.Bytes())
	}
	for i := 0; i < 1000; i++ { // wraps many times with a mix of drops by count and by size
		r.Push(i%4 + 1)
	}
	if r.Bytes() > 10 || r.Len() == 0 {
		t.Fatalf("after many pushes: expected at most 10 bytes, got %d in %d items", r.Bytes(), r.Len())
	}
	sum := 0
	r.Each(func(v *int) bool { sum += *v; return true })
	if int64(sum) != r.Bytes() {
		t.Fatalf("the byte count drifted: items sum to %d, the ring says %d", sum, r.Bytes())
	}
	last := ringContents(r)
	if last[len(last)-1] != 999%4+1 {
		t.Fatalf("expected the newest item last, got %v", last)
	}
}

func TestTheCountLimitStillHoldsAfterBudgetDrops(t *testing.T) {
	r := New[int](3).Budget(1000, func(v *int) int { return *v })
	for _, v := range []int{600, 300, 500, 1, 2, 3, 4} {
		r.Push(v)
	}
	if got := ringContents(r); !slices.Equal(got, []int{2, 3, 4}) {
		t.Fatalf("expected the 3 newest, got %v", got)
	}
}
