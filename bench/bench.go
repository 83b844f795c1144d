// Package bench measures the harness the way issue "performance and resilience" asks: every figure next to a
// baseline measured in the same run, and their ratio. The fake CleverTap and the relay run as their real
// binaries (separate processes, so their memory can be read from /proc), the baselines as processes of the bench
// binary itself, and the load comes from the same generator as `simulator load`.
package bench

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Figure is one line of the table.
type Figure struct {
	Name     string
	Unit     string
	Measured float64
	Baseline float64
	// BaselineName says what the baseline is.
	BaselineName string
	// Goal is the goal in words; Met says whether the figure meets it.
	Goal string
	Met  bool
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
		fmt.Fprintf(w, "%-46s %14s %14s %7.2f  %-34s %s (%s)\n", f.Name+" ("+f.Unit+")", format(f.Measured), format(f.Baseline), f.Ratio(),
			f.BaselineName, f.Goal, met)
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

// process is a child process with its listening address.
type process struct {
	cmd  *exec.Cmd
	addr string
	log  *os.File
}

// freeAddr finds a free loopback port.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// start runs a binary with args, its output in logDir, and waits until url answers 200.
func start(ctx context.Context, logDir, name, bin string, args []string, health string) (*process, error) {
	logFile, err := os.Create(filepath.Join(logDir, name+".log"))
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	p := &process{cmd: cmd, log: logFile}
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := http.Get(health)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p, nil
			}
		}
		if time.Now().After(deadline) {
			p.stop()
			return nil, fmt.Errorf("%s did not answer %s within 15s (log: %s)", name, health, logFile.Name())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (p *process) stop() {
	if p == nil || p.cmd.Process == nil {
		return
	}
	_ = p.cmd.Process.Signal(os.Interrupt)
	done := make(chan struct{})
	go func() { _ = p.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-done
	}
	p.log.Close()
}

// mem is a process's resident memory in MiB: anonymous (heap, stacks) and file-backed (mapped files: the relay's
// bbolt outbox is memory-mapped, so its pages count here and are bounded by the outbox file).
type mem struct{ anon, file, peak float64 }

// memory reads /proc/<pid>/status.
func memory(pid int) (mem, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return mem{}, fmt.Errorf("reading memory: %w (the memory figures need Linux /proc)", err)
	}
	defer f.Close()
	var m mem
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
		switch k {
		case "RssAnon":
			m.anon = kb / 1024
		case "RssFile":
			m.file = kb / 1024
		case "VmHWM":
			m.peak = kb / 1024
		}
	}
	return m, sc.Err()
}

// sampler follows a process's memory every 50 ms and keeps the highest anonymous and file-backed figures.
type sampler struct {
	mu   sync.Mutex
	max  mem
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
			if m, err := memory(pid); err == nil {
				s.mu.Lock()
				s.max.anon, s.max.file, s.max.peak = max(s.max.anon, m.anon), max(s.max.file, m.file), max(s.max.peak, m.peak)
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
func (s *sampler) peak() mem {
	close(s.stop)
	<-s.done
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.max
}
