// Package bench measures the harness for `make bench` (docs/performance.md): every figure next to a
// baseline measured in the same run, and their ratio. The fake CleverTap and the relay run as their real
// binaries (separate processes, so their memory can be read from /proc), the baselines as processes of the bench
// binary itself, and the load comes from the same generator as `simulator load`.
package bench

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ctharness/ctharness/harness"
)

// Figure is one line of the table.
type Figure struct {
	Name     string
	Unit     string
	Measured float64
	Baseline float64
	// BaselineName says what the baseline is.
	BaselineName string
	// Goal is the figure's goal in words; Met says whether the figure meets it.
	Goal string
	Met  bool
	// Runs are the measures of repeated runs, when the figure is their worst (Measured is then the worst).
	Runs []float64
	// BaselineRuns are the baseline's measures before and after, when Baseline is their mean.
	BaselineRuns []float64
}

// spread says how repeated runs went: "worst of 3; 5.6 to 90.2", and "baseline 36182 before, 30250 after".
func (f Figure) spread() string {
	out := ""
	if len(f.Runs) >= 2 {
		out = fmt.Sprintf(" [worst of %d; %s to %s]", len(f.Runs), format(slices.Min(f.Runs)), format(slices.Max(f.Runs)))
	}
	if len(f.BaselineRuns) == 2 {
		out += fmt.Sprintf(" [baseline %s before, %s after]", format(f.BaselineRuns[0]), format(f.BaselineRuns[1]))
	}
	return out
}

// Ratio is measured / baseline.
func (f Figure) Ratio() float64 {
	if f.Baseline == 0 {
		return 0
	}
	return f.Measured / f.Baseline
}

// Print writes the table.
func Print(w io.Writer, figures []Figure) {
	fmt.Fprintf(w, "\n%-46s %14s %14s %7s  %-34s %s\n", "figure", "measured", "baseline", "ratio", "baseline is", "goal")
	for _, f := range figures {
		met := "met"
		if !f.Met {
			met = "MISSED"
		}
		fmt.Fprintf(w, "%-46s %14s %14s %7.2f  %-34s %s (%s)%s\n", f.Name+" ("+f.Unit+")", format(f.Measured),
			format(f.Baseline), f.Ratio(), f.BaselineName, f.Goal, met, f.spread())
	}
}

func format(v float64) string {
	switch {
	case v >= 1000:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case v >= 10:
		return strconv.FormatFloat(v, 'f', 1, 64)
	}
	return strconv.FormatFloat(v, 'f', 2, 64)
}

// start runs a program as a process of the bench on a free loopback port (its arguments get the address through
// "{addr}"), with its output in logDir, and waits until its health path answers.
func start(ctx context.Context, logDir, name, bin string, args []string, health string) (*harness.Process, error) {
	addr, err := harness.FreeAddr()
	if err != nil {
		return nil, err
	}
	args = slices.Clone(args)
	for i, a := range args {
		args[i] = strings.ReplaceAll(a, "{addr}", addr)
	}
	p := &harness.Process{Name: name, Bin: bin, Args: args, Addr: addr, Health: health, LogDir: logDir,
		StopTimeout: 10 * time.Second}
	if err := p.Start(ctx); err != nil {
		return nil, err
	}
	return p, nil
}

// sampler follows a process's memory every 50 ms and keeps the highest anonymous and file-backed figures.
type sampler struct {
	mu   sync.Mutex
	max  harness.Memory
	stop chan struct{}
	done chan struct{}
}

func sample(pid int) *sampler {
	s := &sampler{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		for {
			if m, err := harness.ProcessMemory(pid); err == nil {
				s.mu.Lock()
				s.max.Anon, s.max.File, s.max.Peak = max(s.max.Anon, m.Anon), max(s.max.File, m.File), max(s.max.Peak, m.Peak)
				s.mu.Unlock()
			}
			select {
			case <-s.stop:
				return
			case <-t.C:
			}
		}
	}()
	return s
}

// peak stops sampling and returns the highest figures seen.
func (s *sampler) peak() harness.Memory {
	close(s.stop)
	<-s.done
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.max
}
