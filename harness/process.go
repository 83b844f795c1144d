package harness

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
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
	"syscall"
	"time"

	"github.com/ctharness/ctharness/internal/syncbuf"
	"github.com/ctharness/ctharness/relay/config"
)

// Process is a program run as its own process (the real binaries, so they can be killed with -9, restarted on the
// same data, limited with ulimit and measured from /proc): the bench and the resilience suite run them this way.
type Process struct {
	// Name is used in messages and as the log file's name.
	Name string
	Bin  string
	Args []string
	// Addr is where the process listens; Health is a path (or URL) that answers 200 once it serves.
	Addr   string
	Health string
	// FileSizeLimitKiB, when set, runs the process under `ulimit -f` (KiB): its files cannot grow past it, as on
	// a full disk.
	FileSizeLimitKiB int
	// LogDir, when set, receives the output in <LogDir>/<Name>.log; otherwise it is kept in memory (Logs).
	LogDir string
	// StartTimeout bounds the wait for Health (default 15 s); StopTimeout the wait for a clean exit after SIGTERM
	// before SIGKILL (default 30 s).
	StartTimeout, StopTimeout time.Duration
	// AdminToken is a relay process's admin token (RelayProcess sets it).
	AdminToken string

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{} // closed when the running process has exited
	err  error         // how it exited
	log  syncbuf.Buffer
	file *os.File
}

// ExitError says a process ended before it answered its health route, and how.
type ExitError struct {
	Name string
	Code int
	Logs string
}

func (e *ExitError) Error() string {
	return fmt.Sprintf("%s exited with status %d before it served; its log:\n%s", e.Name, e.Code, e.Logs)
}

// URL is the process's base URL.
func (p *Process) URL() string { return "http://" + p.Addr }

// Logs is everything every run of the process wrote (with LogDir: the log file's path).
func (p *Process) Logs() string {
	if p.LogDir != "" {
		return filepath.Join(p.LogDir, p.Name+".log")
	}
	return p.log.String()
}

// Pid is the running process's id (0 when it is not running).
func (p *Process) Pid() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil || p.cmd.Process == nil {
		return 0
	}
	return p.cmd.Process.Pid
}

// Start runs the process and waits until its health URL answers 200.
func (p *Process) Start(ctx context.Context) error {
	var cmd *exec.Cmd
	if p.FileSizeLimitKiB > 0 {
		script := fmt.Sprintf(`ulimit -f %d && exec "$0" "$@"`, p.FileSizeLimitKiB)
		cmd = exec.Command("bash", append([]string{"-c", script, p.Bin}, p.Args...)...)
	} else {
		cmd = exec.Command(p.Bin, p.Args...)
	}
	var out io.Writer = &p.log
	if p.LogDir != "" {
		if p.file == nil {
			f, err := os.Create(filepath.Join(p.LogDir, p.Name+".log"))
			if err != nil {
				return err
			}
			p.file = f
		}
		out = p.file
	}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("%s: %w", p.Name, err)
	}
	done := make(chan struct{})
	p.mu.Lock()
	p.cmd, p.done = cmd, done
	p.mu.Unlock()
	go func() {
		err := cmd.Wait()
		p.mu.Lock()
		p.err = err
		p.mu.Unlock()
		close(done)
	}()
	health := p.Health
	if !strings.HasPrefix(health, "http") {
		health = p.URL() + health
	}
	timeout := p.StartTimeout
	if timeout == 0 {
		timeout = 15 * time.Second
	}
	deadline := time.Now().Add(timeout)
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, health, nil)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK && listensOn(cmd.Process.Pid, p.Addr) {
				return nil
			}
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			_ = p.Kill()
			return fmt.Errorf("%s did not answer %s within %s; its log:\n%s", p.Name, health, timeout, p.Logs())
		}
		select {
		case <-done:
			p.mu.Lock()
			p.cmd = nil
			p.mu.Unlock()
			return &ExitError{Name: p.Name, Code: cmd.ProcessState.ExitCode(), Logs: p.Logs()}
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// Memory is a process's resident memory in MiB (from Linux /proc): anonymous (heap, stacks), file-backed
// (mapped files: the relay's bbolt outbox is mapped, so its pages count there) and the peak of the two.
type Memory struct{ Anon, File, Peak float64 }

// Memory reads the running process's memory.
func (p *Process) Memory() (Memory, error) { return ProcessMemory(p.Pid()) }

// ProcessMemory reads RssAnon, RssFile and VmHWM from /proc/<pid>/status.
func ProcessMemory(pid int) (Memory, error) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return Memory{}, fmt.Errorf("reading memory: %w (the memory figures need Linux /proc)", err)
	}
	var m Memory
	for _, line := range strings.Split(string(raw), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
		switch k {
		case "RssAnon":
			m.Anon = kb / 1024
		case "RssFile":
			m.File = kb / 1024
		case "VmHWM":
			m.Peak = kb / 1024
		}
	}
	return m, nil
}

