// Package containers is the harness as containers, a testcontainers-go module in its own Go module (as
// testcontainers' own modules are), so that only a project that wants Docker gets Docker in its module graph:
//
//	stack, err := containers.Run(ctx, "ctharness:dev", containers.WithRelay())
//	defer stack.Terminate(ctx)
//
// The simulator answers on CleverTap's real hostnames (every region) and the Piano collection domain, as network
// aliases on the stack's own network, over HTTPS with a harness CA made for the run (Stack.CA); the relay, when
// asked for, uses the production host templates unchanged and trusts that CA. A service container attached to
// Stack.Network reaches https://eu1.api.clevertap.com with no code change.
//
// Importing the package also registers HARNESS_MODE=containers with package harness (the image built from the
// working tree), for the suites of this module.
package containers

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	tc "github.com/testcontainers/testcontainers-go"
	"github.com/testcontainers/testcontainers-go/network"
	"github.com/testcontainers/testcontainers-go/wait"

	"github.com/ctharness/ctharness/harness"
	"github.com/ctharness/ctharness/internal/certs"
	"github.com/ctharness/ctharness/simulator/clevertap"
	"github.com/ctharness/ctharness/simulator/piano"
)

// Image is the tag BuildImage gives the image it builds from the working tree.
const Image = "ctharness:containers"

func init() {
	harness.RegisterMode(harness.Containers, func(ctx context.Context, _ func(string) string) (*harness.Stack, error) {
		image, err := BuildImage(ctx)
		if err != nil {
			return nil, err
		}
		st, err := Run(ctx, image, WithRelay())
		if err != nil {
			return nil, err
		}
		return harness.NewStack(st.SimulatorURL, st.RelayURL, st.RelayAdminToken, st.Terminate), nil
	})
}

// Stack is what Run started.
type Stack struct {
	// SimulatorURL and RelayURL are reachable from the host (published ports); RelayURL is empty without
	// WithRelay. Inside Network the simulator is https://<region>.api.clevertap.com and http://simulator:8081,
	// the relay http://relay:8080.
	SimulatorURL, RelayURL string
	// RelayAdminToken opens the relay's /admin routes.
	RelayAdminToken string
	// CA is the harness CA (PEM) the simulator's certificate is signed by: trust it to call CleverTap's
	// hostnames; CAFile is the same in a file on the host, removed by Terminate.
	CA     []byte
	CAFile string
	// Accounts are the simulator's CleverTap accounts (the defaults, or the accounts file's).
	Accounts []clevertap.Account
	// Network is the stack's Docker network: attach a service container to it to reach the stack by name.
	Network string

	cleanup []func(context.Context) error
	certDir string
}

// Terminate stops the containers and removes the network and the CA's files.
func (s *Stack) Terminate(ctx context.Context) error {
	var errs []error
	for i := len(s.cleanup) - 1; i >= 0; i-- {
		errs = append(errs, s.cleanup[i](ctx))
	}
	s.cleanup = nil
	return errors.Join(errs...)
}

// Option changes what Run starts.
type Option func(*settings)

type settings struct {
	relay                   bool
	accountsFile, relayFile string
	startup                 time.Duration
}

// WithRelay starts the relay too, with the image's relay config (production host templates) or WithRelayConfig's.
func WithRelay() Option { return func(s *settings) { s.relay = true } }

// WithAccountsFile gives the simulator an accounts file (the format of `simulator serve --accounts`).
func WithAccountsFile(path string) Option { return func(s *settings) { s.accountsFile = path } }

// WithRelayConfig gives the relay a config file of your own (implies WithRelay).
func WithRelayConfig(path string) Option {
	return func(s *settings) { s.relay, s.relayFile = true, path }
}

// WithStartupTimeout bounds each container's wait for its health route (default 60 s).
func WithStartupTimeout(d time.Duration) Option { return func(s *settings) { s.startup = d } }

