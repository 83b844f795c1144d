package scenarios

import (
	"context"
	"fmt"
	"io"
	"slices"
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
		fmt.Fprintf(w, "  %-60s | %s\n", "expected", "received")
		for i := 0; i < max(len(r.Expected), len(r.Received)); i++ {
			fmt.Fprintf(w, "  %-60s | %s\n", cell(r.Expected, i), cell(r.Received, i))
		}
	}
}

func cell(list []string, i int) string {
	if i >= len(list) {
		return ""
	}
	return list[i]
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
