// Package clip bounds what the harness echoes into answers, logs and terminals: a long value arrived from outside
// is cut, and a credential is never shown whole.
package clip

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// Text cuts s to at most n bytes, at a character boundary, and marks the cut with "…".
func Text(s string, n int) string {
	s = strings.TrimSpace(s)
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// MaxHeader bounds a header of the harness's own (X-Simulator-Diagnosis): a diagnosis quotes what arrived, and
// what arrived can be a megabyte.
const MaxHeader = 4 << 10

// Header joins parts for one header line, "; " between them, at most MaxHeader bytes, control characters (which
// would end or split the line) as spaces.
func Header(parts []string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, Text(strings.Join(parts, "; "), MaxHeader))
}

// MaxNote bounds one note of a diagnosis and MaxNotes their number: a diagnosis quotes what arrived, which may
// be huge or come a thousand times in one request.
const (
	MaxNote  = 1 << 10
	MaxNotes = 32
)

// Note appends a note to a diagnosis, clipped to MaxNote bytes; beyond MaxNotes notes it says once that more were
// not kept.
func Note(notes []string, note string) []string {
	switch n := len(notes); {
	case n < MaxNotes:
		return append(notes, Text(note, MaxNote))
	case n == MaxNotes:
		return append(notes, "more notes not kept")
	}
	return notes
}

// Secret shows a credential's first characters and its length (short ones not at all), so a log or a terminal
// can tell which one was used without keeping it.
func Secret(v string) string {
	if len(v) <= 8 {
		return strings.Repeat("*", len(v))
	}
	return v[:6] + "…(" + strconv.Itoa(len(v)) + " chars)"
}
