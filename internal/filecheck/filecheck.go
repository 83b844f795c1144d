// Package filecheck checks a YAML file a user wrote against its JSON Schema, entirely and before anything uses
// it, and says what is wrong as people read it: file:line:column, the key path (steps[3].product.period), what
// was expected and what arrived, and a "did you mean" for near misses; never a Go type. It also places the
// domain's own later checks ("sources.revenuecat.clevertap.region: ...") at their line and column.
package filecheck

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"slices"
	"strconv"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"go.yaml.in/yaml/v3"
	"golang.org/x/text/language"
	"golang.org/x/text/message"

	"github.com/ctharness/ctharness/internal/suggest"
)

// Schema is a compiled JSON Schema for one kind of file, with the documents it was built from (their
// "x-expected" texts and property names make the messages).
type Schema struct {
	sch  *jsonschema.Schema
	docs map[string]any
}

// Compile builds the schema main out of docs (resource name → JSON Schema text); main may $ref the others.
func Compile(main string, docs map[string][]byte) (*Schema, error) {
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	s := &Schema{docs: map[string]any{}}
	for name, raw := range docs {
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
		if err != nil {
			return nil, fmt.Errorf("schema %s: %w", name, err)
		}
		if err := c.AddResource(name, doc); err != nil {
			return nil, fmt.Errorf("schema %s: %w", name, err)
		}
		s.docs[name] = doc
	}
	sch, err := c.Compile(main)
	if err != nil {
		return nil, fmt.Errorf("schema %s: %w", main, err)
	}
	s.sch = sch
	return s, nil
}

// Problem is one thing wrong in a file.
type Problem struct {
	Line, Column int
	// Path is the key path, e.g. steps[3].product.period ("" for the whole document).
	Path    string
	Message string
	// key is the key a problem is about, as a JSON pointer: a key missing, or the key a misspelt one was likely
	// meant to be (then the misspelling explains the missing key, and only it is reported)
	missing, meant string
}

// Error is everything wrong in one file, in the order of the file.
type Error struct {
	File     string
	Problems []Problem
}

func (e *Error) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		where := e.File
		if p.Line > 0 {
			where = fmt.Sprintf("%s:%d:%d", e.File, p.Line, p.Column)
		}
		if p.Path != "" {
			where += ": " + p.Path
		}
		lines[i] = where + ": " + p.Message
	}
	return strings.Join(lines, "\n")
}

// doc is a parsed file: its root node and where each value and key sits.
type doc struct {
	root   *yaml.Node
	values map[string]*yaml.Node // JSON pointer → value node
	keys   map[string]*yaml.Node // JSON pointer → key node (for mapping entries)
	errs   []Problem
}

// Check parses data as one YAML document and validates it against the schema. It returns the document's root
// node for the decoding that follows, or an *Error listing every problem.
func (s *Schema) Check(file string, data []byte) (*yaml.Node, error) {
	var root yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&root); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, &Error{File: file, Problems: []Problem{{Message: "expected a YAML document, got an empty file"}}}
		}
		return nil, &Error{File: file, Problems: []Problem{syntaxProblem(err, data)}}
	}
	d := &doc{root: &root, values: map[string]*yaml.Node{}, keys: map[string]*yaml.Node{}}
	top := &root
	if top.Kind == yaml.DocumentNode && len(top.Content) == 1 {
		top = top.Content[0]
	}
	inst := d.instance(top, "")
	if len(d.errs) > 0 {
		return nil, &Error{File: file, Problems: d.errs}
	}
	err := s.sch.Validate(inst)
	if err == nil {
		return top, nil
	}
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return nil, &Error{File: file, Problems: []Problem{{Message: err.Error()}}}
	}
	var problems []Problem
	s.collect(d, ve, &problems)
	problems = explained(problems)
	slices.SortStableFunc(problems, func(a, b Problem) int {
		if a.Line != b.Line {
			return a.Line - b.Line
		}
		return a.Column - b.Column
	})
	problems = slices.CompactFunc(problems, func(a, b Problem) bool { return a == b })
	return nil, &Error{File: file, Problems: problems}
}

