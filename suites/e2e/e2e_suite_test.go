// The end-to-end suite: every built-in scenario × every source it names is one spec, labelled with the source
// and the scenario's labels (region, feature), played emitter → relay → fake CleverTap / Piano and compared
// record by record with what the scenario says. The stack is started once (SynchronizedBeforeSuite) and shared
// by parallel processes; runs keep apart by their own user and account ids. HARNESS_SCENARIOS=dir1,dir2 adds a
// user's own scenario files and directories as specs labelled "user" (and their labels and source).
package e2e_test

import (
	"fmt"
	"os"
	"strings"
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/ctharness/ctharness/harness"
	"github.com/ctharness/ctharness/scenarios"
	"github.com/ctharness/ctharness/suites/matchers"
)

func TestE2E(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "e2e scenarios", Label("e2e"))
}

var target scenarios.Target

var _ = SynchronizedBeforeSuite(func(ctx SpecContext) []byte {
	urls, stop, err := harness.StartShared(ctx, os.Getenv, true)
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(stop)
	return urls
}, func(data []byte) {
	u, err := harness.SharedURLs(data)
	Expect(err).NotTo(HaveOccurred())
	target = scenarios.Target{SimulatorURL: u.Simulator, RelayURL: u.Relay, RelayAdminToken: u.RelayAdminToken}
})

var builtIn = func() []*scenarios.Scenario {
	all, err := scenarios.LoadBuiltIn()
	if err != nil {
		panic(err)
	}
	return all
}()

// users are the scenarios of HARNESS_SCENARIOS (comma-separated files and directories); a wrong file stops the
// suite before any spec, naming it.
var users = func() []*scenarios.Scenario {
	paths := os.Getenv("HARNESS_SCENARIOS")
	if paths == "" {
		return nil
	}
	list, err := scenarios.LoadPaths(strings.Split(paths, ","))
	if err != nil {
		panic(fmt.Sprintf("HARNESS_SCENARIOS: %v", err))
	}
	return list
}()

var _ = Describe("built-in scenarios", func() { specs(builtIn) })

var _ = Describe("scenarios of HARNESS_SCENARIOS", Label("user"), func() { specs(users) })

// specs makes one spec per scenario × source, labelled with the source and the scenario's labels.
func specs(list []*scenarios.Scenario) {
	for _, s := range list {
		for _, source := range s.Sources {
			labels := append([]string{source}, s.Labels...)
			It(s.Name+" via "+source, Label(labels...), func(ctx SpecContext) {
				Expect(scenarios.Play(ctx, s, source, target)).To(matchers.Pass())
			})
		}
	}
}
