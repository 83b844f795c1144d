package sources

import (
	"strings"
	"testing"
)

func TestSet(t *testing.T) {
	out, err := Set([]byte(`{"event":{"price":1,"aliases":["a"]},"api_version":"1.0"}`),
		[]string{"event.price=4.99", "event.aliases.1=b", "event.new.deep=x", "api_version=2.0", "event.flag=true"})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"api_version":2,"event":{"aliases":["a","b"],"flag":true,"new":{"deep":"x"},"price":4.99}}`
	if string(out) != want {
		t.Fatalf("expected %s, got %s", want, out)
	}
	for _, bad := range []struct{ set, want string }{
		{"price", "expected path=value"},
		{".price=1", "expected path=value"},
		{"event.aliases.9=x", "expected an index from 0 to 1"},
		{"api_version.x=1", "cannot set"},
	} {
		if _, err := Set([]byte(`{"event":{"aliases":["a"]},"api_version":"1.0"}`),
			[]string{bad.set}); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%s: expected an error containing %q, got %v", bad.set, bad.want, err)
		}
	}
}
