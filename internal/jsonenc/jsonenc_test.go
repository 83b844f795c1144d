package jsonenc

import (
	"encoding/json"
	"testing"
)

// AppendString writes what encoding/json writes (relay.FuzzRecord and outbox.FuzzEncodeJob fuzz it through their
// encoders; these are the cases each escape rule exists for).
func TestAppendStringIsEncodingJSONs(t *testing.T) {
	for _, s := range []string{"", "plain", `quote " backslash \`, "<tag> & co", "\b\f\n\r\t\x00\x1f", "\u2028\u2029",
		"é ✓ 🎉", "bad \xff utf-8", "cut \xe2\x82"} {
		want, _ := json.Marshal(s)
		if got := AppendString(nil, s); string(got) != string(want) {
			t.Errorf("%q: expected %s, got %s", s, want, got)
		}
	}
}
