package scenarios

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/ctharness/ctharness/simulator/inspector"
)

// ReportFailures prints each failed run: where in its file, what went wrong, and the expected and received
// records side by side.
func ReportFailures(w io.Writer, results []Result) {
	for _, r := range results {
		if r.Passed {
			continue
		}
		fmt.Fprintf(w, "\n--- FAIL %s × %s (run %s) %s:%d\n", r.Scenario, r.Source, r.Run, r.File, r.Line)
		for _, p := range r.Problems {
			fmt.Fprintf(w, "  ! %s\n", p)
		}
		kind := ""
		for _, row := range r.Rows {
			if row.Kind != kind {
				kind = row.Kind
				printRow(w, "expected at "+map[string]string{"clevertap": "CleverTap", "piano": "Piano"}[kind],
					"received")
			}
			printRow(w, row.expectedText, row.receivedText)
		}
	}
}

// cellWidth is a column of the failure report: two side by side fit 120 characters.
const cellWidth = 56

// printRow prints two cells side by side, each wrapped at cellWidth.
func printRow(w io.Writer, left, right string) {
	l, r := wrap(left, cellWidth), wrap(right, cellWidth)
	for i := 0; i < max(len(l), len(r)); i++ {
		fmt.Fprintf(w, "  %-*s | %s\n", cellWidth, line(l, i), line(r, i))
	}
}

func line(lines []string, i int) string {
	if i >= len(lines) {
		return ""
	}
	return lines[i]
}

// wrap cuts text into lines of at most width characters, at spaces where it can.
func wrap(text string, width int) []string {
	var out []string
	for r := []rune(text); len(r) > 0; {
		if len(r) <= width {
			out = append(out, string(r))
			break
		}
		cut := width
		for k := width; k > width/2; k-- {
			if r[k] == ' ' {
				cut = k
				break
			}
		}
		out = append(out, strings.TrimRight(string(r[:cut]), " "))
		r = []rune(strings.TrimLeft(string(r[cut:]), " "))
	}
	if len(out) == 0 {
		out = []string{""}
	}
	return out
}

// Player plays scenarios for the inspector's scenario panel, against a target.
type Player struct {
	Target Target
	List   []*Scenario
}

// Scenarios lists what the panel can play.
func (p Player) Scenarios() []inspector.Scenario {
	out := make([]inspector.Scenario, len(p.List))
	for i, s := range p.List {
		out[i] = inspector.Scenario{Name: s.Name, Description: s.Description, Labels: s.Labels, Sources: s.Sources}
	}
	return out
}

// Play plays one scenario through one source.
func (p Player) Play(ctx context.Context, name, source string) (inspector.Run, error) {
	for _, s := range p.List {
		if s.Name == name && slices.Contains(s.Sources, source) {
			return RunOf(Play(ctx, s, source, p.Target)), nil
		}
	}
	return inspector.Run{}, fmt.Errorf("no scenario %q plays through %q", name, source)
}

// RunOf is a result as the inspector shows it.
func RunOf(r Result) inspector.Run {
	return inspector.Run{Scenario: r.Scenario, Source: r.Source, RunID: r.Run, File: r.File, Line: r.Line,
		Passed: r.Passed, Problems: r.Problems, Expected: r.Expected, Received: r.Received, Webhooks: r.Webhooks,
		TookMS: float64(r.Took.Microseconds()) / 1000, At: time.Now().UTC()}
}
