package harness

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/ctharness/ctharness/relay/config"
)

// BuildRelay builds the relay binary from the working tree into dir, so a suite can kill -9 a real relay process.
func BuildRelay(ctx context.Context, dir string) (string, error) {
	root, err := repoRoot()
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "relay")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/relay")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/relay: %v\n%s", err, out)
	}
	return bin, nil
}

// FreeAddr is a free loopback address.
func FreeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// RelayProcess is a relay binary run as its own process, restartable on the same address and data dir.
type RelayProcess struct {
	Bin, Config, DataDir, Addr string
	// FileSizeLimit, when set, runs the relay under `ulimit -f` (KiB): its outbox cannot grow past it, as on a
	// full disk.
	FileSizeLimitKiB int

	mu  sync.Mutex
	cmd *exec.Cmd
	log lockedBuffer
}

// URL is the relay's base URL.
func (p *RelayProcess) URL() string { return "http://" + p.Addr }

// Logs is everything every run of the process wrote.
func (p *RelayProcess) Logs() string { return p.log.String() }

// Start runs the relay and waits until /healthz answers.
func (p *RelayProcess) Start(ctx context.Context) error {
	args := []string{"--config", p.Config, "--listen", p.Addr, "--data-dir", p.DataDir, "--log-level", "info"}
	var cmd *exec.Cmd
	if p.FileSizeLimitKiB > 0 {
		script := fmt.Sprintf(`ulimit -f %d && exec "$0" "$@"`, p.FileSizeLimitKiB)
		cmd = exec.Command("bash", append([]string{"-c", script, p.Bin}, args...)...)
	} else {
		cmd = exec.Command(p.Bin, args...)
	}
	cmd.Stdout, cmd.Stderr = &p.log, &p.log
	if err := cmd.Start(); err != nil {
		return err
	}
	p.mu.Lock()
	p.cmd = cmd
	p.mu.Unlock()
	deadline := time.Now().Add(15 * time.Second)
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, p.URL()+"/healthz", nil)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			_ = p.Kill()
			return fmt.Errorf("relay did not answer /healthz within 15s; its log:\n%s", p.Logs())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Kill sends SIGKILL (no shutdown, no flush) and waits for the process to be gone.
func (p *RelayProcess) Kill() error { return p.signal(syscall.SIGKILL) }

// Stop sends SIGTERM and waits for a clean exit.
func (p *RelayProcess) Stop() error { return p.signal(syscall.SIGTERM) }

func (p *RelayProcess) signal(sig syscall.Signal) error {
	p.mu.Lock()
	cmd := p.cmd
	p.cmd = nil
	p.mu.Unlock()
	if cmd == nil || cmd.Process == nil {
		return nil
	}
	if err := cmd.Process.Signal(sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return err
	}
	_ = cmd.Wait()
	return nil
}

// lockedBuffer collects a process's output written from exec's copying goroutines.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// RelayConfig is the relay's default config pointed at a simulator, with replacements applied ("key: old" →
// "key: new" lines of the default YAML); it fails when a replacement does not apply.
func RelayConfig(dir, simulatorURL string, replace ...string) (string, error) {
	cfg := strings.ReplaceAll(string(config.DefaultYAML), "http://127.0.0.1:8081", simulatorURL)
	for i := 0; i+1 < len(replace); i += 2 {
		if !strings.Contains(cfg, replace[i]) {
			return "", fmt.Errorf("relay config: %q is not in the default config", replace[i])
		}
		cfg = strings.Replace(cfg, replace[i], replace[i+1], 1)
	}
	path := filepath.Join(dir, "relay.yaml")
	return path, os.WriteFile(path, []byte(cfg), 0o600)
}
