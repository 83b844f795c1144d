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

// Secret shows a credential's first characters and its length (short ones not at all), so a log or a terminal
// can tell which one was used without keeping it.
func Secret(v string) string {
	if len(v) <= 8 {
		return strings.Repeat("*", len(v))
	}
	return v[:6] + "…(" + strconv.Itoa(len(v)) + " chars)"
}