// Run starts the simulator from image (and the relay, WithRelay) on a network of their own.
func Run(ctx context.Context, image string, opts ...Option) (*Stack, error) {
	set := settings{startup: 60 * time.Second}
	for _, o := range opts {
		o(&set)
	}
	for _, f := range []string{set.accountsFile, set.relayFile} {
		if f == "" {
			continue
		}
		if _, err := os.Stat(f); err != nil {
			return nil, err
		}
	}
	disableReaper()
	st := &Stack{}
	err := st.makeCA()
	if err == nil {
		err = st.makeNetwork(ctx)
	}
	if err == nil {
		err = st.startSimulator(ctx, image, set)
	}
	if err == nil && set.relay {
		err = st.startRelay(ctx, image, set)
	}
	if err != nil {
		_ = st.Terminate(context.Background())
		return nil, err
	}
	return st, nil
}

// makeCA makes the CA and the certificate `serve --tls-listen` presents for every CleverTap hostname.
func (st *Stack) makeCA() error {
	certDir, err := os.MkdirTemp("", "ctharness-certs-")
	if err != nil {
		return err
	}
	st.certDir = certDir
	st.cleanup = append(st.cleanup, func(context.Context) error { return os.RemoveAll(certDir) })
	hosts := append(clevertap.Hostnames(), piano.DefaultDomain, "localhost", "127.0.0.1", "simulator")
	if _, err := certs.Ensure(certDir, hosts); err != nil {
		return err
	}
	st.CAFile = filepath.Join(certDir, certs.CAFile)
	st.CA, err = os.ReadFile(st.CAFile)
	return err
}

func (st *Stack) makeNetwork(ctx context.Context) error {
	nw, err := network.New(ctx)
	if err != nil {
		return fmt.Errorf("network: %w", err)
	}
	st.cleanup = append(st.cleanup, nw.Remove)
	st.Network = nw.Name
	return nil
}

// certFiles are the CA, certificate and key as a container gets them, the key with keyMode.
func (st *Stack) certFiles(keyMode int64) []tc.ContainerFile {
	return []tc.ContainerFile{
		{HostFilePath: st.CAFile, ContainerFilePath: "/certs/" + certs.CAFile, FileMode: 0o644},
		{HostFilePath: filepath.Join(st.certDir, certs.CertFile), ContainerFilePath: "/certs/" + certs.CertFile,
			FileMode: 0o644},
		{HostFilePath: filepath.Join(st.certDir, certs.KeyFile), ContainerFilePath: "/certs/" + certs.KeyFile,
			FileMode: keyMode},
	}
}

// start starts one container of the stack; it is terminated with the stack, even when it did not start.
func (st *Stack) start(ctx context.Context, what string, req tc.ContainerRequest) (tc.Container, error) {
	c, err := tc.GenericContainer(ctx, tc.GenericContainerRequest{Started: true, ContainerRequest: req})
	if c != nil {
		st.cleanup = append(st.cleanup, func(ctx context.Context) error { return c.Terminate(ctx) })
	}
	if err != nil {
		return nil, fmt.Errorf("%s container: %w%s", what, err, logTail(c))
	}
	return c, nil
}

func (st *Stack) startSimulator(ctx context.Context, image string, set settings) error {
	cmd := []string{"serve", "--listen", "0.0.0.0:8081", "--tls-listen", "0.0.0.0:443", "--tls-dir", "/certs",
		"--quiet"}
	files := st.certFiles(0o644) // the key is the fake's, for tests only; readable by the image's non-root user
	if set.accountsFile != "" {
		cmd = append(cmd, "--accounts", "/etc/simulator/accounts.yaml")
		files = append(files, tc.ContainerFile{HostFilePath: set.accountsFile,
			ContainerFilePath: "/etc/simulator/accounts.yaml", FileMode: 0o644})
	}
	aliases := append(clevertap.Hostnames(), piano.DefaultDomain, "simulator")
	sim, err := st.start(ctx, "simulator", tc.ContainerRequest{Image: image, Cmd: cmd,
		ExposedPorts: []string{"8081/tcp"}, Files: files, Networks: []string{st.Network},
		NetworkAliases: map[string][]string{st.Network: aliases},
		WaitingFor:     wait.ForHTTP("/_sim/health").WithPort("8081/tcp").WithStartupTimeout(set.startup)})
	if err != nil {
		return err
	}
	if st.SimulatorURL, err = sim.PortEndpoint(ctx, "8081/tcp", "http"); err != nil {
		return err
	}
	if st.Accounts, err = clevertap.NewClient(st.SimulatorURL).Accounts(ctx); err != nil {
		return fmt.Errorf("reading the simulator's accounts: %w", err)
	}
	return nil
}

