package jsonmatch

import (
	"strings"
	"testing"
)

func TestMatch(t *testing.T) {
	if err := Match([]byte(`{"id":"~^[0-9a-f]{4}$","n":1,"a":[true,null]}`),
		[]byte(`{"a":[true,null],"n":1.0,"id":"beef"}`)); err != nil {
		t.Fatalf("expected a match, got %v", err)
	}
	err := Match([]byte(`{"id":"~^[0-9]+$","n":1,"gone":"x","o":{"k":"v"}}`),
		[]byte(`{"id":"abc","n":2,"extra":true,"o":{"k":"w"}}`))
	if err == nil {
		t.Fatal("expected differences")
	}
	for _, want := range []string{`$.id: expected a string matching ^[0-9]+$, got "abc"`, `$.n: expected 1, got 2`,
		`$.gone: missing`, `$.extra: unexpected key`, `$.o.k: expected "v", got "w"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("expected %q in\n%v", want, err)
		}
	}
}
