package sources

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// Set applies "path=value" assignments to a JSON body: the path is dot-separated keys (array indexes as numbers),
// missing objects are created, and the value is taken as JSON when it parses (1.5, true, null, {"a":1}) and as a
// string otherwise.
func Set(body []byte, assignments []string) ([]byte, error) {
	if len(assignments) == 0 {
		return body, nil
	}
	var doc any
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, fmt.Errorf("--set: the body is not JSON: %w", err)
	}
	for _, a := range assignments {
		path, raw, ok := strings.Cut(a, "=")
		if !ok || path == "" || strings.HasPrefix(path, ".") || strings.HasSuffix(path, ".") || strings.Contains(path, "..") {
			return nil, fmt.Errorf("--set %q: expected path=value with a dot-separated path such as event.price=4.99", a)
		}
		var value any
		if err := json.Unmarshal([]byte(raw), &value); err != nil {
			value = raw
		}
		var err error
		if doc, err = setPath(doc, strings.Split(path, "."), value); err != nil {
			return nil, fmt.Errorf("--set %q: %w", a, err)
		}
	}
	return json.Marshal(doc)
}

func setPath(node any, keys []string, value any) (any, error) {
	if len(keys) == 0 {
		return value, nil
	}
	switch n := node.(type) {
	case map[string]any:
		child, err := setPath(n[keys[0]], keys[1:], value)
		if err != nil {
			return nil, err
		}
		n[keys[0]] = child
		return n, nil
	case []any:
		i, err := strconv.Atoi(keys[0])
		if err != nil || i < 0 || i > len(n) {
			return nil, fmt.Errorf("expected an index from 0 to %d into the array, got %q", len(n), keys[0])
		}
		if i == len(n) {
			n = append(n, nil)
		}
		child, err := setPath(n[i], keys[1:], value)
		if err != nil {
			return nil, err
		}
		n[i] = child
		return n, nil
	case nil:
		return setPath(map[string]any{}, keys, value)
	default:
		return nil, fmt.Errorf("cannot set %q inside a %T", keys[0], node)
	}
}
