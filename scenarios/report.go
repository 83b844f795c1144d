package scenarios

import (
	"fmt"
	"io"
	"time"
)

// Report prints the results as a table of scenario × source, and for each failure the expected and received
// records side by side. It returns whether everything passed.
func Report(w io.Writer, results []Result) bool {
	width := len("scenario")
	for _, r := range results {
		width = max(width, len(r.Scenario))
	}
	passed := 0
	fmt.Fprintf(w, "%-*s  %-10s  %-6s  %8s  %7s\n", width, "scenario", "source", "result", "webhooks", "took")
	for _, r := range results {
		status := "FAIL"
		if r.Passed {
			status, passed = "pass", passed+1
		}
		fmt.Fprintf(w, "%-*s  %-10s  %-6s  %8d  %7s\n", width, r.Scenario, r.Source, status, r.Webhooks,
			r.Took.Round(time.Millisecond))
	}
	fmt.Fprintf(w, "\n%d of %d passed\n", passed, len(results))
	for _, r := range results {
		if r.Passed {
			continue
		}
		fmt.Fprintf(w, "\n--- FAIL %s × %s (run %s)\n", r.Scenario, r.Source, r.Run)
		for _, p := range r.Problems {
			fmt.Fprintf(w, "  ! %s\n", p)
		}
		fmt.Fprintf(w, "  %-60s | %s\n", "expected", "received")
		for i := 0; i < max(len(r.Expected), len(r.Received)); i++ {
			fmt.Fprintf(w, "  %-60s | %s\n", cell(r.Expected, i), cell(r.Received, i))
		}
	}
	return passed == len(results)
}

func cell(list []string, i int) string {
	if i >= len(list) {
		return ""
	}
	return list[i]
}
