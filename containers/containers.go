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
	fail := func(err error) (*Stack, error) {
		_ = st.Terminate(context.Background())
		return nil, err
	}
	certDir, err := os.MkdirTemp("", "ctharness-certs-")
	if err != nil {
		return nil, err
	}
	st.cleanup = append(st.cleanup, func(context.Context) error { return os.RemoveAll(certDir) })
	// what `serve --tls-listen` asks for
	hosts := append(clevertap.Hostnames(), piano.DefaultDomain, "localhost", "127.0.0.1", "simulator")
	if _, err := certs.Ensure(certDir, hosts); err != nil {
		return fail(err)
	}
	st.CAFile = filepath.Join(certDir, certs.CAFile)
	if st.CA, err = os.ReadFile(st.CAFile); err != nil {
		return fail(err)
	}
	nw, err := network.New(ctx)
	if err != nil {
		return fail(fmt.Errorf("network: %w", err))
	}
	st.cleanup = append(st.cleanup, nw.Remove)
	st.Network = nw.Name
	certFiles := func(keyMode int64) []tc.ContainerFile {
		return []tc.ContainerFile{
			{HostFilePath: st.CAFile, ContainerFilePath: "/certs/" + certs.CAFile, FileMode: 0o644},
			{HostFilePath: filepath.Join(certDir, certs.CertFile), ContainerFilePath: "/certs/" + certs.CertFile,
				FileMode: 0o644},
			{HostFilePath: filepath.Join(certDir, certs.KeyFile), ContainerFilePath: "/certs/" + certs.KeyFile,
				FileMode: keyMode},
		}
	}
	simCmd := []string{"serve", "--listen", "0.0.0.0:8081", "--tls-listen", "0.0.0.0:443", "--tls-dir", "/certs",
		"--quiet"}
	simFiles := certFiles(0o644) // the key is the fake's, for tests only; readable by the image's non-root user
	if set.accountsFile != "" {
		simCmd = append(simCmd, "--accounts", "/etc/simulator/accounts.yaml")
		simFiles = append(simFiles, tc.ContainerFile{HostFilePath: set.accountsFile,
			ContainerFilePath: "/etc/simulator/accounts.yaml", FileMode: 0o644})
	}
	aliases := append(clevertap.Hostnames(), piano.DefaultDomain, "simulator")
	sim, err := tc.GenericContainer(ctx, tc.GenericContainerRequest{Started: true, ContainerRequest: tc.ContainerRequest{
		Image:          image,
		Cmd:            simCmd,
		ExposedPorts:   []string{"8081/tcp"},
		Files:          simFiles,
		Networks:       []string{nw.Name},
		NetworkAliases: map[string][]string{nw.Name: aliases},
		WaitingFor:     wait.ForHTTP("/_sim/health").WithPort("8081/tcp").WithStartupTimeout(set.startup),
	}})
	if sim != nil {
		st.cleanup = append(st.cleanup, func(ctx context.Context) error { return sim.Terminate(ctx) })
	}
	if err != nil {
		return fail(fmt.Errorf("simulator container: %w%s", err, logTail(sim)))
	}
	if st.SimulatorURL, err = sim.PortEndpoint(ctx, "8081/tcp", "http"); err != nil {
		return fail(err)
	}
	if st.Accounts, err = clevertap.NewClient(st.SimulatorURL).Accounts(ctx); err != nil {
		return fail(fmt.Errorf("reading the simulator's accounts: %w", err))
	}
	if !set.relay {
		return st, nil
	}
	st.RelayAdminToken = harness.NewToken()
	relayFiles := certFiles(0o600)
	if set.relayFile != "" {
		relayFiles = append(relayFiles, tc.ContainerFile{HostFilePath: set.relayFile,
			ContainerFilePath: "/etc/relay/relay.yaml", FileMode: 0o644})
	}
	relay, err := tc.GenericContainer(ctx, tc.GenericContainerRequest{Started: true, ContainerRequest: tc.ContainerRequest{
		Image:      image,
		Entrypoint: []string{"/usr/local/bin/relay"},
		Cmd:        []string{"--config", "/etc/relay/relay.yaml", "--listen", "0.0.0.0:8080", "--data-dir", "/data"},
		Env: map[string]string{"SSL_CERT_FILE": "/certs/" + certs.CAFile,
			"RELAY_ADMIN_TOKEN": st.RelayAdminToken},
		ExposedPorts:   []string{"8080/tcp"},
		Files:          relayFiles,
		Networks:       []string{nw.Name},
		NetworkAliases: map[string][]string{nw.Name: {"relay"}},
		WaitingFor:     wait.ForHTTP("/readyz").WithPort("8080/tcp").WithStartupTimeout(set.startup),
	}})
	if relay != nil {
		st.cleanup = append(st.cleanup, func(ctx context.Context) error { return relay.Terminate(ctx) })
	}
	if err != nil {
		return fail(fmt.Errorf("relay container: %w%s", err, logTail(relay)))
	}
	if st.RelayURL, err = relay.PortEndpoint(ctx, "8080/tcp", "http"); err != nil {
		return fail(err)
	}
	return st, nil
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
