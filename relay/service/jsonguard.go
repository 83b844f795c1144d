package service

import (
	"fmt"
	"strings"
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
	if len(strings.TrimSpace(string(body))) == 0 {
		return nil, fmt.Errorf("expected a JSON object body, got an empty body")
	}
	if !utf8.Valid(body) {
		return nil, fmt.Errorf("expected UTF-8 JSON, got an invalid UTF-8 sequence at byte %d", invalidUTF8At(body))
	}
	if at := tooDeep(body); at >= 0 {
		return nil, fmt.Errorf("expected at most %d levels of nesting, got more at byte %d", maxJSONDepth, at)
	}
	v, err := p.ParseBytes(body)
	if err != nil {
		return nil, fmt.Errorf("expected a JSON object, got invalid JSON: %v", err)
	}
	if v.Type() != fastjson.TypeObject {
		return nil, fmt.Errorf("expected a JSON object, got a JSON %s", v.Type())
	}
	return v, checkKeys(v, "")
}

// checkKeys refuses a key repeated in any object (nesting was bounded by tooDeep before parsing).
func checkKeys(v *fastjson.Value, path string) error {
	switch v.Type() {
	case fastjson.TypeObject:
		o, _ := v.Object()
		var err error
		// webhook objects have a few dozen keys: comparing with the earlier ones costs less than a map
		keys := make([][]byte, 0, o.Len())
		o.Visit(func(k []byte, child *fastjson.Value) {
			if err != nil {
				return
			}
			for _, earlier := range keys {
				if string(earlier) == string(k) {
					err = fmt.Errorf("expected each key once per object, got %q more than once in %s", k, orRoot(path))
					return
				}
			}
			keys = append(keys, k)
			if isContainer(child) {
				err = checkKeys(child, join(path, string(k)))
			}
		})
		return err
	case fastjson.TypeArray:
		items, _ := v.Array()
		for i, item := range items {
			if !isContainer(item) {
				continue
			}
			if err := checkKeys(item, fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
	}
	return nil
}

func isContainer(v *fastjson.Value) bool {
	t := v.Type()
	return t == fastjson.TypeObject || t == fastjson.TypeArray
}

// tooDeep scans for brackets outside strings and returns where nesting passes maxJSONDepth, or -1; it runs
// before the parser, whose own limit is far higher and whose error for it is a page long.
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

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func orRoot(path string) string {
	if path == "" {
		return "the top-level object"
	}
	return path
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
