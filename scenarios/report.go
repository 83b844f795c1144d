package scenarios

import (
	"fmt"
	"io"
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
