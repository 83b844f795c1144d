// The resilience suite: a real relay process between the vendors' emitters and the fake CleverTap, put through
// kill -9 under load, a CleverTap outage, a 429 storm, partial answers and a full disk. Each spec counts what
// was sent, acknowledged and delivered, and fails on one record lost or sent twice.
package resilience_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/ctharness/ctharness/harness"
	"github.com/ctharness/ctharness/relay/adminclient"
	"github.com/ctharness/ctharness/simulator"
	"github.com/ctharness/ctharness/simulator/clevertap"
	"github.com/ctharness/ctharness/simulator/clevertap/fake"
	"github.com/ctharness/ctharness/simulator/load"
)

func TestResilience(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "resilience", Label("resilience"))
}

// relayBin is built once from the working tree.
var relayBin string

var _ = SynchronizedBeforeSuite(func(ctx SpecContext) []byte {
	dir, err := os.MkdirTemp("", "ctharness-resilience-")
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(func() { os.RemoveAll(dir) })
	bin, err := harness.Build(ctx, dir, "relay")
	Expect(err).NotTo(HaveOccurred())
	return []byte(bin)
}, func(data []byte) {
	relayBin = string(data)
})

const account = "SIM-EU1-0001"

// fakeCleverTap serves a fresh fake on a loopback port for one spec.
func fakeCleverTap() (string, *clevertap.Client) {
	sim, err := harness.StartSimulator(simulator.Config{}, fake.Options{EventLimit: 200_000,
		JournalLimit: 50_000}, "")
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(sim.Close)
	return sim.URL, sim.Client()
}

// startRelay runs the relay binary against the fake with the default config and the given replacements.
func startRelay(ctx context.Context, simulatorURL string, limitKiB int, replace ...string) *harness.Process {
	return startRelayAs(ctx, simulatorURL, limitKiB, nil, replace...)
}

// startRelayWith is startRelay with more arguments for the relay.
func startRelayWith(ctx context.Context, simulatorURL string, args []string, replace ...string) *harness.Process {
	return startRelayAs(ctx, simulatorURL, 0, args, replace...)
}

func startRelayAs(ctx context.Context, simulatorURL string, limitKiB int, args []string,
	replace ...string) *harness.Process {
	dir := GinkgoT().TempDir()
	cfg, err := harness.WriteRelayConfig(dir, simulatorURL, replace...)
	Expect(err).NotTo(HaveOccurred())
	addr, err := harness.FreeAddr()
	Expect(err).NotTo(HaveOccurred())
	p := harness.RelayProcess(relayBin, cfg, dir+"/data", addr)
	p.Args = append(p.Args, args...)
	p.FileSizeLimitKiB = limitKiB
	Expect(p.Start(ctx)).To(Succeed())
	DeferCleanup(func() {
		_ = p.Kill()
		if CurrentSpecReport().Failed() {
			lines := strings.Split(strings.TrimSpace(p.Logs()), "\n")
			AddReportEntry("relay log (last 30 lines)", strings.Join(lines[max(0, len(lines)-30):], "\n"))
		}
	})
	return p
}

// quick is the delivery config the specs use: outages cost milliseconds.
var quick = []string{"min_backoff: 1s", "min_backoff: 20ms", "max_backoff: 5m", "max_backoff: 200ms",
	"max_attempts: 15", "max_attempts: 1000"}

// acks collects which users' webhooks were acknowledged (every load user is unique to one webhook).
type acks struct {
	mu    sync.Mutex
	users map[string]bool
	// userOf maps the vendor's event ids to users
	userOf map[string]string
}

func (a *acks) record(r load.Result) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.users == nil {
		a.users, a.userOf = map[string]bool{}, map[string]string{}
	}
	if r.Acked {
		a.users[r.User] = true
	}
	a.userOf[r.EventID] = r.User
}

func (a *acks) user(eventID string) string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.userOf[eventID]
}

func (a *acks) count() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.users)
}

// delivered counts the fake's records per identity.
func delivered(ctx context.Context, sim *clevertap.Client) map[string]int {
	events, err := sim.Events(ctx, clevertap.EventFilter{Account: account})
	Expect(err).NotTo(HaveOccurred())
	out := map[string]int{}
	for _, e := range events {
		var r struct {
			Identity string `json:"identity"`
		}
		Expect(json.Unmarshal(e.Record, &r)).To(Succeed())
		out[r.Identity]++
	}
	return out
}

// tally is a spec's figures: what the emitters sent and what reached the fake.
type tally struct {
	Sent, Acked, Retried, Delivered, Duplicated, Lost, Unexpected int
}

// exactlyOnce waits until every acknowledged webhook reached the fake, checks none arrives twice (also over a
// settle window once the relay's outbox is empty) and returns the figures.
func exactlyOnce(ctx context.Context, sim *clevertap.Client, relay *harness.Process, rep load.Report, a *acks) tally {
	want := a.count()
	Eventually(func() int {
		return total(delivered(ctx,
			sim))
	}).WithTimeout(60*time.Second).WithPolling(100*time.Millisecond).
		Should(BeNumerically(">=", want), "records at the fake")
	Eventually(func() int { return pending(relay) }).WithTimeout(30*time.Second).Should(BeZero(),
		"jobs left in the relay's outbox")
	Consistently(func() int {
		return total(delivered(ctx,
			sim))
	}).WithTimeout(500*time.Millisecond).WithPolling(100*time.Millisecond).
		Should(Equal(want), "no record arrives after the outbox is empty")
	got := delivered(ctx, sim)
	t := tally{Sent: rep.Sent, Acked: rep.Acked, Retried: rep.Retried, Delivered: len(got)}
	a.mu.Lock()
	defer a.mu.Unlock()
	for user, n := range got {
		if n > 1 {
			t.Duplicated += n - 1
		}
		if !a.users[user] {
			t.Unexpected++
		}
	}
	for user := range a.users {
		if got[user] == 0 {
			t.Lost++
		}
	}
	AddReportEntry("figures", fmt.Sprintf("%+v", t))
	GinkgoWriter.Printf("figures: %+v\n", t)
	return t
}

func total(m map[string]int) int {
	n := 0
	for _, c := range m {
		n += c
	}
	return n
}

// pending is the number of jobs in the relay's outbox.
func pending(relay *harness.Process) int {
	s, err := adminclient.New(relay.URL(), relay.AdminToken).Status(context.Background())
	if err != nil {
		return -1
	}
	return s.Outbox.Pending
}
