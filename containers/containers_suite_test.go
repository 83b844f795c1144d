// The containers suite: the image built from the working tree (as `make images` builds it), then Run starts the
// simulator and the relay on their own network, the simulator answering on CleverTap's real hostnames over HTTPS
// and the relay using the production host template unchanged. It runs the built-in scenarios that use the stack's
// relay, and checks what Run hands a user. Without a Docker daemon every spec is reported skipped, with the
// reason, never passed.
package containers_test

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	tc "github.com/testcontainers/testcontainers-go"
	"github.com/testcontainers/testcontainers-go/wait"

	"github.com/ctharness/ctharness/clevertaptest"
	"github.com/ctharness/ctharness/containers"
	"github.com/ctharness/ctharness/harness"
	"github.com/ctharness/ctharness/scenarios"
	"github.com/ctharness/ctharness/simulator/clevertap"
	"github.com/ctharness/ctharness/suites/matchers"
)

func TestContainers(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "containers", Label("containers"))
}

const unavailable = "unavailable: "

var target scenarios.Target

var _ = SynchronizedBeforeSuite(func(ctx SpecContext) []byte {
	if err := containers.DockerAvailable(ctx); err != nil {
		return []byte(unavailable + "no Docker daemon answers (" + err.Error() + "); the container specs need one")
	}
	getenv := func(k string) string {
		if k == "HARNESS_MODE" {
			return string(harness.Containers)
		}
		return os.Getenv(k)
	}
	urls, stop, err := harness.StartShared(ctx, getenv, true)
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(stop)
	return urls
}, func(data []byte) {
	if reason, ok := strings.CutPrefix(string(data), unavailable); ok {
		Skip(reason)
	}
	u, err := harness.SharedURLs(data)
	Expect(err).NotTo(HaveOccurred())
	target = scenarios.Target{SimulatorURL: u.Simulator, RelayURL: u.Relay, RelayAdminToken: u.RelayAdminToken,
		FixtureRoot: ".."}
}, NodeTimeout(5*60e9))

var builtIn = func() []*scenarios.Scenario {
	all, err := scenarios.LoadBuiltIn()
	if err != nil {
		panic(err)
	}
	return all
}()

var _ = Describe("the stack as containers", func() {
	It("relays over TLS to the regional hostname, with the production template", func(ctx SpecContext) {
		for _, s := range builtIn {
			if s.Name == "paid-renewals" {
				res := scenarios.Play(ctx, s, "revenuecat", target)
				Expect(res).To(matchers.Pass())
				journal, err := clevertap.NewClient(target.SimulatorURL).Requests(context.Background(),
					clevertap.JournalFilter{Account: "SIM-EU1-0001"})
				Expect(err).NotTo(HaveOccurred())
				hosts := map[string]bool{}
				for _, j := range journal {
					hosts[j.Host] = true
				}
				Expect(hosts).To(HaveKey("eu1.api.clevertap.com"),
					"the relay container reached CleverTap by its production hostname")
				return
			}
		}
		Fail("the paid-renewals scenario is missing")
	})

	for _, s := range builtIn {
		if s.Relay.Custom() {
			continue // those bring their own relay; here the container's relay is under test
		}
		for _, source := range s.Sources {
			It(s.Name+" via "+source, Label(append([]string{source}, s.Labels...)...), func(ctx SpecContext) {
				Expect(scenarios.Play(ctx, s, source, target)).To(matchers.Pass())
			})
		}
	}
})

var _ = Describe("Run, as a user's project calls it", func() {
	It("starts the simulator with an accounts file and hands over the CA, the accounts and the network",
		func(ctx SpecContext) {
			st, err := containers.Run(ctx, containers.Image, containers.WithAccountsFile("../examples/accounts.yaml"))
			Expect(err).NotTo(HaveOccurred())
			DeferCleanup(st.Terminate)
			Expect(st.RelayURL).To(BeEmpty(), "no relay without WithRelay")
			Expect(st.Network).NotTo(BeEmpty())
			block, _ := pem.Decode(st.CA)
			Expect(block).NotTo(BeNil(), "the CA is PEM")
			ca, err := x509.ParseCertificate(block.Bytes)
			Expect(err).NotTo(HaveOccurred())
			Expect(ca.IsCA).To(BeTrue())
			Expect(st.CAFile).To(BeAnExistingFile())
			var ids []string
			for _, a := range st.Accounts {
				ids = append(ids, a.ID)
			}
			Expect(ids).To(ContainElement("ACME-EU1-0001"), "the accounts file's account")
			Expect(st.Terminate(ctx)).To(Succeed())
			Expect(st.CAFile).NotTo(BeAnExistingFile(), "Terminate removes the CA's files")
		})
})

