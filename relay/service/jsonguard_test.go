package service

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

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
			var p fastjson.Parser
			doc, err := checkJSONBody(&p, []byte(tt.body))
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
	var p fastjson.Parser
	_, err := checkJSONBody(&p, []byte(b.String()))
	if err == nil || !strings.Contains(err.Error(), "more than once in the top-level object") {
		t.Fatalf("expected the 101st key (same as the 78th) refused, got %v", err)
	}
}

func BenchmarkCheckJSONBody(b *testing.B) {
	body, err := os.ReadFile(filepath.Join("..", "..", "fixtures", "vendor-samples", "revenuecat", "webhooks",
		"sample-events_2.json"))
	if err != nil {
		b.Fatal(err)
	}
	var p fastjson.Parser
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := checkJSONBody(&p, body); err != nil {
			b.Fatal(err)
		}
	}
}

// FuzzCheckJSONBody: whatever arrives, the guard answers without panicking, and it never passes a body that
// encoding/json cannot read as one object.
func FuzzCheckJSONBody(f *testing.F) {
	f.Add([]byte(`{"event":{"id":"x","type":"RENEWAL","subscriber_attributes":{"$email":{"value":"a@b.c"}}}}`))
	f.Add([]byte(nestedObjects(33)))
	f.Add([]byte(`{"a":1,"\u0061":2}`))
	f.Add([]byte("{\"a\":\"\xff\"}"))
	f.Add([]byte(`[[[[]]]]`))
	f.Add([]byte(`{"a":[{"b":1},{"b":1,"b":2}]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		var p fastjson.Parser
		doc, err := checkJSONBody(&p, body)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "expected ") {
				t.Fatalf("expected an error that says what was expected, got %q", err)
			}
			return
		}
		var v map[string]any
		if jerr := json.Unmarshal(body, &v); jerr != nil {
			t.Fatalf("the guard passed %q, which encoding/json refuses as an object: %v", body, jerr)
		}
		if doc == nil || doc.Type() != fastjson.TypeObject {
			t.Fatalf("the guard passed %q without the parsed object", body)
		}
	})
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
	var p fastjson.Parser
	if _, err := checkJSONBody(&p, manyKeys(116_000, false)); err != nil {
		t.Fatalf("distinct keys: %v", err)
	}
	if _, err := checkJSONBody(&p, manyKeys(116_000, true)); err == nil ||
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
			var p fastjson.Parser
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				if _, err := checkJSONBody(&p, body); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/key")
		})
	}
}