func (st *Stack) startRelay(ctx context.Context, image string, set settings) error {
	st.RelayAdminToken = harness.NewToken()
	files := st.certFiles(0o600)
	if set.relayFile != "" {
		files = append(files, tc.ContainerFile{HostFilePath: set.relayFile,
			ContainerFilePath: "/etc/relay/relay.yaml", FileMode: 0o644})
	}
	relay, err := st.start(ctx, "relay", tc.ContainerRequest{Image: image,
		Entrypoint: []string{"/usr/local/bin/relay"},
		Cmd: []string{"--config", "/etc/relay/relay.yaml", "--listen", "0.0.0.0:8080", "--data-dir", "/data",
			"--allowed-hosts", "relay"},
		Env:          map[string]string{"SSL_CERT_FILE": "/certs/" + certs.CAFile, "RELAY_ADMIN_TOKEN": st.RelayAdminToken},
		ExposedPorts: []string{"8080/tcp"}, Files: files, Networks: []string{st.Network},
		NetworkAliases: map[string][]string{st.Network: {"relay"}},
		WaitingFor:     wait.ForHTTP("/readyz").WithPort("8080/tcp").WithStartupTimeout(set.startup)})
	if err != nil {
		return err
	}
	st.RelayURL, err = relay.PortEndpoint(ctx, "8080/tcp", "http")
	return err
}

// DockerAvailable says whether a Docker daemon answers, and why not. HARNESS_DOCKER=off says no without asking.
func DockerAvailable(ctx context.Context) error {
	if strings.EqualFold(os.Getenv("HARNESS_DOCKER"), "off") {
		return errors.New("HARNESS_DOCKER=off")
	}
	disableReaper()
	p, err := tc.NewDockerProvider()
	if err != nil {
		return err
	}
	defer p.Close()
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	return p.Health(ctx)
}

// disableReaper sets what testcontainers needs on a machine without a registry: no reaper (its image cannot be
// pulled; Terminate cleans up instead), and published ports reached on 127.0.0.1 (testcontainers otherwise
// guesses a gateway address when it finds itself in a container, as on CI machines). Both can be overridden.
func disableReaper() {
	for k, v := range map[string]string{"TESTCONTAINERS_RYUK_DISABLED": "true",
		"TESTCONTAINERS_HOST_OVERRIDE": "127.0.0.1"} {
		if os.Getenv(k) == "" {
			os.Setenv(k, v)
		}
	}
}

// BuildImage builds the image from the working tree, as `make images` does (static binaries on the host, the
// Dockerfile's FROM scratch, the legacy builder), tagged Image.
func BuildImage(ctx context.Context) (string, error) {
	root, err := harness.RepoRoot()
	if err != nil {
		return "", err
	}
	dir, err := os.MkdirTemp("", "ctharness-image-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(dir)
	for _, bin := range []string{"simulator", "relay"} {
		if _, err := harness.Build(ctx, filepath.Join(dir, "bin"), bin); err != nil {
			return "", err
		}
	}
	cp := exec.CommandContext(ctx, "cp", "-r", filepath.Join(root, "Dockerfile"), filepath.Join(root, "docker"), dir)
	if out, err := cp.CombinedOutput(); err != nil {
		return "", fmt.Errorf("copying the Dockerfile: %v\n%s", err, out)
	}
	build := exec.CommandContext(ctx, "docker", "build", "-q", "-t", Image, dir)
	build.Env = append(os.Environ(), "DOCKER_BUILDKIT=0")
	if out, err := build.CombinedOutput(); err != nil {
		return "", fmt.Errorf("docker build: %v\n%s", err, out)
	}
	return Image, nil
}

// logTail is the end of a container's output, for an error that says why it did not come up.
func logTail(c tc.Container) string {
	if c == nil {
		return ""
	}
	rc, err := c.Logs(context.Background())
	if err != nil {
		return ""
	}
	defer rc.Close()
	b, _ := io.ReadAll(io.LimitReader(rc, 1<<20))
	out := string(b)
	if len(out) > 2000 {
		out = out[len(out)-2000:]
	}
	return "\ncontainer output:\n" + out
}
