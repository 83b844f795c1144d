package store

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

func TestProfileOperators(t *testing.T) {
	hundred := make([]string, 100)
	for i := range hundred {
		hundred[i] = fmt.Sprintf("v%d", i)
	}
	cases := []struct {
		name          string
		before        map[string]any
		update        string
		want          map[string]any
		wantUntouched []string
	}{
		{"a scalar is set", map[string]any{"Plan": "basic"}, `{"Plan":"gold"}`, map[string]any{"Plan": "gold"}, nil},
		{"an array is a multi-value, unique strings", nil, `{"Tags":["a","b","a",3,true]}`,
			map[string]any{"Tags": []string{"a", "b", "3", "true"}}, nil},
		{"$set overwrites", map[string]any{"Tags": []string{"x"}}, `{"Tags":{"$set":["a","b"]}}`,
			map[string]any{"Tags": []string{"a", "b"}}, nil},
		{"$add appends what is new", map[string]any{"Tags": []string{"a"}}, `{"Tags":{"$add":["a","b"]}}`,
			map[string]any{"Tags": []string{"a", "b"}}, nil},
		{"$add promotes a scalar to a string", map[string]any{"Language": "English"},
			`{"Language":{"$add":["Spanish","German"]}}`,
			map[string]any{"Language": []string{"English", "Spanish", "German"}}, nil},
		{"$add promotes a number", map[string]any{"Lucky": 7.0}, `{"Lucky":{"$add":"8"}}`,
			map[string]any{"Lucky": []string{"7", "8"}}, nil},
		{"$add to a missing property creates it", nil, `{"Tags":{"$add":"a"}}`, map[string]any{"Tags": []string{"a"}},
			nil},
		{"$remove takes values out", map[string]any{"Tags": []string{"a", "b", "c"}}, `{"Tags":{"$remove":["a","c"]}}`,
			map[string]any{"Tags": []string{"b"}}, nil},
		{"$remove of the last value deletes the property", map[string]any{"Tags": "a"}, `{"Tags":{"$remove":"a"}}`,
			map[string]any{}, nil},
		{"$remove on a missing property does nothing", map[string]any{}, `{"Tags":{"$remove":"a"}}`,
			map[string]any{}, nil},
		{"$incr", map[string]any{"Score": 308.0}, `{"Score":{"$incr":3}}`, map[string]any{"Score": 311.0}, nil},
		{"$decr", map[string]any{"Score": 308.0}, `{"Score":{"$decr":8}}`, map[string]any{"Score": 300.0}, nil},
		{"$incr on a missing property starts from 0", nil, `{"Score":{"$incr":3}}`, map[string]any{"Score": 3.0}, nil},
		{"$incr on a string leaves it", map[string]any{"Score": "high"}, `{"Score":{"$incr":3}}`,
			map[string]any{"Score": "high"}, nil},
		{"$delete", map[string]any{"Plan": "gold", "Keep": 1.0}, `{"Plan":{"$delete":true}}`,
			map[string]any{"Keep": 1.0}, nil},
		{"$delete false deletes nothing", map[string]any{"Plan": "gold"}, `{"Plan":{"$delete":false}}`,
			map[string]any{"Plan": "gold"}, nil},
		{"$D_ dates are kept as sent", nil, `{"DOB":"$D_1487576752"}`, map[string]any{"DOB": "$D_1487576752"}, nil},
		{"101 values keep the newest 100", map[string]any{"Tags": hundred}, `{"Tags":{"$add":"v100"}}`,
			map[string]any{"Tags": append(append([]string{}, hundred[1:]...), "v100")}, nil},
		{"a value over 512 characters is dropped", nil, `{"Tags":["ok","` + strings.Repeat("x", 513) + `"]}`,
			map[string]any{"Tags": []string{"ok"}}, nil},
		{"a nested object without an operator is stored", nil, `{"Address":{"city":"Paris"}}`,
			map[string]any{"Address": map[string]any{"city": "Paris"}}, nil},
	}
	for _, tc := range cases {
		props := map[string]any{}
		for k, v := range tc.before {
			props[k] = v
		}
		var update map[string]any
		if err := json.Unmarshal([]byte(tc.update), &update); err != nil {
			t.Fatal(err)
		}
		applyProfileData(props, update)
		if !reflect.DeepEqual(props, tc.want) {
			t.Errorf("%s: expected %v, got %v", tc.name, tc.want, props)
		}
	}
}