// explained drops a missing key that a misspelt key explains ("expcet" for "expect"): the misspelling, with its
// did-you-mean, is the one thing to fix.
func explained(problems []Problem) []Problem {
	meant := map[string]bool{}
	for _, p := range problems {
		if p.meant != "" {
			meant[p.meant] = true
		}
	}
	return slices.DeleteFunc(problems, func(p Problem) bool { return p.missing != "" && meant[p.missing] })
}

// syntaxProblem turns a YAML syntax error ("yaml: line 3: ...") into a problem at the line that caused it. The
// parser names the line where the enclosing block began (a bad indent on line 16 comes as "line 1"), so the line
// is found again: the first prefix of the document, cut at a line's end, that fails with the same words.
func syntaxProblem(err error, data []byte) Problem {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	p := Problem{Message: "not valid YAML: " + msg}
	rest, ok := strings.CutPrefix(msg, "line ")
	if !ok {
		return p
	}
	n, tail, ok := strings.Cut(rest, ": ")
	line, convErr := strconv.Atoi(n)
	if !ok || convErr != nil {
		return p
	}
	p.Line, p.Column, p.Message = line, 1, "not valid YAML: "+tail
	if at, col := offendingLine(data, tail); at > 0 {
		p.Line, p.Column = at, col
		if at != line {
			p.Message += fmt.Sprintf(" (in the block that begins on line %d: is this line indented as its "+
				"neighbours are?)", line)
		}
	}
	return p
}

// maxBisectLines bounds the re-parsing syntaxProblem does (once per line, on a file that is already wrong).
const maxBisectLines = 2000

// offendingLine is the first line at whose end the document fails to parse with the same problem, and the column
// of its first character; 0 when none does.
func offendingLine(data []byte, problem string) (line, column int) {
	lines := strings.SplitAfter(string(data), "\n")
	if len(lines) > maxBisectLines {
		return 0, 0
	}
	var prefix strings.Builder
	for i, l := range lines {
		prefix.WriteString(l)
		var n yaml.Node
		err := yaml.Unmarshal([]byte(prefix.String()), &n)
		if err == nil {
			continue
		}
		_, words, _ := strings.Cut(strings.TrimPrefix(err.Error(), "yaml: line "), ": ")
		if words == problem {
			return i + 1, len(l) - len(strings.TrimLeft(l, " \t")) + 1
		}
	}
	return 0, 0
}

// instance converts a node into the value JSON Schema validates, noting where each value and key sits.
func (d *doc) instance(n *yaml.Node, ptr string) any {
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	d.values[ptr] = n
	switch n.Kind {
	case yaml.MappingNode:
		m := map[string]any{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			child := ptr + "/" + escape(k.Value)
			if _, dup := m[k.Value]; dup {
				d.errs = append(d.errs, Problem{Line: k.Line, Column: k.Column, Path: pathOf(child),
					Message: fmt.Sprintf("the key %q appears twice in this mapping", k.Value)})
			}
			d.keys[child] = k
			m[k.Value] = d.instance(v, child)
		}
		return m
	case yaml.SequenceNode:
		list := make([]any, len(n.Content))
		for i, c := range n.Content {
			list[i] = d.instance(c, ptr+"/"+strconv.Itoa(i))
		}
		return list
	case yaml.ScalarNode:
		return scalar(n)
	}
	return nil
}

// scalar is a YAML scalar as JSON would have it.
func scalar(n *yaml.Node) any {
	switch n.ShortTag() {
	case "!!null":
		return nil
	case "!!bool":
		var b bool
		if n.Decode(&b) == nil {
			return b
		}
	case "!!int":
		var i int64
		if n.Decode(&i) == nil {
			return json.Number(strconv.FormatInt(i, 10))
		}
	case "!!float":
		var f float64
		if n.Decode(&f) == nil && !isSpecial(f) {
			return json.Number(strconv.FormatFloat(f, 'g', -1, 64))
		}
	}
	return n.Value
}

func isSpecial(f float64) bool { return f != f || f > 1e308 || f < -1e308 }

func escape(key string) string {
	return strings.NewReplacer("~", "~0", "/", "~1").Replace(key)
}

