package schemas_test

import (
	"encoding/json"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ctharness/ctharness/relay/config"
	"github.com/ctharness/ctharness/scenarios"
	"github.com/ctharness/ctharness/simulator"
)

// The schemas and the Go types that read the same files cannot drift apart: every key a type reads is in its
// schema, and every key its schema allows is read.
func TestSchemasMatchTheTypesThatReadTheFiles(t *testing.T) {
	for _, c := range []struct {
		file string
		typ  reflect.Type
		skip []string // keys whose content the type reads by hand (steps, a story's relay fragment)
	}{
		{"relay-config.schema.json", reflect.TypeFor[config.Config](), nil},
		{"accounts.schema.json", reflect.TypeFor[simulator.Config](), nil},
		{"scenario.schema.json", reflect.TypeFor[scenarios.Scenario](), []string{"relay", "steps"}},
	} {
		raw, err := os.ReadFile(c.file)
		if err != nil {
			t.Fatal(err)
		}
		var doc map[string]any
		if err := json.Unmarshal(raw, &doc); err != nil {
			t.Fatal(err)
		}
		fromType := append(typeKeys(c.typ, "", c.skip), c.skip...)
		var fromSchema []string
		for _, k := range schemaKeys(doc, doc, "", c.skip, 0) {
			// the scenario's expectations are a map by source in Go, one property per source in the schema
			for _, src := range scenarios.Sources {
				if k == "expect."+src || strings.HasPrefix(k, "expect."+src+".") {
					k = "expect.*" + strings.TrimPrefix(k, "expect."+src)
				}
			}
			if !slices.Contains(fromSchema, k) {
				fromSchema = append(fromSchema, k)
			}
		}
		for _, k := range fromType {
			if !slices.Contains(fromSchema, k) {
				t.Errorf("%s: the Go type reads %s, the schema does not allow it", c.file, k)
			}
		}
		for _, k := range fromSchema {
			if !slices.Contains(fromType, k) {
				t.Errorf("%s: the schema allows %s, the Go type does not read it", c.file, k)
			}
		}
	}
}

// typeKeys are the YAML key paths a type reads (a.b.c; * for a map's keys, [] for a list's items).
func typeKeys(t reflect.Type, prefix string, skip []string) []string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	var out []string
	switch t.Kind() {
	case reflect.Struct:
		if t == reflect.TypeFor[time.Time]() {
			return nil
		}
		for i := range t.NumField() {
			f := t.Field(i)
			name, opts, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			if name == "-" || !f.IsExported() {
				continue
			}
			if strings.Contains(opts, "inline") {
				out = append(out, typeKeys(f.Type, prefix, skip)...)
				continue
			}
			if name == "" {
				continue
			}
			key := join(prefix, name)
			out = append(out, key)
			if !slices.Contains(skip, key) {
				out = append(out, typeKeys(f.Type, key, skip)...)
			}
		}
	case reflect.Map:
		if t.Elem().Kind() == reflect.Struct || t.Elem().Kind() == reflect.Pointer {
			out = append(out, join(prefix, "*"))
			out = append(out, typeKeys(t.Elem(), join(prefix, "*"), skip)...)
		}
	case reflect.Slice:
		out = append(out, typeKeys(t.Elem(), join(prefix, "[]"), skip)...)
	}
	return out
}

// schemaKeys are the key paths a schema allows, following $ref, allOf, anyOf and oneOf.
func schemaKeys(doc, node map[string]any, prefix string, skip []string, depth int) []string {
	if depth > 20 || node == nil {
		return nil
	}
	if ref, ok := node["$ref"].(string); ok {
		file, frag, _ := strings.Cut(ref, "#")
		target := doc
		if file != "" {
			raw, _ := os.ReadFile(file)
			_ = json.Unmarshal(raw, &target)
		}
		return schemaKeys(target, resolve(target, frag), prefix, skip, depth+1)
	}
	var out []string
	for _, comb := range []string{"allOf", "anyOf", "oneOf"} {
		branches, _ := node[comb].([]any)
		for _, b := range branches {
			bm, _ := b.(map[string]any)
			for _, k := range schemaKeys(doc, bm, prefix, skip, depth+1) {
				if !slices.Contains(out, k) {
					out = append(out, k)
				}
			}
		}
	}
	props, _ := node["properties"].(map[string]any)
	for name, sub := range props {
		key := join(prefix, name)
		out = append(out, key)
		if !slices.Contains(skip, key) {
			sm, _ := sub.(map[string]any)
			out = append(out, schemaKeys(doc, sm, key, skip, depth+1)...)
		}
	}
	if ap, ok := node["additionalProperties"].(map[string]any); ok {
		if _, isObject := ap["properties"]; isObject {
			out = append(out, join(prefix, "*"))
		}
		out = append(out, schemaKeys(doc, ap, join(prefix, "*"), skip, depth+1)...)
	}
	if items, ok := node["items"].(map[string]any); ok {
		out = append(out, schemaKeys(doc, items, join(prefix, "[]"), skip, depth+1)...)
	}
	return out
}

func resolve(doc map[string]any, frag string) map[string]any {
	cur := any(doc)
	for _, tok := range strings.Split(strings.TrimPrefix(frag, "/"), "/") {
		if tok == "" {
			continue
		}
		m, _ := cur.(map[string]any)
		cur = m[tok]
	}
	m, _ := cur.(map[string]any)
	return m
}

func join(prefix, name string) string {
	if prefix == "" {
		return name
	}
	return prefix + "." + name
}
