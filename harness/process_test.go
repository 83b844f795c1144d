package harness

import (
	"context"
	"errors"
	"os"
	"syscall"
	"testing"
	"time"
)

func TestMemoryReadsProc(t *testing.T) {
	m, err := ProcessMemory(os.Getpid())
	if err != nil {
		t.Skipf("no /proc here: %v", err)
	}
	if m.Anon <= 0 || m.Peak < m.Anon {
		t.Fatalf("expected this process's anonymous RSS > 0 and its peak ≥ that, got %+v", m)
	}
}

// TestCPUReadsProc compares /proc's figure with getrusage's, a second source, around a loop that uses at least
// 200 ms of CPU (bounded at 10 s).
func TestCPUReadsProc(t *testing.T) {
	before, err := ProcessCPU(os.Getpid())
	if err != nil {
		t.Skipf("no /proc here: %v", err)
	}
	start, deadline := rusageCPU(t), time.Now().Add(10*time.Second)
	for x := 1; rusageCPU(t)-start < 200*time.Millisecond && time.Now().Before(deadline); x++ {
		for i := range 100_000 {
			x ^= i * x
		}
	}
	used := rusageCPU(t) - start
	after, err := ProcessCPU(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	// /proc counts whole ticks of 10 ms, and the test's other goroutines may add a little
	if got := after - before; got < used-30*time.Millisecond || got > used+100*time.Millisecond {
		t.Fatalf("expected /proc to count about the %v getrusage counted, got %v", used, got)
	}
}

func rusageCPU(t *testing.T) time.Duration {
	var u syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &u); err != nil {
		t.Fatal(err)
	}
	return time.Duration(u.Utime.Nano() + u.Stime.Nano())
}

// A process that exits before it serves is reported at once with its status and output, not after the wait for
// its health route.
func TestStartReportsAnEarlyExit(t *testing.T) {
	p := &Process{Name: "false", Bin: "sh", Args: []string{"-c", "echo broken outbox >&2; exit 3"},
		Addr: "127.0.0.1:1", Health: "/healthz"}
	err := p.Start(context.Background())
	var exit *ExitError
	if !errors.As(err, &exit) || exit.Code != 3 || exit.Logs != "broken outbox\n" {
		t.Fatalf("expected exit status 3 with its output, got %v", err)
	}
}
