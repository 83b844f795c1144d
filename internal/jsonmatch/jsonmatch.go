// Package jsonmatch compares a JSON document with a hand-written expectation, field by field. Expected string
// values that start with "~" are regular expressions the actual value must match (for generated ids); every
// other value must be equal, and both sides must have the same keys. Differences are listed with their paths.
package jsonmatch

import (
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// Match returns nil when actual matches expected, otherwise an error listing every difference.
func Match(expected, actual []byte) error {
	var e, a any
	if err := json.Unmarshal(expected, &e); err != nil {
		return fmt.Errorf("expected document is not JSON: %w", err)
	}
	if err := json.Unmarshal(actual, &a); err != nil {
		return fmt.Errorf("actual document is not JSON: %w", err)
	}
	var diffs []string
	compare("$", e, a, &diffs)
	if len(diffs) == 0 {
		return nil
	}
	return fmt.Errorf("%d difference(s):\n  %s", len(diffs), strings.Join(diffs, "\n  "))
}

func compare(path string, e, a any, diffs *[]string) {
	switch ev := e.(type) {
	case map[string]any:
		av, ok := a.(map[string]any)
		if !ok {
			*diffs = append(*diffs, fmt.Sprintf("%s: expected an object, got %s", path, show(a)))
			return
		}
		for _, k := range keys(ev) {
			if _, ok := av[k]; !ok {
				*diffs = append(*diffs, fmt.Sprintf("%s.%s: missing (expected %s)", path, k, show(ev[k])))
				continue
			}
			compare(path+"."+k, ev[k], av[k], diffs)
		}
		for _, k := range keys(av) {
			if _, ok := ev[k]; !ok {
				*diffs = append(*diffs, fmt.Sprintf("%s.%s: unexpected key with %s", path, k, show(av[k])))
			}
		}
	case []any:
		av, ok := a.([]any)
		if !ok || len(av) != len(ev) {
			*diffs = append(*diffs, fmt.Sprintf("%s: expected %s, got %s", path, show(e), show(a)))
			return
		}
		for i := range ev {
			compare(fmt.Sprintf("%s[%d]", path, i), ev[i], av[i], diffs)
		}
	case string:
		if pattern, ok := strings.CutPrefix(ev, "~"); ok {
			s, isString := a.(string)
			re, err := regexp.Compile(pattern)
			if err != nil {
				*diffs = append(*diffs, fmt.Sprintf("%s: bad pattern %q: %v", path, pattern, err))
			} else if !isString || !re.MatchString(s) {
				*diffs = append(*diffs, fmt.Sprintf("%s: expected a string matching %s, got %s", path, pattern, show(a)))
			}
			return
		}
		if a != e {
			*diffs = append(*diffs, fmt.Sprintf("%s: expected %s, got %s", path, show(e), show(a)))
		}
	default:
		if show(a) != show(e) {
			*diffs = append(*diffs, fmt.Sprintf("%s: expected %s, got %s", path, show(e), show(a)))
		}
	}
}

func keys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func show(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