// pathOf renders a JSON pointer as people write key paths: steps[3].product.period.
func pathOf(ptr string) string {
	if ptr == "" {
		return ""
	}
	var b strings.Builder
	for _, tok := range strings.Split(ptr[1:], "/") {
		tok = strings.NewReplacer("~1", "/", "~0", "~").Replace(tok)
		if _, err := strconv.Atoi(tok); err == nil {
			b.WriteString("[" + tok + "]")
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(tok)
	}
	return b.String()
}

func pointer(tokens []string) string {
	var b strings.Builder
	for _, t := range tokens {
		b.WriteString("/" + escape(t))
	}
	return b.String()
}

// collect turns a validation error tree into problems. Of the branches of an anyOf or oneOf, the ones that
// failed only on their type are the forms the value was not trying to be; the others say what is wrong.
func (s *Schema) collect(d *doc, e *jsonschema.ValidationError, out *[]Problem) {
	switch e.ErrorKind.(type) {
	case *kind.AnyOf, *kind.OneOf:
		var trying []*jsonschema.ValidationError
		for _, c := range e.Causes {
			if !onlyTypeErrors(c) {
				trying = append(trying, c)
			}
		}
		if len(trying) == 0 {
			*out = append(*out, s.problem(d, e, "expected "+s.expected(e, "one of the forms the schema allows")+
				", got "+describe(d.values[pointer(e.InstanceLocation)])))
			return
		}
		// several forms may be near: the one whose problem lies deepest is the one the value was meant to be
		best := trying[0]
		for _, c := range trying[1:] {
			if depth(c) > depth(best) {
				best = c
			}
		}
		s.collect(d, best, out)
		return
	}
	if len(e.Causes) > 0 {
		for _, c := range e.Causes {
			s.collect(d, c, out)
		}
		return
	}
	s.leaf(d, e, out)
}

func onlyTypeErrors(e *jsonschema.ValidationError) bool {
	if len(e.Causes) == 0 {
		switch k := e.ErrorKind.(type) {
		case *kind.Type:
			return true
		case *kind.Enum:
			// a mapping or a list against an enum of scalars is the wrong form, not a wrong value
			return !slices.ContainsFunc(k.Want, func(w any) bool { return sameKind(w, k.Got) })
		case *kind.Const:
			return !sameKind(k.Want, k.Got)
		}
		return false
	}
	for _, c := range e.Causes {
		if !onlyTypeErrors(c) {
			return false
		}
	}
	return true
}

// sameKind says whether two JSON values are both scalars, both mappings or both lists.
func sameKind(a, b any) bool {
	shape := func(v any) int {
		switch v.(type) {
		case map[string]any:
			return 1
		case []any:
			return 2
		}
		return 0
	}
	return shape(a) == shape(b)
}

func depth(e *jsonschema.ValidationError) int {
	d := len(e.InstanceLocation)
	for _, c := range e.Causes {
		d = max(d, depth(c))
	}
	return d
}

func (s *Schema) leaf(d *doc, e *jsonschema.ValidationError, out *[]Problem) {
	ptr := pointer(e.InstanceLocation)
	node := d.values[ptr]
	got := describe(node)
	switch k := e.ErrorKind.(type) {
	case *kind.AdditionalProperties:
		valid := s.propertyNames(e)
		for _, name := range k.Properties {
			p := Problem{Path: pathOf(ptr + "/" + escape(name)), Message: fmt.Sprintf("unknown key %q%s", name,
				suggest.DidYouMean(name, valid))}
			if c := suggest.Closest(name, valid); c != "" {
				p.meant = ptr + "/" + escape(c)
			}
			if len(valid) > 0 {
				p.Message += "; expected one of " + strings.Join(valid, ", ")
			}
			if key := d.keys[ptr+"/"+escape(name)]; key != nil {
				p.Line, p.Column = key.Line, key.Column
			}
			*out = append(*out, p)
		}
		return
	case *kind.Required:
		for _, name := range k.Missing {
			p := s.problem(d, e, fmt.Sprintf("expected the key %q, got none", name))
			if x := s.expectedOf(e, "properties", name); x != "" {
				p.Message = fmt.Sprintf("expected the key %q (%s), got none", name, x)
			}
			p.missing = ptr + "/" + escape(name)
			*out = append(*out, p)
		}
		return
	case *kind.Enum:
		want := make([]string, len(k.Want))
		for i, w := range k.Want {
			want[i] = fmt.Sprint(w)
		}
		msg := "expected " + s.expected(e, "one of "+strings.Join(want, ", ")) + ", got " + got
		if str, ok := k.Got.(string); ok {
			msg += suggest.DidYouMean(str, want)
		}
		*out = append(*out, s.problem(d, e, msg))
		return
	case *kind.Const:
		*out = append(*out, s.problem(d, e, fmt.Sprintf("expected %s, got %s", s.expected(e,
			fmt.Sprintf("%q", fmt.Sprint(k.Want))), got)))
		return
	case *kind.Type:
		*out = append(*out, s.problem(d, e, "expected "+s.expected(e, typeWords(k.Want))+", got "+got))
		return
	case *kind.Minimum:
		*out = append(*out, s.problem(d, e, "expected "+s.expected(e, "at least "+ratString(k.Want))+", got "+got))
		return
	case *kind.Maximum:
		*out = append(*out, s.problem(d, e, "expected "+s.expected(e, "at most "+ratString(k.Want))+", got "+got))
		return
	case *kind.ExclusiveMinimum:
		*out = append(*out, s.problem(d, e, "expected "+s.expected(e, "more than "+ratString(k.Want))+", got "+got))
		return
	case *kind.MinItems:
		*out = append(*out, s.problem(d, e, fmt.Sprintf("expected %s, got %d", s.expected(e,
			fmt.Sprintf("at least %d item(s)", k.Want)), k.Got)))
		return
	case *kind.MinLength:
		*out = append(*out, s.problem(d, e, "expected "+s.expected(e, "a value that is not empty")+", got "+got))
		return
	case *kind.MinProperties:
		*out = append(*out, s.problem(d, e, fmt.Sprintf("expected %s, got a mapping of %d key(s)", s.expected(e,
			fmt.Sprintf("at least %d key(s)", k.Want)), k.Got)))
		return
	case *kind.MaxProperties:
		*out = append(*out, s.problem(d, e, fmt.Sprintf("expected %s, got a mapping of %d key(s)", s.expected(e,
			fmt.Sprintf("at most %d key(s)", k.Want)), k.Got)))
		return
	case *kind.Pattern, *kind.Format:
		*out = append(*out, s.problem(d, e, "expected "+s.expected(e, "another form")+", got "+got))
		return
	}
	*out = append(*out, s.problem(d, e, e.ErrorKind.LocalizedString(message.NewPrinter(language.English))))
}

// problem is a message placed at the value the error is about.
func (s *Schema) problem(d *doc, e *jsonschema.ValidationError, msg string) Problem {
	ptr := pointer(e.InstanceLocation)
	p := Problem{Path: pathOf(ptr), Message: msg}
	if n := d.values[ptr]; n != nil {
		p.Line, p.Column = n.Line, n.Column
	}
	return p
}

// subschema is the schema object an error points at (its SchemaURL, "name#/json/pointer").
func (s *Schema) subschema(url string) map[string]any {
	name, frag, _ := strings.Cut(url, "#")
	cur := s.docs[name]
	for _, tok := range strings.Split(strings.TrimPrefix(frag, "/"), "/") {
		if tok == "" {
			continue
		}
		tok = strings.NewReplacer("~1", "/", "~0", "~").Replace(tok)
		switch v := cur.(type) {
		case map[string]any:
			cur = v[tok]
		case []any:
			i, err := strconv.Atoi(tok)
			if err != nil || i >= len(v) {
				return nil
			}
			cur = v[i]
		default:
			return nil
		}
	}
	m, _ := cur.(map[string]any)
	return m
}

// expected is the "x-expected" text of the failing schema, or of the anyOf, oneOf or allOf it is a branch of,
// else fallback.
func (s *Schema) expected(e *jsonschema.ValidationError, fallback string) string {
	url := e.SchemaURL
	for {
		if sub := s.subschema(url); sub != nil {
			if x, ok := sub["x-expected"].(string); ok {
				return x
			}
		}
		parent, ok := cutBranch(url)
		if !ok {
			return fallback
		}
		url = parent
	}
}

// cutBranch takes ".../anyOf/1" (or oneOf, allOf) off a schema URL.
func cutBranch(url string) (string, bool) {
	i := strings.LastIndex(url, "/")
	if i < 0 {
		return "", false
	}
	rest := url[:i]
	j := strings.LastIndex(rest, "/")
	if j < 0 {
		return "", false
	}
	switch rest[j+1:] {
	case "anyOf", "oneOf", "allOf":
		return rest[:j], true
	}
	return "", false
}

// expectedOf is the x-expected text of a named property of the failing schema.
func (s *Schema) expectedOf(e *jsonschema.ValidationError, keyword, name string) string {
	sub := s.subschema(e.SchemaURL)
	props, _ := sub[keyword].(map[string]any)
	prop, _ := props[name].(map[string]any)
	x, _ := prop["x-expected"].(string)
	return x
}

// propertyNames are the keys the failing schema declares.
func (s *Schema) propertyNames(e *jsonschema.ValidationError) []string {
	sub := s.subschema(e.SchemaURL)
	props, _ := sub["properties"].(map[string]any)
	names := make([]string, 0, len(props))
	for k := range props {
		names = append(names, k)
	}
	slices.Sort(names)
	return names
}

func typeWords(want []string) string {
	words := make([]string, len(want))
	for i, w := range want {
		words[i] = map[string]string{"object": "a mapping", "array": "a list", "string": "text",
			"integer": "a whole number", "number": "a number", "boolean": "true or false", "null": "nothing"}[w]
	}
	return strings.Join(words, " or ")
}

func ratString(r *big.Rat) string {
	if r.IsInt() {
		return r.Num().String()
	}
	f, _ := r.Float64()
	return strconv.FormatFloat(f, 'g', -1, 64)
}

// describe says what a value is, for "got ...": a scalar as written, a mapping or a list by its kind.
func describe(n *yaml.Node) string {
	if n == nil {
		return "nothing"
	}
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	}
	switch n.ShortTag() {
	case "!!str":
		return strconv.Quote(n.Value)
	case "!!null":
		return "nothing (null)"
	}
	return n.Value
}

