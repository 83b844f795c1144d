package suggest

import "testing"

func TestClosest(t *testing.T) {
	keys := []string{"steps", "start", "store", "sources", "name", "accounts", "passcodes", "SIMULATOR_LIST",
		"SIMULATOR_LISTEN"}
	for _, c := range []struct{ got, want string }{
		{"steeps", "steps"},
		{"stpes", "steps"},
		{"passcode", "passcodes"},
		{"acounts", "accounts"},
		{"SIMULATOR_LISTN", "SIMULATOR_LISTEN"},
		{"colour", ""},
		{"x", ""},
		{"nmae", "name"},
		{"acco", "accounts"},
		{"st", ""},
	} {
		if got := Closest(c.got, keys); got != c.want {
			t.Errorf("Closest(%q): expected %q, got %q", c.got, c.want, got)
		}
	}
	if got := DidYouMean("steeps", keys); got != ` (did you mean "steps"?)` {
		t.Errorf("DidYouMean: got %q", got)
	}
}
