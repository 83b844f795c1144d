package readme_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

var (
	linkRE    = regexp.MustCompile(`!?\[[^\]]*\]\(([^)\s]+)\)`)
	headingRE = regexp.MustCompile(`^#{1,6} (.+)$`)
	slugDrop  = regexp.MustCompile(`[^\p{L}\p{N}\- _]`)
)

// slug is the anchor GitHub gives a heading: lower case, punctuation dropped, spaces as hyphens.
func slug(heading string) string {
	return strings.ReplaceAll(slugDrop.ReplaceAllString(strings.ToLower(strings.TrimSpace(heading)), ""), " ", "-")
}

// outsideCode is a page's lines outside fenced code blocks, in order; the lines inside are blanked.
func outsideCode(text string) []string {
	lines := strings.Split(text, "\n")
	fenced := false
	for i, line := range lines {
		if strings.HasPrefix(strings.TrimSpace(line), "```") {
			fenced = !fenced
			lines[i] = ""
			continue
		}
		if fenced {
			lines[i] = ""
		}
	}
	return lines
}

// anchors are the anchors a page's headings give (a repeated heading gets -1, -2, as on GitHub).
func anchors(text string) map[string]bool {
	seen := map[string]int{}
	out := map[string]bool{}
	for _, line := range outsideCode(text) {
		if m := headingRE.FindStringSubmatch(line); m != nil {
			s := slug(m[1])
			if n := seen[s]; n > 0 {
				out[s+"-"+strconv.Itoa(n)] = true
			}
			seen[s]++
			out[s] = true
		}
	}
	return out
}

// TestEveryLinkLeadsSomewhere: each relative link of the README and of docs/*.md names a file of the repository,
// and each #anchor a heading of its page.
func TestEveryLinkLeadsSomewhere(t *testing.T) {
	checked := 0
	for _, page := range documentation(t) {
		raw, err := os.ReadFile(page)
		if err != nil {
			t.Fatal(err)
		}
		for i, line := range outsideCode(string(raw)) {
			n := i + 1
			for _, m := range linkRE.FindAllStringSubmatch(line, -1) {
				target := m[1]
				if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
					continue
				}
				checked++
				file, anchor, _ := strings.Cut(target, "#")
				path := page
				if file != "" {
					path = filepath.Join(filepath.Dir(page), file)
					if _, err := os.Stat(path); err != nil {
						t.Errorf("%s:%d: %s leads nowhere: no %s", page, n, target, path)
						continue
					}
				}
				if anchor == "" {
					continue
				}
				text, err := os.ReadFile(path)
				if err != nil {
					t.Errorf("%s:%d: %s: %v", page, n, target, err)
					continue
				}
				if !anchors(string(text))[anchor] {
					t.Errorf("%s:%d: %s: %s has no heading whose anchor is #%s", page, n, target, path, anchor)
				}
			}
		}
	}
	if checked < 20 {
		t.Fatalf("only %d relative links found in the documentation; the reader is broken", checked)
	}
}

func TestSlugsAreGitHubs(t *testing.T) {
	for heading, want := range map[string]string{
		"Admin API (`/_sim/`)": "admin-api-_sim",
		"`simulator serve`":    "simulator-serve",
		"Choices where CleverTap's behaviour is not documented": "choices-where-clevertaps-behaviour-is-not-documented",
		"Reading back: one verification for the fake and for a real account": "reading-back-one-verification-for-the-" +
			"fake-and-for-a-real-account",
	} {
		if got := slug(heading); got != want {
			t.Errorf("slug(%q) = %q, want %q", heading, got, want)
		}
	}
}
