package bench

import (
	"errors"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/ctharness/ctharness/simulator/load"
)

// TestWithCPUDividesTheTargetsCPUByTheWebhooks: the run's CPU, as getrusage counts it for this process, over the
// webhooks it reports.
func TestWithCPUDividesTheTargetsCPUByTheWebhooks(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skipf("no /proc here: %v", err)
	}
	var used time.Duration
	r, err := withCPU(os.Getpid(), func() (relayRun, error) {
		start, deadline := rusageCPU(t), time.Now().Add(10*time.Second)
		for x := 1; rusageCPU(t)-start < 300*time.Millisecond && time.Now().Before(deadline); x++ {
			for i := range 100_000 {
				x ^= i * x
			}
		}
		used = rusageCPU(t) - start
		return relayRun{report: load.Report{Acked: 1000}}, nil
	})
	if err != nil || r.cpuErr != nil {
		t.Fatalf("expected a figure, got %v and %v", err, r.cpuErr)
	}
	want := float64(used) / float64(time.Microsecond) / 1000 // µs a webhook
	// /proc counts whole ticks of 10 ms (10 µs a webhook here), and the test's other goroutines may add a little
	if r.cpu < want-30 || r.cpu > want+100 {
		t.Fatalf("expected about %.0f µs a webhook, got %.1f", want, r.cpu)
	}
}

func TestWithCPUSaysWhyThereIsNoFigure(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skipf("no /proc here: %v", err)
	}
	r, err := withCPU(os.Getpid(), func() (relayRun, error) { return relayRun{}, nil })
	if err != nil || r.cpu != 0 || r.cpuErr == nil || r.cpuErr.Error() != "no webhook was acknowledged" {
		t.Fatalf("expected no figure because nothing was acknowledged, got %v, %.1f and %v", err, r.cpu, r.cpuErr)
	}
	gone := exec.Command("true")
	if err := gone.Run(); err != nil {
		t.Skipf("no true(1) to make a process that is gone: %v", err)
	}
	r, _ = withCPU(gone.Process.Pid, func() (relayRun, error) {
		return relayRun{report: load.Report{Acked: 1}}, nil
	})
	if r.cpu != 0 || !errors.Is(r.cpuErr, os.ErrNotExist) {
		t.Fatalf("expected no figure for a process that is gone, got %.1f and %v", r.cpu, r.cpuErr)
	}
	failed := errors.New("load failed")
	if _, err := withCPU(os.Getpid(), func() (relayRun, error) { return relayRun{}, failed }); err != failed {
		t.Fatalf("expected the load's error, got %v", err)
	}
}

func rusageCPU(t *testing.T) time.Duration {
	var u syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &u); err != nil {
		t.Fatal(err)
	}
	return time.Duration(u.Utime.Nano() + u.Stime.Nano())
}
