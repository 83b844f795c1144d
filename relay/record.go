package relay

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/ctharness/ctharness/internal/jsonenc"
)

// Record marshals an upload record (or any payload) compactly, byte for byte as encoding/json does (sorted keys,
// HTML-safe escapes); the mapping's values are always encodable. Maps of the plain types the mappings build are
// written directly, which at saturation costs a third of reflection's time (FuzzRecord holds the two equal).
func Record(v any) json.RawMessage {
	if m, ok := v.(map[string]any); ok {
		if b, ok := appendMap(make([]byte, 0, 512), m); ok {
			return b
		}
	}
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("relay: payload not encodable: %v", err))
	}
	return b
}

// appendValue writes v as JSON; false means v (or something in it) needs encoding/json's judgement, such as a
// NaN, which it refuses.
func appendValue(b []byte, v any) ([]byte, bool) {
	switch v := v.(type) {
	case nil:
		return append(b, "null"...), true
	case string:
		return jsonenc.AppendString(b, v), true
	case bool:
		return strconv.AppendBool(b, v), true
	case float64:
		return appendFloat(b, v)
	case int:
		return strconv.AppendInt(b, int64(v), 10), true
	case int64:
		return strconv.AppendInt(b, v, 10), true
	case map[string]any:
		return appendMap(b, v)
	case []any:
		if v == nil {
			return append(b, "null"...), true
		}
		b = append(b, '[')
		for i, item := range v {
			if i > 0 {
				b = append(b, ',')
			}
			var ok bool
			if b, ok = appendValue(b, item); !ok {
				return b, false
			}
		}
		return append(b, ']'), true
	default:
		raw, err := json.Marshal(v)
		if err != nil {
			return b, false
		}
		return append(b, raw...), true
	}
}

func appendMap(b []byte, m map[string]any) ([]byte, bool) {
	if m == nil {
		return append(b, "null"...), true
	}
	var room [32]string
	keys := room[:0]
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, strings.Compare)
	b = append(b, '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(jsonenc.AppendString(b, k), ':')
		var ok bool
		if b, ok = appendValue(b, m[k]); !ok {
			return b, false
		}
	}
	return append(b, '}'), true
}

// appendFloat formats as encoding/json does: like ES6, 'f' between 1e-6 and 1e21, else 'e' without exponent
// padding.
func appendFloat(b []byte, f float64) ([]byte, bool) {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return b, false
	}
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		// e-09 → e-9
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b, true
}
