package service

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/valyala/fastjson"

	"github.com/ctharness/ctharness/internal/clip"
)

// maxJSONDepth bounds nesting: vendors' webhooks nest four or five levels; a thousand is an attack on the parser.
const maxJSONDepth = 32

// jsonGuard checks bodies one at a time; guards keeps them, with what they have grown, between webhooks.
type jsonGuard struct {
	parser fastjson.Parser
	scan   jsonScan
}

var guards = sync.Pool{New: func() any { return new(jsonGuard) }}

// check refuses bodies no vendor sends before any mapping looks at them: empty, not UTF-8, not one strict
// JSON value (RFC 8259), not an object, nested deeper than maxJSONDepth, or with a key repeated in an object (where
// parsers disagree on which value wins, so a relay and an auditor could read two different events from one body).
// The parsed value is returned for the mapping to read (valid until g is reused).
func (g *jsonGuard) check(body []byte) (*fastjson.Value, error) {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, fmt.Errorf("expected a JSON object body, got an empty body")
	}
	if !utf8.Valid(body) {
		return nil, fmt.Errorf("expected UTF-8 JSON, got an invalid UTF-8 sequence at byte %d", invalidUTF8At(body))
	}
	// one strict pass checks the grammar, the nesting and the keys; the parser (lenient: it reads "1.2.3" and NaN
	// as numbers) then only reads what passed, at a depth the pass has bounded
	top, err := g.scan.scan(body)
	switch {
	case err != nil && !(errors.As(err, new(repeatedKey)) && top != '{'):
		return nil, err
	case top != '{':
		return nil, fmt.Errorf("expected a JSON object, got a JSON %s", kindOf(top))
	}
	v, err := g.parser.ParseBytes(body)
	if err != nil { // the strict pass accepted it: a parser that disagrees is refused all the same
		return nil, fmt.Errorf("expected a JSON object, got invalid JSON: %v", err)
	}
	return v, nil
}

// kindOf names a JSON value by its first byte, as fastjson.Type does.
func kindOf(first byte) string {
	switch first {
	case '[':
		return "array"
	case '"':
		return "string"
	case 't':
		return "true"
	case 'f':
		return "false"
	case 'n':
		return "null"
	}
	return "number"
}

// repeatedKey is a key found twice in one object, and where that object is.
type repeatedKey struct {
	key   []byte
	where string
}

// Error names the key and its object cut to a bounded length: both come from the body, which may be a megabyte.
func (e repeatedKey) Error() string {
	return fmt.Sprintf("expected each key once per object, got %q more than once in %s",
		clip.Text(string(e.key), maxEchoedKey), clip.Text(e.where, maxEchoedPath))
}

// maxEchoedKey and maxEchoedPath bound what an error repeats of a body's keys.
const (
	maxEchoedKey  = 60
	maxEchoedPath = 120
)

func errTooDeep(at int) error {
	return fmt.Errorf("expected at most %d levels of nesting, got more at byte %d", maxJSONDepth, at)
}

// jsonScan is one strict pass over a body: recursive descent, at most maxJSONDepth calls deep, that keeps the
// keys of the objects it is in to find a repeat, and the path to where it is for error messages only.
type jsonScan struct {
	b []byte
	i int
	// keys of the open objects, the innermost last, and a fingerprint of each that most comparisons stop at
	keys         [][]byte
	fingerprints []uint64
	// mostKeys is the most keys held at once in this scan: what to clear after it
	mostKeys int
	// trail[d] is the step from nesting level d-1 to level d: an object key, or an array index
	trail [maxJSONDepth + 2]struct {
		key     []byte
		index   int
		inArray bool
	}
}

// scan checks the whole body and returns the first byte of its value (0 when there is none).
func (s *jsonScan) scan(body []byte) (byte, error) {
	s.b, s.i = body, 0
	defer func() { // the body is the caller's again, and one huge body does not leave its keys' room behind
		s.b = nil
		clear(s.keys[:s.mostKeys])
		s.keys, s.fingerprints, s.mostKeys = s.keys[:0], s.fingerprints[:0], 0
		if cap(s.keys) > maxKeysKept {
			s.keys, s.fingerprints = nil, nil
		}
	}()
	s.space()
	if s.i == len(s.b) {
		return 0, s.invalid("a JSON value")
	}
	top := s.b[s.i]
	if err := s.value(1); err != nil {
		return top, err
	}
	if s.space(); s.i < len(s.b) {
		return top, s.invalid("the end of the body after the JSON value")
	}
	return top, nil
}