// At places a later check's error at its key: an error whose text starts with a key path ("sources.revenuecat
// .clevertap.region: expected ...") becomes file:line:column: key path: message. Other errors just get the file.
func At(file string, root *yaml.Node, err error) error {
	if err == nil {
		return nil
	}
	var fe *Error
	if errors.As(err, &fe) {
		return err
	}
	msg := err.Error()
	path, rest, ok := strings.Cut(msg, ": ")
	if ok && !strings.ContainsAny(path, " ") {
		if n := Locate(root, path); n != nil {
			return &Error{File: file, Problems: []Problem{{Line: n.Line, Column: n.Column, Path: path, Message: rest}}}
		}
	}
	return &Error{File: file, Problems: []Problem{{Message: msg}}}
}

// Locate finds the node at a key path (a.b[2].c); for a path whose last key is absent, its parent.
func Locate(root *yaml.Node, path string) *yaml.Node {
	n := root
	if n != nil && n.Kind == yaml.DocumentNode && len(n.Content) == 1 {
		n = n.Content[0]
	}
	for _, part := range strings.Split(strings.ReplaceAll(path, "[", ".["), ".") {
		if part == "" || n == nil {
			continue
		}
		if idx, ok := strings.CutPrefix(part, "["); ok {
			i, err := strconv.Atoi(strings.TrimSuffix(idx, "]"))
			if err != nil || n.Kind != yaml.SequenceNode || i >= len(n.Content) {
				return n
			}
			n = n.Content[i]
			continue
		}
		if n.Kind != yaml.MappingNode {
			return n
		}
		found := false
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == part {
				n, found = n.Content[i+1], true
				break
			}
		}
		if !found {
			return n
		}
	}
	return n
}
