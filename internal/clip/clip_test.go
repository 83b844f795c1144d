package clip

import "testing"

func TestText(t *testing.T) {
	for _, c := range []struct {
		in   string
		n    int
		want string
	}{
		{"short", 10, "short"},
		{"  padded  ", 10, "padded"},
		{"abcdefghij", 4, "abcd…"},
		{"ééé", 3, "é…"}, // é is two bytes: the cut moves back to a character boundary
	} {
		if got := Text(c.in, c.n); got != c.want {
			t.Errorf("Text(%q, %d): expected %q, got %q", c.in, c.n, c.want, got)
		}
	}
}

func TestSecretNeverShowsTheWholeValue(t *testing.T) {
	if got := Secret("Bearer sim-revenuecat"); got != "Bearer…(21 chars)" {
		t.Errorf("expected the first six characters and the length, got %q", got)
	}
	if got := Secret("s3cret"); got != "******" {
		t.Errorf("expected a short secret fully masked, got %q", got)
	}
}
