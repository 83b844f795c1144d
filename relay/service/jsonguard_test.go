package service

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/valyala/fastjson"
)

func nestedObjects(levels int) string {
	return strings.Repeat(`{"a":`, levels-1) + `{}` + strings.Repeat(`}`, levels-1)
}

func TestCheckJSONBody(t *testing.T) {
	tests := []struct {
		name, body string
		wantErr    string // "" when the body passes
	}{
		{"plain object", `{"event":{"id":"x","type":"RENEWAL"},"api_version":"1.0"}`, ""},
		{"arrays of objects and scalars", `{"a":[1,"x",{"b":[{"c":1},{"d":2}]}]}`, ""},
		{"same key in sibling objects", `{"a":{"id":1},"b":{"id":2},"c":[{"id":1},{"id":1}]}`, ""},
		{"32 levels", nestedObjects(32), ""},
		{"empty", ``, "expected a JSON object body, got an empty body"},
		{"only spaces", " \n\t ", "expected a JSON object body, got an empty body"},
		{"invalid UTF-8", "{\"a\":\"\xff\"}", "expected UTF-8 JSON, got an invalid UTF-8 sequence at byte 6"},
		{"truncated", `{"a":`, "expected a JSON object, got invalid JSON"},
		{"array at the top", `[1,2]`, "expected a JSON object, got a JSON array"},
		{"array at the top with a repeated key", `[{"a":1,"a":2}]`, "expected a JSON object, got a JSON array"},
		{"the byte that breaks it", `{"a"}`, `expected ':' after a key, got '}' at byte 4`},
		{"cut short in a string", `{"a":"b`, `expected the closing '"' of a string, got the end of the body`},
		// the parser alone would read these (found by FuzzCheckJSONBody)
		{"a dot for a number", `{"a":{"b":.}}`, "expected a JSON object, got invalid JSON"},
		{"two decimal points", `{"a":1.2.3}`, "expected a JSON object, got invalid JSON"},
		{"NaN", `{"a":NaN}`, "expected a JSON object, got invalid JSON"},
		{"a raw newline in a string", "{\"a\":\"x\ny\"}", "expected a JSON object, got invalid JSON"},
		{"string at the top", `"x"`, "expected a JSON object, got a JSON string"},
		// levels counted from 1 at the top object: level 33 opens at byte 5×32 = 160
		{"33 levels", nestedObjects(33), "expected at most 32 levels of nesting, got more at byte 160"},
		{"100 arrays", strings.Repeat("[", 100) + strings.Repeat("]", 100),
			"expected at most 32 levels of nesting, got more at byte 32"},
		// past the parser's own limit (300) the parse fails and the message is still ours
		{"1000 levels", nestedObjects(1000), "expected at most 32 levels of nesting, got more at byte 160"},
		{"brackets inside strings do not count", `{"a":"` + strings.Repeat("[{", 100) + `"}`, ""},
		{"repeated top-level key", `{"id":1,"x":2,"id":3}`,
			`expected each key once per object, got "id" more than once in the top-level object`},
		{"repeated nested key", `{"event":{"items":[{"a":1},{"b":1,"b":2}]}}`, `got "b" more than once in event.items[1]`},
		{"repeated key under an empty key", `{"":[{"":{"a":1,"a":2}}]}`, `got "a" more than once in [0].`},
		{"repeated key after an escape", `{"a":1,"\u0061":2}`, `got "a" more than once in the top-level object`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var g jsonGuard
			doc, err := g.check([]byte(tt.body))
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("expected the body to pass, got %v", err)
			case tt.wantErr == "" && doc == nil:
				t.Fatal("expected the parsed document, got nil")
			case tt.wantErr != "" && err == nil:
				t.Fatalf("expected an error containing %q, got none", tt.wantErr)
			case tt.wantErr != "" && !strings.Contains(err.Error(), tt.wantErr):
				t.Fatalf("expected an error containing %q, got %q", tt.wantErr, err)
			}
		})
	}
}

func TestCheckJSONBodyManyKeys(t *testing.T) {
	// more keys than the walker keeps on the stack: the comparison still sees all of them
	var b strings.Builder
	b.WriteString(`{`)
	for i := range 100 {
		b.WriteString(`"k` + strings.Repeat("x", i) + `":1,`)
	}
	b.WriteString(`"kxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx":2}`)
	var g jsonGuard
	_, err := g.check([]byte(b.String()))
	if err == nil || !strings.Contains(err.Error(), "more than once in the top-level object") {
		t.Fatalf("expected the 101st key (same as the 78th) refused, got %v", err)
	}
}

// TestRepeatedKeyErrorIsBounded: the key and the path come from the body; the answer and the log repeat a
// bounded start of each, whatever their length.
func TestRepeatedKeyErrorIsBounded(t *testing.T) {
	long := strings.Repeat("k", 100_000)
	body := `{"` + long + `":{"` + long + `":{"x":1,"x":2}},"a":1,"a":2}`
	var g jsonGuard
	_, err := g.check([]byte(body))
	if err == nil {
		t.Fatal("expected the repeated key refused, got no error")
	}
	want := `got "x" more than once in ` + strings.Repeat("k", 120) + "…"
	if !strings.Contains(err.Error(), want) || len(err.Error()) > 300 {
		t.Fatalf("expected at most 300 bytes containing %q, got %d bytes: %.400q", want, len(err.Error()), err)
	}
	body = `{"` + long + `":1,"` + long + `":2}`
	_, err = g.check([]byte(body))
	want = `got "` + strings.Repeat("k", 60) + `…" more than once in the top-level object`
	if err == nil || !strings.Contains(err.Error(), want) || len(err.Error()) > 300 {
		t.Fatalf("expected at most 300 bytes containing %q, got %.400v", want, err)
	}
}

