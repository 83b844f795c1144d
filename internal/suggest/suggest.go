// Package suggest finds the valid name a mistyped one was probably meant to be ("did you mean"), for the command
// line, environment variables and the files users write.
package suggest

import (
	"strings"

	"github.com/agnivade/levenshtein"
)

// Closest is the candidate nearest to got, or "" when none is near enough to be a likely typo: two edits (a
// swapped pair of letters is two), or a third of the longer name's letters up to three, and fewer than got has;
// else the one candidate that begins with got (a name cut short).
func Closest(got string, candidates []string) string {
	if c := closest(got, candidates); c != "" {
		return c
	}
	var prefixed []string
	for _, c := range candidates {
		if len(got) >= 4 && strings.HasPrefix(strings.ToLower(c), strings.ToLower(got)) {
			prefixed = append(prefixed, c)
		}
	}
	if len(prefixed) == 1 {
		return prefixed[0]
	}
	return ""
}

func closest(got string, candidates []string) string {
	best, bestDist := "", 0
	for _, c := range candidates {
		d := levenshtein.ComputeDistance(strings.ToLower(got), strings.ToLower(c))
		limit := min(3, max(2, max(len(got), len(c))/3))
		// on a tie the longer name wins: a typo drops a letter more often than it adds one
		if d <= limit && d < len(got) && (best == "" || d < bestDist || d == bestDist && len(c) > len(best)) {
			best, bestDist = c, d
		}
	}
	return best
}

// DidYouMean is ` (did you mean "x"?)` for the closest candidate, or "".
func DidYouMean(got string, candidates []string) string {
	if c := Closest(got, candidates); c != "" && c != got {
		return ` (did you mean "` + c + `"?)`
	}
	return ""
}