var _ = Describe("a user's service next to the stack", func() {
	It("reaches https://eu1.api.clevertap.com by name over TLS with the harness CA, and no code change",
		func(ctx SpecContext) {
			image := buildServiceImage(ctx)
			st, err := containers.Run(ctx, containers.Image)
			Expect(err).NotTo(HaveOccurred())
			DeferCleanup(st.Terminate)
			svc, err := tc.GenericContainer(ctx, tc.GenericContainerRequest{Started: true,
				ContainerRequest: tc.ContainerRequest{
					Image: image,
					Env: map[string]string{"CLEVERTAP_URL": "https://eu1.api.clevertap.com", // production's
						"CLEVERTAP_ACCOUNT_ID": "SIM-EU1-0001", "CLEVERTAP_PASSCODE": "sim-eu1-pass",
						"RC_AUTH": "Bearer rc-secret", "SSL_CERT_FILE": "/certs/ca.pem"},
					Files: []tc.ContainerFile{{HostFilePath: st.CAFile, ContainerFilePath: "/certs/ca.pem",
						FileMode: 0o644}},
					ExposedPorts: []string{"3000/tcp"},
					Networks:     []string{st.Network},
					WaitingFor:   wait.ForHTTP("/health").WithPort("3000/tcp").WithStartupTimeout(30 * time.Second),
				}})
			if svc != nil {
				DeferCleanup(func(ctx SpecContext) { _ = svc.Terminate(ctx) })
			}
			Expect(err).NotTo(HaveOccurred())
			hook, err := svc.PortEndpoint(ctx, "3000/tcp", "http")
			Expect(err).NotTo(HaveOccurred())
			ct := &clevertaptest.Fake{URL: st.SimulatorURL, Client: clevertap.NewClient(st.SimulatorURL)}
			ct.Send(GinkgoT(), "revenuecat", "INITIAL_PURCHASE", hook+"/rc/hook", "Bearer rc-secret",
				clevertaptest.User("ct-next-door"))
			events := ct.Wait(GinkgoT(), clevertap.WaitRequest{Identity: "ct-next-door", Count: 1})
			Expect(string(events[0].Record)).To(ContainSubstring(`"evtName":"Subscription Started"`))
			journal, err := ct.Client.Requests(ctx, clevertap.JournalFilter{Account: "SIM-EU1-0001"})
			Expect(err).NotTo(HaveOccurred())
			Expect(journal).NotTo(BeEmpty())
			Expect(journal[len(journal)-1].Host).To(Equal("eu1.api.clevertap.com"),
				"the service called CleverTap by its production hostname")
		})
})

// buildServiceImage builds examples/go-service as its Dockerfile says: the static binary on the host, then
// FROM scratch.
func buildServiceImage(ctx context.Context) string {
	const image = "ctharness-example-rcservice:test"
	dir := filepath.Join("..", "examples", "go-service")
	bin := filepath.Join(GinkgoT().TempDir(), "rcservice")
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, ".")
	build.Dir, build.Env = dir, append(os.Environ(), "CGO_ENABLED=0")
	out, err := build.CombinedOutput()
	Expect(err).NotTo(HaveOccurred(), string(out))
	context := filepath.Dir(bin)
	dockerfile, err := os.ReadFile(filepath.Join(dir, "Dockerfile"))
	Expect(err).NotTo(HaveOccurred())
	Expect(os.WriteFile(filepath.Join(context, "Dockerfile"), dockerfile, 0o644)).To(Succeed())
	docker := exec.CommandContext(ctx, "docker", "build", "-q", "-t", image, context)
	docker.Env = append(os.Environ(), "DOCKER_BUILDKIT=0")
	out, err = docker.CombinedOutput()
	Expect(err).NotTo(HaveOccurred(), string(out))
	DeferCleanup(func() { _ = exec.Command("docker", "rmi", "-f", image).Run() })
	return image
}

var _ = Describe("Run with a relay config of your own", func() {
	It("starts the relay with it: its source, its credential, its account and region", func(ctx SpecContext) {
		cfg := filepath.Join(GinkgoT().TempDir(), "relay.yaml")
		Expect(os.WriteFile(cfg, []byte(`clevertap:
  endpoint: https://{region}.api.clevertap.com
sources:
  revenuecat:
    authorization: Bearer my-own
    clevertap: {region: in1, account_id: SIM-IN1-0001, passcode: sim-in1-pass}
`), 0o644)).To(Succeed())
		st, err := containers.Run(ctx, containers.Image, containers.WithRelayConfig(cfg))
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(st.Terminate)
		Expect(st.RelayURL).NotTo(BeEmpty(), "WithRelayConfig starts the relay")
		ct := &clevertaptest.Fake{URL: st.SimulatorURL, Client: clevertap.NewClient(st.SimulatorURL)}
		ct.Send(GinkgoT(), "revenuecat", "INITIAL_PURCHASE", st.RelayURL+"/webhooks/revenuecat", "Bearer my-own",
			clevertaptest.User("ct-own-config"))
		events := ct.Wait(GinkgoT(), clevertap.WaitRequest{Identity: "ct-own-config", Count: 1})
		Expect(events[0].Account).To(Equal("SIM-IN1-0001"))
		Expect(string(events[0].Region)).To(Equal("in1"))
	})
})