func (s *jsonScan) space() {
	for s.i < len(s.b) && s.b[s.i] <= ' ' {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// invalid says what was expected at the current byte and what is there.
func (s *jsonScan) invalid(expected string) error {
	got := "the end of the body"
	if s.i < len(s.b) {
		r, _ := utf8.DecodeRune(s.b[s.i:]) // the body is valid UTF-8: checked before the scan
		got = fmt.Sprintf("%s at byte %d", strconv.QuoteRune(r), s.i)
	}
	return fmt.Errorf("expected a JSON object, got invalid JSON: expected %s, got %s", expected, got)
}

// value checks the value at s.i, which sits at nesting level depth when it is a container.
func (s *jsonScan) value(depth int) error {
	if s.i == len(s.b) {
		return s.invalid("a JSON value")
	}
	switch c := s.b[s.i]; {
	case c == '{' || c == '[':
		if depth > maxJSONDepth {
			return errTooDeep(s.i)
		}
		if c == '{' {
			return s.object(depth)
		}
		return s.array(depth)
	case c == '"':
		_, _, err := s.str()
		return err
	case c == '-' || '0' <= c && c <= '9':
		return s.number()
	case c == 't':
		return s.literal("true")
	case c == 'f':
		return s.literal("false")
	case c == 'n':
		return s.literal("null")
	}
	return s.invalid("a JSON value")
}

func (s *jsonScan) literal(word string) error {
	if !bytes.HasPrefix(s.b[s.i:], []byte(word)) {
		return s.invalid(word)
	}
	s.i += len(word)
	return nil
}

// number checks -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (s *jsonScan) number() error {
	if s.b[s.i] == '-' {
		s.i++
	}
	switch {
	case s.i < len(s.b) && s.b[s.i] == '0':
		s.i++
	case !s.digits():
		return s.invalid("a digit")
	}
	if s.i < len(s.b) && s.b[s.i] == '.' {
		if s.i++; !s.digits() {
			return s.invalid("a digit after the decimal point")
		}
	}
	if s.i < len(s.b) && (s.b[s.i] == 'e' || s.b[s.i] == 'E') {
		if s.i++; s.i < len(s.b) && (s.b[s.i] == '+' || s.b[s.i] == '-') {
			s.i++
		}
		if !s.digits() {
			return s.invalid("a digit in the exponent")
		}
	}
	return nil
}

func (s *jsonScan) digits() bool {
	start := s.i
	for s.i < len(s.b) && '0' <= s.b[s.i] && s.b[s.i] <= '9' {
		s.i++
	}
	return s.i > start
}

// str checks the string at s.i and returns its raw contents (between the quotes) and whether they hold an escape.
func (s *jsonScan) str() (raw []byte, escaped bool, err error) {
	s.i++
	start := s.i
	for s.i < len(s.b) {
		s.i += plainRun(s.b[s.i:])
		if s.i == len(s.b) {
			break
		}
		switch c := s.b[s.i]; {
		case c == '"':
			raw = s.b[start:s.i]
			s.i++
			return raw, escaped, nil
		case c == '\\':
			escaped = true
			if err := s.escape(); err != nil {
				return nil, false, err
			}
		case c < 0x20:
			return nil, false, s.invalid("a character of a string (control characters are escaped)")
		default:
			s.i++
		}
	}
	return nil, false, s.invalid(`the closing '"' of a string`)
}

// plainRun is how many bytes at the start of b need no look in a string (not '"', '\\' or a control character),
// eight at a time while it can: strings are most of a webhook's bytes.
func plainRun(b []byte) int {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	n := 0
	for ; n+8 <= len(b); n += 8 {
		x := binary.LittleEndian.Uint64(b[n:])
		quote, backslash := x^(ones*'"'), x^(ones*'\\')
		// a zero byte in quote or backslash, or a byte of x under 0x20, sets that byte's high bit
		// (https://graphics.stanford.edu/~seander/bithacks.html#ZeroInWord)
		special := (quote-ones)&^quote | (backslash-ones)&^backslash | (x-ones*0x20)&^x
		if special&highs != 0 {
			break
		}
	}
	for n < len(b) && b[n] >= 0x20 && b[n] != '"' && b[n] != '\\' {
		n++
	}
	return n
}

func (s *jsonScan) escape() error {
	s.i++
	if s.i == len(s.b) {
		return s.invalid("an escape")
	}
	switch s.b[s.i] {
	case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
		s.i++
		return nil
	case 'u':
		s.i++
		for range 4 {
			if s.i == len(s.b) || !isHex(s.b[s.i]) {
				return s.invalid(`four hexadecimal digits after \u`)
			}
			s.i++
		}
		return nil
	}
	return s.invalid(`an escape (one of \" \\ \/ \b \f \n \r \t \uXXXX)`)
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// keysInline is how many keys an object compares one by one: webhook objects have a few dozen, and comparing with
// the earlier ones costs less than a map; past that a set keeps the check linear (116k keys took 24 s compared
// pairwise).
const keysInline = 48

// maxKeysKept bounds the room for keys a pooled scan keeps between bodies.
const maxKeysKept = 1024

func (s *jsonScan) object(depth int) error {
	s.i++
	keys := objectKeys{start: len(s.keys)}
	defer func() { s.keys, s.fingerprints = s.keys[:keys.start], s.fingerprints[:keys.start] }()
	if s.space(); s.skip('}') {
		return nil
	}
	for {
		if s.i == len(s.b) || s.b[s.i] != '"' {
			return s.invalid(`a key (a string in '"')`)
		}
		k, escaped, err := s.str()
		if err != nil {
			return err
		}
		if escaped { // "\u0061" and "a" are one key: compare what they say
			k = unescapeKey(k)
		}
		if s.repeated(&keys, k) {
			return repeatedKey{key: k, where: s.path(depth)}
		}
		if s.space(); !s.skip(':') {
			return s.invalid("':' after a key")
		}
		s.space()
		s.trail[depth+1].key, s.trail[depth+1].inArray = k, false
		if err := s.value(depth + 1); err != nil {
			return err
		}
		if more, err := s.next('}', "',' or '}' after a value in an object"); !more {
			return err
		}
		s.space()
	}
}

// objectKeys is what an object's scan knows of its keys: where they start in jsonScan.keys, a bit for each
// fingerprint seen (a key whose bit is clear is new without a comparison) and, past keysInline keys, a set.
type objectKeys struct {
	start int
	seen  [2]uint64
	set   map[string]struct{}
}

// repeated says whether k is a key the object had already, and remembers it.
func (s *jsonScan) repeated(o *objectKeys, k []byte) bool {
	if o.set != nil {
		_, repeated := o.set[string(k)]
		o.set[string(k)] = struct{}{}
		return repeated
	}
	repeated, fp := false, fingerprint(k)
	bit := fp * 0x9E3779B97F4A7C15 >> 57 // Fibonacci hashing: the top 7 bits of the product
	if o.seen[bit/64]&(1<<(bit%64)) != 0 {
		for j, earlier := range s.fingerprints[o.start:] {
			repeated = repeated || earlier == fp && string(s.keys[o.start+j]) == string(k)
		}
	}
	o.seen[bit/64] |= 1 << (bit % 64)
	s.keys, s.fingerprints = append(s.keys, k), append(s.fingerprints, fp)
	s.mostKeys = max(s.mostKeys, len(s.keys))
	if len(s.keys)-o.start == keysInline {
		o.set = make(map[string]struct{}, 2*keysInline)
		for _, key := range s.keys[o.start:] {
			o.set[string(key)] = struct{}{}
		}
	}
	return repeated
}

// skip steps over the byte at s.i when it is c.
func (s *jsonScan) skip(c byte) bool {
	if s.i < len(s.b) && s.b[s.i] == c {
		s.i++
		return true
	}
	return false
}

// next reads what follows a member of a container: ',' (more follows) or its closing byte (it ends).
func (s *jsonScan) next(closing byte, expected string) (more bool, err error) {
	s.space()
	switch {
	case s.skip(','):
		return true, nil
	case s.skip(closing):
		return false, nil
	}
	return false, s.invalid(expected)
}

// fingerprint packs a key's length and three of its bytes: keys that differ mostly differ there.
func fingerprint(k []byte) uint64 {
	if len(k) == 0 {
		return 0
	}
	return uint64(len(k)) | uint64(k[0])<<32 | uint64(k[len(k)/2])<<40 | uint64(k[len(k)-1])<<48
}

func (s *jsonScan) array(depth int) error {
	s.i++
	if s.space(); s.skip(']') {
		return nil
	}
	for index := 0; ; index++ {
		s.trail[depth+1].index, s.trail[depth+1].inArray = index, true
		if err := s.value(depth + 1); err != nil {
			return err
		}
		if more, err := s.next(']', "',' or ']' after a value in an array"); !more {
			return err
		}
		s.space()
	}
}

// unescapeKey reads a checked string's escapes as encoding/json reads them (a lone surrogate is U+FFFD).
func unescapeKey(raw []byte) []byte {
	out := make([]byte, 0, len(raw))
	for i := 0; i < len(raw); i++ {
		if raw[i] != '\\' {
			out = append(out, raw[i])
			continue
		}
		i++
		switch c := raw[i]; c {
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r := hex4(raw[i+1:])
			i += 4
			if utf16.IsSurrogate(r) {
				r2 := utf8.RuneError
				if i+6 < len(raw) && raw[i+1] == '\\' && raw[i+2] == 'u' {
					r2 = hex4(raw[i+3:])
				}
				if pair := utf16.DecodeRune(r, r2); pair != utf8.RuneError {
					r, i = pair, i+6
				} else {
					r = utf8.RuneError
				}
			}
			out = utf8.AppendRune(out, r)
		default: // " \ /
			out = append(out, c)
		}
	}
	return out
}

// hex4 reads four hexadecimal digits that the scan has checked.
func hex4(b []byte) rune {
	var r rune
	for _, c := range b[:4] {
		switch {
		case c <= '9':
			r = r<<4 | rune(c-'0')
		case c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			r = r<<4 | rune(c-'a'+10)
		}
	}
	return r
}

// path spells out where level depth is, e.g. subscriber_attributes.$email or items[2].
func (s *jsonScan) path(depth int) string {
	if depth <= 1 {
		return "the top-level object"
	}
	var b []byte
	for _, step := range s.trail[2 : depth+1] {
		switch {
		case step.inArray:
			b = fmt.Appendf(b, "[%d]", step.index)
		case len(b) > 0:
			b = append(append(b, '.'), step.key...)
		default:
			b = append(b, step.key...)
		}
	}
	return string(b)
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