func BenchmarkCheckJSONBody(b *testing.B) {
	body, err := os.ReadFile(filepath.Join("..", "..", "fixtures", "vendor-samples", "revenuecat", "webhooks",
		"sample-events_2.json"))
	if err != nil {
		b.Fatal(err)
	}
	var g jsonGuard
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := g.check(body); err != nil {
			b.Fatal(err)
		}
	}
}

// FuzzCheckJSONBody: whatever arrives, the guard answers without panicking, and it passes exactly the bodies
// encoding/json reads as one UTF-8 object, at most maxJSONDepth deep, with no key twice in an object.
func FuzzCheckJSONBody(f *testing.F) {
	f.Add([]byte(`{"event":{"id":"x","type":"RENEWAL","subscriber_attributes":{"$email":{"value":"a@b.c"}}}}`))
	f.Add([]byte(nestedObjects(33)))
	f.Add([]byte(`{"a":1,"\u0061":2}`))
	f.Add([]byte(`{"\ud83d\ude00":1,"😀":2}`))
	f.Add([]byte(`{"\ud800":1,"\ufffd":2}`))
	f.Add([]byte(`{"a\/b":1,"a/b":2,"\t":[-0.5e+7,true,false,null]}`))
	f.Add([]byte("{\"a\":\"\xff\"}"))
	f.Add([]byte(`[[[[]]]]`))
	f.Add([]byte(`{"a":[{"b":1},{"b":1,"b":2}]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		var g jsonGuard
		doc, err := g.check(body)
		want, why := readsAsOneObject(body)
		switch {
		case err != nil && !strings.HasPrefix(err.Error(), "expected "):
			t.Fatalf("expected an error that says what was expected, got %q", err)
		case err != nil && want:
			t.Fatalf("the guard refused %q, which encoding/json reads as one object: %v", body, err)
		case err == nil && !want:
			t.Fatalf("the guard passed %q, which encoding/json reads otherwise: %s", body, why)
		case err == nil && (doc == nil || doc.Type() != fastjson.TypeObject):
			t.Fatalf("the guard passed %q without the parsed object", body)
		}
	})
}

// readsAsOneObject is the fuzz test's judge, built on encoding/json's tokens rather than on the guard's scan.
func readsAsOneObject(body []byte) (bool, string) {
	if !utf8.Valid(body) {
		return false, "not UTF-8"
	}
	if !json.Valid(body) {
		return false, "not valid JSON"
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	type level struct {
		object bool
		keys   map[string]bool
		key    bool // the next string token in an object is a key
	}
	var stack []*level
	for first := true; ; first = false {
		tok, err := dec.Token()
		if err == io.EOF {
			return true, ""
		}
		if err != nil {
			return false, err.Error()
		}
		if first && tok != json.Delim('{') {
			return false, "not an object"
		}
		var top *level
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if top != nil && top.object && top.key {
			if k, ok := tok.(string); ok {
				if top.keys[k] {
					return false, fmt.Sprintf("key %q twice", k)
				}
				top.keys[k], top.key = true, false
				continue
			}
		}
		if top != nil && top.object {
			top.key = true // a value was read (or a container opens): a key comes next
		}
		switch tok {
		case json.Delim('{'), json.Delim('['):
			if stack = append(stack, &level{object: tok == json.Delim('{'), keys: map[string]bool{},
				key: true}); len(stack) > maxJSONDepth {
				return false, "too deep"
			}
		case json.Delim('}'), json.Delim(']'):
			stack = stack[:len(stack)-1]
		}
	}
}

// manyKeys is one object with n distinct keys (and the first one again at the end when repeat is set).
func manyKeys(n int, repeat bool) []byte {
	var b strings.Builder
	b.WriteString(`{"k0":0`)
	for i := 1; i < n; i++ {
		fmt.Fprintf(&b, `,"k%d":%d`, i, i)
	}
	if repeat {
		b.WriteString(`,"k0":1`)
	}
	b.WriteString("}")
	return []byte(b.String())
}

// A body of a hundred thousand keys is checked in one pass: a repeat at the very end is still found.
func TestRepeatedKeysAreFoundInHugeObjects(t *testing.T) {
	var g jsonGuard
	if _, err := g.check(manyKeys(116_000, false)); err != nil {
		t.Fatalf("distinct keys: %v", err)
	}
	if _, err := g.check(manyKeys(116_000, true)); err == nil ||
		!strings.Contains(err.Error(), `got "k0" more than once in the top-level object`) {
		t.Fatalf("expected the repeat of k0 found, got %v", err)
	}
}

// BenchmarkCheckJSONBodyKeys checks objects of growing size: ns per key stays flat (the check is linear; a
// 1 MiB body of 116k keys took 24 s when every key was compared with the earlier ones).
func BenchmarkCheckJSONBodyKeys(b *testing.B) {
	for _, n := range []int{1_000, 10_000, 116_000} {
		body := manyKeys(n, false)
		b.Run(fmt.Sprintf("keys=%d", n), func(b *testing.B) {
			var g jsonGuard
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				if _, err := g.check(body); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/key")
		})
	}
}
