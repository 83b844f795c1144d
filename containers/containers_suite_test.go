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
	"strings"
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

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
