// Package pgtest starts a throwaway PostgreSQL cluster for tests: Debian's postgresql package (initdb, pg_ctl,
// postgres), a temporary directory, a free loopback port, trust authentication, run as a non-root user (initdb
// refuses root: as root the cluster runs as the package's postgres user). Without the package, Find says why, so
// that a test can report itself skipped with the reason.
package pgtest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Cluster is a running throwaway cluster.
type Cluster struct {
	// DSN connects as the superuser "relay" to the database "relay".
	DSN string
	// Port is where it listens on 127.0.0.1; Dir holds its data (PGDATA) and log.
	Port int
	Dir  string
	bin  string
	uid  *syscall.Credential
	opts string // the server's options, for a restart on the same port
}

// Find is the directory of the PostgreSQL programs, or an error saying what to install.
func Find() (string, error) {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Sort(sort.Reverse(sort.StringSlice(dirs)))
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d, nil
		}
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		return filepath.Dir(p), nil
	}
	return "", errors.New("no PostgreSQL server programs (initdb, pg_ctl): install Debian's postgresql package " +
		"(apt-get install postgresql)")
}

// Start initialises and starts a cluster in a new temporary directory; Stop stops it and removes the directory.
func Start(ctx context.Context) (*Cluster, error) {
	bin, err := Find()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "ctharness-pg-")
	if err != nil {
		return nil, err
	}
	c := &Cluster{Dir: dir, bin: bin}
	if os.Geteuid() == 0 {
		if c.uid, err = postgresUser(); err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
		if err := os.Chown(dir, int(c.uid.Uid), int(c.uid.Gid)); err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
	}
	data := filepath.Join(dir, "data")
	if out, err := c.run(ctx, "initdb", "-D", data, "-U", "relay", "--auth=trust", "--encoding=UTF8",
		"--no-instructions"); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("initdb: %v\n%s", err, out)
	}
	for attempt := 0; ; attempt++ {
		c.Port, err = freePort()
		if err != nil {
			break
		}
		c.opts = fmt.Sprintf("-p %d -c listen_addresses=127.0.0.1 -k %s -c fsync=on -c max_connections=200",
			c.Port, dir)
		var out []byte
		out, err = c.startServer(ctx)
		if err == nil {
			break
		}
		if attempt == 2 {
			err = fmt.Errorf("pg_ctl start: %v\n%s\n%s", err, out, c.Log())
			break
		}
	}
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	c.DSN = fmt.Sprintf("postgres://relay@127.0.0.1:%d/postgres?sslmode=disable", c.Port)
	if out, err := c.run(ctx, "createdb", "-h", "127.0.0.1", "-p", strconv.Itoa(c.Port), "-U", "relay",
		"relay"); err != nil {
		c.Stop()
		return nil, fmt.Errorf("createdb: %v\n%s", err, out)
	}
	c.DSN = fmt.Sprintf("postgres://relay@127.0.0.1:%d/relay?sslmode=disable", c.Port)
	return c, nil
}

func (c *Cluster) startServer(ctx context.Context) ([]byte, error) {
	return c.run(ctx, "pg_ctl", "-D", filepath.Join(c.Dir, "data"), "-l", filepath.Join(c.Dir, "log"), "-o", c.opts,
		"-w", "-t", "60", "start")
}

// StopServer stops the server (pg_ctl -m fast: clients are disconnected) and keeps its data; StartServer starts
// it again on the same port.
func (c *Cluster) StopServer(ctx context.Context) error {
	out, err := c.run(ctx, "pg_ctl", "-D", filepath.Join(c.Dir, "data"), "-m", "fast", "-w", "stop")
	if err != nil {
		return fmt.Errorf("pg_ctl stop: %v\n%s", err, out)
	}
	return nil
}

// StartServer starts a stopped (or killed) server again; after a kill it recovers from its write-ahead log.
func (c *Cluster) StartServer(ctx context.Context) error {
	if out, err := c.startServer(ctx); err != nil {
		return fmt.Errorf("pg_ctl start: %v\n%s\n%s", err, out, c.Log())
	}
	return nil
}

// KillServer kills the server with SIGKILL, the postmaster and every backend at once, as a crash of the machine
// would, and waits until they are gone (a new postmaster will not start beside the old one's shared memory).
func (c *Cluster) KillServer() error {
	raw, err := os.ReadFile(filepath.Join(c.Dir, "data", "postmaster.pid"))
	if err != nil {
		return err
	}
	pid, err := strconv.Atoi(strings.TrimSpace(strings.SplitN(string(raw), "\n", 2)[0]))
	if err != nil {
		return err
	}
	pids := append([]int{pid}, children(pid)...) // the postmaster first: it would restart the others
	for _, p := range pids {
		_ = syscall.Kill(p, syscall.SIGKILL)
	}
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		alive := false
		for _, p := range pids {
			if _, err := os.Stat(fmt.Sprintf("/proc/%d/stat", p)); err == nil {
				alive = alive || !zombie(p)
			}
		}
		if !alive {
			// a killed postmaster this machine's init does not reap stays a zombie, which its lock file check
			// takes for a live server: the lock is stale, as after a crash
			for _, stale := range []string{filepath.Join(c.Dir, "data", "postmaster.pid"),
				filepath.Join(c.Dir, fmt.Sprintf(".s.PGSQL.%d.lock", c.Port)),
				filepath.Join(c.Dir, fmt.Sprintf(".s.PGSQL.%d", c.Port))} {
				if err := os.Remove(stale); err != nil && !errors.Is(err, os.ErrNotExist) {
					return err
				}
			}
			return nil
		}
	}
	return fmt.Errorf("the killed server's processes %v did not go away", pids)
}

// children are the processes whose parent is pid (from /proc).
func children(pid int) []int {
	entries, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range entries {
		child, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", child))
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...: comm may hold spaces, so read after its closing parenthesis
		fields := strings.Fields(string(raw[strings.LastIndexByte(string(raw), ')')+1:]))
		if len(fields) > 1 && fields[1] == strconv.Itoa(pid) {
			out = append(out, child)
		}
	}
	return out
}

func zombie(pid int) bool {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	fields := strings.Fields(string(raw[strings.LastIndexByte(string(raw), ')')+1:]))
	return len(fields) > 0 && fields[0] == "Z"
}

// Stop stops the cluster fast (pg_ctl -m fast) and removes its directory.
func (c *Cluster) Stop() {
	_, _ = c.run(context.Background(), "pg_ctl", "-D", filepath.Join(c.Dir, "data"), "-m", "fast", "-w", "stop")
	_ = os.RemoveAll(c.Dir)
}

// Log is the server's log so far.
func (c *Cluster) Log() string {
	raw, _ := os.ReadFile(filepath.Join(c.Dir, "log"))
	return string(raw)
}

// run runs one of the PostgreSQL programs, as the postgres user when this process is root.
func (c *Cluster) run(ctx context.Context, program string, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(c.bin, program), args...)
	cmd.Dir = c.Dir
	cmd.Env = append(os.Environ(), "LC_ALL=C", "TZ=UTC")
	if c.uid != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: c.uid}
		cmd.Env = append(cmd.Env, "HOME="+c.Dir)
	}
	return cmd.CombinedOutput()
}

// postgresUser is the package's postgres user, to run the cluster as when this process is root.
func postgresUser() (*syscall.Credential, error) {
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("running as root, and there is no postgres user to run the cluster as (initdb " +
			"refuses root): install Debian's postgresql package, which makes it")
	}
	uid, _ := strconv.ParseUint(u.Uid, 10, 32)
	gid, _ := strconv.ParseUint(u.Gid, 10, 32)
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}