// ProcessCPU reads the CPU time a process has used, user and system, from /proc/<pid>/stat (utime and stime, in
// the kernel's USER_HZ ticks, 100 a second on Linux: proc(5)).
func ProcessCPU(pid int) (time.Duration, error) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, fmt.Errorf("reading CPU time: %w (the CPU figures need Linux /proc)", err)
	}
	// the command name, in parentheses, may hold spaces: the fields are counted after its closing parenthesis,
	// where the third field (state) is
	var fields []string
	if end := strings.LastIndexByte(string(raw), ')'); end >= 0 {
		fields = strings.Fields(string(raw[end+1:]))
	}
	if len(fields) < 13 {
		return 0, fmt.Errorf("reading CPU time: /proc/%d/stat has no utime and stime fields", pid)
	}
	var ticks uint64
	for _, f := range fields[11:13] { // utime and stime, fields 14 and 15 of the line
		n, err := strconv.ParseUint(f, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("reading CPU time: /proc/%d/stat: expected a tick count, got %q", pid, f)
		}
		ticks += n
	}
	return time.Duration(ticks) * (time.Second / userHZ), nil
}

// userHZ is the unit of /proc's CPU times, fixed at 100 for user space on Linux.
const userHZ = 100

// Kill sends SIGKILL (no shutdown, no flush) and waits for the process to be gone.
func (p *Process) Kill() error { return p.signal(syscall.SIGKILL) }

// Stop sends SIGTERM and waits for a clean exit (SIGKILL after StopTimeout).
func (p *Process) Stop() error { return p.signal(syscall.SIGTERM) }

// Close stops the process and closes its log file.
func (p *Process) Close() error {
	err := p.Stop()
	if p.file != nil {
		p.file.Close()
		p.file = nil
	}
	return err
}

func (p *Process) signal(sig syscall.Signal) error {
	p.mu.Lock()
	cmd, done := p.cmd, p.done
	p.cmd = nil
	p.mu.Unlock()
	if cmd == nil || cmd.Process == nil {
		return nil
	}
	if err := cmd.Process.Signal(sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return err
	}
	timeout := p.StopTimeout
	if timeout == 0 {
		timeout = 30 * time.Second
	}
	select {
	case <-done:
	case <-time.After(timeout):
		_ = cmd.Process.Kill()
		<-done
	}
	return nil
}

// RelayProcess is the relay binary as a process with a config file, a data dir, an address and an admin token.
func RelayProcess(bin, configPath, dataDir, addr string) *Process {
	token := NewToken()
	return &Process{Name: "relay", Bin: bin, Addr: addr, Health: "/healthz", AdminToken: token,
		Args: []string{"--config", configPath, "--listen", addr, "--data-dir", dataDir, "--log-level", "info",
			"--admin-token", token}}
}

// NewToken is a random admin token.
func NewToken() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Build builds a command of this module (e.g. "relay" for ./cmd/relay) from the working tree into dir, static and
// with -trimpath as make build and make release build it (so that their builds share the compiled packages).
func Build(ctx context.Context, dir, command string) (string, error) {
	root, err := RepoRoot()
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, command)
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", bin, "./cmd/"+command)
	cmd.Dir, cmd.Env = root, append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/%s: %v\n%s", command, err, out)
	}
	return bin, nil
}

// RepoRoot finds the harness's repository root from the working directory: the directory whose go.mod is the
// harness's module (nested modules, such as containers/ and the examples, have their own go.mod below it).
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if mod, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil &&
			strings.HasPrefix(string(mod), "module github.com/ctharness/ctharness\n") {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod of github.com/ctharness/ctharness above the working directory")
		}
		dir = parent
	}
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

// WriteRelayConfig writes the relay's default config pointed at a simulator into dir, with replacements applied
// ("key: old" → "key: new" lines of the default YAML); it fails when a replacement does not apply.
func WriteRelayConfig(dir, simulatorURL string, replace ...string) (string, error) {
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
