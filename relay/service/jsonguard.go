package service

import (
	"bytes"
	"fmt"
	"unicode/utf8"

	"github.com/valyala/fastjson"
)

// maxJSONDepth bounds nesting: vendors' webhooks nest four or five levels; a thousand is an attack on the parser.
const maxJSONDepth = 32

var guardParsers fastjson.ParserPool

// checkJSONBody refuses bodies no vendor sends before any mapping looks at them: empty, not UTF-8, not one JSON
// object, nested deeper than maxJSONDepth, or with a key repeated in an object (where parsers disagree on which
// value wins, so a relay and an auditor could read two different events from one body).
// The parsed value is returned for the mapping to read (valid until p is reused).
func checkJSONBody(p *fastjson.Parser, body []byte) (*fastjson.Value, error) {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, fmt.Errorf("expected a JSON object body, got an empty body")
	}
	if !utf8.Valid(body) {
		return nil, fmt.Errorf("expected UTF-8 JSON, got an invalid UTF-8 sequence at byte %d", invalidUTF8At(body))
	}
	// the parser bounds nesting itself (at 300 levels, so its recursion is safe); the stricter bound is checked
	// on the parsed tree, and the byte scan that locates the offence runs only for a body that breaks it
	v, err := p.ParseBytes(body)
	if err == nil {
		// the parser is lenient (it reads "1.2.3" and NaN as numbers, raw control characters in strings); the
		// validator is strict, and safe to run once the parse has bounded the nesting
		err = fastjson.ValidateBytes(body)
	}
	if err != nil {
		if at := tooDeep(body); at >= 0 {
			return nil, errTooDeep(at)
		}
		return nil, fmt.Errorf("expected a JSON object, got invalid JSON: %v", err)
	}
	var w keyWalker
	bad, tooDeeply := w.walk(v, 1)
	switch {
	case tooDeeply:
		return nil, errTooDeep(tooDeep(body))
	case v.Type() != fastjson.TypeObject:
		return nil, fmt.Errorf("expected a JSON object, got a JSON %s", v.Type())
	case bad != nil:
		return nil, bad
	}
	return v, nil
}

func errTooDeep(at int) error {
	return fmt.Errorf("expected at most %d levels of nesting, got more at byte %d", maxJSONDepth, at)
}

// keyWalker checks the containers of a parsed body, keeping the path to where it is for error messages only.
type keyWalker struct {
	// trail[d] is the step from nesting level d-1 to level d: an object key, or an array index
	trail [maxJSONDepth + 2]struct {
		key     []byte
		index   int
		inArray bool
	}
}

// path spells out where level depth is, e.g. subscriber_attributes.$email or items[2].
func (w *keyWalker) path(depth int) string {
	if depth <= 1 {
		return "the top-level object"
	}
	var b []byte
	for _, s := range w.trail[2 : depth+1] {
		switch {
		case s.inArray:
			b = fmt.Appendf(b, "[%d]", s.index)
		case len(b) > 0:
			b = append(append(b, '.'), s.key...)
		default:
			b = append(b, s.key...)
		}
	}
	return string(b)
}

// walk checks the containers under v (at nesting level depth) and reports a key repeated in an object, or that
// nesting passes maxJSONDepth.
func (w *keyWalker) walk(v *fastjson.Value, depth int) (bad error, tooDeeply bool) {
	if depth > maxJSONDepth {
		return nil, true
	}
	switch v.Type() {
	case fastjson.TypeObject:
		o, _ := v.Object()
		// webhook objects have a few dozen keys: comparing with the earlier ones costs less than a map, and the
		// array keeps them off the heap; past that a set keeps the check linear (116k keys took 24 s compared
		// pairwise)
		var room [48][]byte
		keys := room[:0]
		var set map[string]struct{}
		o.Visit(func(k []byte, child *fastjson.Value) {
			if bad != nil || tooDeeply {
				return
			}
			repeated := false
			if set != nil {
				_, repeated = set[string(k)]
				set[string(k)] = struct{}{}
			} else {
				for _, earlier := range keys {
					repeated = repeated || string(earlier) == string(k)
				}
				if keys = append(keys, k); len(keys) == len(room) {
					set = make(map[string]struct{}, 2*len(room))
					for _, key := range keys {
						set[string(key)] = struct{}{}
					}
				}
			}
			if repeated {
				bad = fmt.Errorf("expected each key once per object, got %q more than once in %s", k, w.path(depth))
				return
			}
			if isContainer(child) {
				w.trail[depth+1].key, w.trail[depth+1].inArray = k, false
				bad, tooDeeply = w.walk(child, depth+1)
			}
		})
		return bad, tooDeeply
	case fastjson.TypeArray:
		items, _ := v.Array()
		for i, item := range items {
			if !isContainer(item) {
				continue
			}
			w.trail[depth+1].index, w.trail[depth+1].inArray = i, true
			if bad, tooDeeply = w.walk(item, depth+1); bad != nil || tooDeeply {
				return bad, tooDeeply
			}
		}
	}
	return nil, false
}

func isContainer(v *fastjson.Value) bool {
	t := v.Type()
	return t == fastjson.TypeObject || t == fastjson.TypeArray
}

// tooDeep scans for brackets outside strings and returns where nesting passes maxJSONDepth, or -1: the byte
// offset for the error message.
func tooDeep(b []byte) int {
	depth, inString, escaped := 0, false, false
	for i, c := range b {
		switch {
		case inString:
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
		case c == '"':
			inString = true
		case c == '{' || c == '[':
			if depth++; depth > maxJSONDepth {
				return i
			}
		case c == '}' || c == ']':
			depth--
		}
	}
	return -1
}

func invalidUTF8At(b []byte) int {
	for i := 0; i < len(b); {
		r, size := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && size == 1 {
			return i
		}
		i += size
	}
	return len(b)
}
