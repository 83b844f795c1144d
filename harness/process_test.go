package harness

import (
	"context"
	"errors"
	"os"
	"testing"
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
