// Package containers starts the stack as containers with testcontainers-go: the image built from the working tree,
// the simulator answering on CleverTap's real hostnames over HTTPS, the relay with the production host template.
// Importing it registers HARNESS_MODE=containers with package harness; it is its own package so that nothing
// else pulls testcontainers and the Docker client into a build.
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

// Image is the tag the containers mode builds from the working tree.
const Image = "ctharness:containers"

func init() {
	harness.RegisterMode(harness.Containers, func(ctx context.Context, _ func(string) string) (*harness.Stack, error) {
		return Start(ctx)
	})
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
// pulled; Stop cleans up instead), and published ports reached on 127.0.0.1 (testcontainers otherwise guesses a
// gateway address when it finds itself in a container, as on CI machines). Both can be overridden.
func disableReaper() {
	for k, v := range map[string]string{"TESTCONTAINERS_RYUK_DISABLED": "true",
		"TESTCONTAINERS_HOST_OVERRIDE": "127.0.0.1"} {
		if os.Getenv(k) == "" {
			os.Setenv(k, v)
		}
	}
}

// buildContext builds static binaries from the working tree and lays out the image's build context.
func buildContext(ctx context.Context, root string) (string, error) {
	dir, err := os.MkdirTemp("", "ctharness-image-")
	if err != nil {
		return "", err
	}
	for _, bin := range []string{"simulator", "relay"} {
		if _, err := harness.Build(ctx, filepath.Join(dir, "bin"), bin); err != nil {
			return dir, err
		}
	}
	cp := exec.CommandContext(ctx, "cp", "-r", filepath.Join(root, "Dockerfile"), filepath.Join(root, "docker"), dir)
	if out, err := cp.CombinedOutput(); err != nil {
		return dir, fmt.Errorf("copying the Dockerfile: %v\n%s", err, out)
	}
	return dir, nil
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

// Start builds the image from the working tree and starts the simulator (with CleverTap's hostnames
// and the Piano domain as network aliases, HTTPS with the harness CA) and the relay (docker/relay.yaml: the
// production host templates, trusting the CA).
func Start(ctx context.Context) (*harness.Stack, error) {
	disableReaper()
	root, err := harness.RepoRoot()
	if err != nil {
		return nil, err
	}
	buildDir, err := buildContext(ctx, root)
	defer os.RemoveAll(buildDir)
	if err != nil {
		return nil, err
	}
	certDir := filepath.Join(buildDir, "certs")
	// what `serve --tls-listen` asks for
	hosts := append(clevertap.Hostnames(), piano.DefaultDomain, "localhost", "127.0.0.1", "simulator")
	if _, err := certs.Ensure(certDir, hosts); err != nil {
		return nil, err
	}
	var cleanup []func(context.Context) error
	stop := func(ctx context.Context) error {
		var errs []error
		for i := len(cleanup) - 1; i >= 0; i-- {
			errs = append(errs, cleanup[i](ctx))
		}
		return errors.Join(errs...)
	}
	fail := func(err error) (*harness.Stack, error) {
		_ = stop(context.Background())
		return nil, err
	}
	nw, err := network.New(ctx)
	if err != nil {
		return fail(fmt.Errorf("network: %w", err))
	}
	cleanup = append(cleanup, nw.Remove)
	certFiles := func(modeKey int64) []tc.ContainerFile {
		return []tc.ContainerFile{
			{HostFilePath: filepath.Join(certDir, certs.CAFile), ContainerFilePath: "/certs/" + certs.CAFile, FileMode: 0o644},
			{HostFilePath: filepath.Join(certDir, certs.CertFile), ContainerFilePath: "/certs/" + certs.CertFile,
				FileMode: 0o644},
			{HostFilePath: filepath.Join(certDir, certs.KeyFile), ContainerFilePath: "/certs/" + certs.KeyFile,
				FileMode: modeKey},
		}
	}
	aliases := append(clevertap.Hostnames(), piano.DefaultDomain, "simulator")
	sim, err := tc.GenericContainer(ctx, tc.GenericContainerRequest{Started: true, ContainerRequest: tc.ContainerRequest{
		FromDockerfile: tc.FromDockerfile{Context: buildDir, Dockerfile: "Dockerfile", Repo: strings.Split(Image, ":")[0],
			Tag: strings.Split(Image, ":")[1], KeepImage: true},
		Cmd: []string{"serve", "--listen", "0.0.0.0:8081", "--tls-listen", "0.0.0.0:443", "--tls-dir", "/certs",
			"--quiet"},
		ExposedPorts:   []string{"8081/tcp"},
		Files:          certFiles(0o644), // the key is the fake's, for tests only; readable by the image's non-root user
		Networks:       []string{nw.Name},
		NetworkAliases: map[string][]string{nw.Name: aliases},
		WaitingFor:     wait.ForHTTP("/_sim/health").WithPort("8081/tcp").WithStartupTimeout(60 * time.Second),
	}})
	if sim != nil {
		cleanup = append(cleanup, func(ctx context.Context) error { return sim.Terminate(ctx) })
	}
	if err != nil {
		return fail(fmt.Errorf("simulator container: %w%s", err, logTail(sim)))
	}
	token := harness.NewToken()
	relay, err := tc.GenericContainer(ctx, tc.GenericContainerRequest{Started: true, ContainerRequest: tc.ContainerRequest{
		Image:        Image,
		Entrypoint:   []string{"/usr/local/bin/relay"},
		Cmd:          []string{"--config", "/etc/relay/relay.yaml", "--listen", "0.0.0.0:8080", "--data-dir", "/data"},
		Env:          map[string]string{"SSL_CERT_FILE": "/certs/" + certs.CAFile, "RELAY_ADMIN_TOKEN": token},
		ExposedPorts: []string{"8080/tcp"},
		Files: append(certFiles(0o600), tc.ContainerFile{HostFilePath: filepath.Join(root, "docker", "relay.yaml"),
			ContainerFilePath: "/etc/relay/relay.yaml", FileMode: 0o644}),
		Networks:   []string{nw.Name},
		WaitingFor: wait.ForHTTP("/readyz").WithPort("8080/tcp").WithStartupTimeout(60 * time.Second),
	}})
	if relay != nil {
		cleanup = append(cleanup, func(ctx context.Context) error { return relay.Terminate(ctx) })
	}
	if err != nil {
		return fail(fmt.Errorf("relay container: %w%s", err, logTail(relay)))
	}
	simURL, err := sim.PortEndpoint(ctx, "8081/tcp", "http")
	if err != nil {
		return fail(err)
	}
	relayURL, err := relay.PortEndpoint(ctx, "8080/tcp", "http")
	if err != nil {
		return fail(err)
	}
	return harness.NewStack(simURL, relayURL, token, stop), nil
}
