package relay

import (
	"encoding/json"
	"math"
	"testing"
)

func TestRecordWritesWhatEncodingJSONWrites(t *testing.T) {
	tests := []struct {
		name string
		v    any
		want string // written by hand
	}{
		{"sorted keys and plain types", map[string]any{"type": "event", "ts": int64(1658726405),
			"evtData": map[string]any{"amount": 9.99, "z": true, "a": nil}},
			`{"evtData":{"a":null,"amount":9.99,"z":true},"ts":1658726405,"type":"event"}`},
		{"HTML and control characters", map[string]any{"s": "<a href=\"x\">&\n\t\x01"},
			`{"s":"\u003ca href=\"x\"\u003e\u0026\n\t\u0001"}`},
		{"invalid UTF-8 and line separators", map[string]any{"s": "a\xffb\u2028c\u2029"}, `{"s":"a\ufffdb\u2028c\u2029"}`},
		{"floats at the format's edges", map[string]any{"a": 1e21, "b": 1e-7, "c": 123456789.5, "d": math.Copysign(0, -1),
			"e": 0.000001},
			`{"a":1e+21,"b":1e-7,"c":123456789.5,"d":-0,"e":0.000001}`},
		{"lists and other types", map[string]any{"l": []any{"x", 1, []string{"y"}}, "n": json.Number("12"), "u": uint8(7),
			"nil list": []any(nil)},
			`{"l":["x",1,["y"]],"n":12,"nil list":null,"u":7}`},
		{"a struct goes to encoding/json", struct {
			A string `json:"a"`
		}{"<"}, `{"a":"\u003c"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := string(Record(tt.v)); got != tt.want {
				t.Fatalf("expected %s, got %s", tt.want, got)
			}
		})
	}
}

func TestRecordRefusesNaN(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("expected a panic for a NaN amount, got none")
		}
	}()
	Record(map[string]any{"evtData": map[string]any{"amount": math.NaN()}})
}

func FuzzRecord(f *testing.F) {
	f.Add("identity-1", "Renewal", 9.99, int64(1658726405), true)
	f.Add("<&>\u2028", "\xff\x00", 1e-7, int64(-1), false)
	f.Add("", "a\"b\\c", 1e21, int64(0), true)
	f.Add("k", "k", math.Inf(1), int64(1), false)
	f.Fuzz(func(t *testing.T, s1, s2 string, x float64, n int64, b bool) {
		v := map[string]any{"type": "event", s1: s2, "ts": n, "evtData": map[string]any{s2: x, "b": b, "list": []any{s1, x,
			nil, n}, "nested": map[string]any{s1: s2}}}
		want, err := json.Marshal(v)
		if err != nil {
			defer func() {
				if recover() == nil {
					t.Fatalf("encoding/json refused the value (%v); expected Record to panic, it did not", err)
				}
			}()
		}
		if got := Record(v); string(got) != string(want) {
			t.Fatalf("expected encoding/json's %s, got %s", want, got)
		}
	})
}

func BenchmarkRecord(b *testing.B) {
	record := map[string]any{"type": "event", "evtName": "RevenueCat Subscription Renewed", "identity": "user-123",
		"ts": int64(1658726405),
		"evtData": map[string]any{"amount": 9.99, "currency": "USD", "product_id": "com.subscription.weekly",
			"app_id": "1234", "$email": "a@example.com"}}
	b.Run("Record", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			Record(record)
		}
	})
	b.Run("encoding/json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_, _ = json.Marshal(record)
		}
	})
}
