package resilience_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/ctharness/ctharness/harness"
	"github.com/ctharness/ctharness/relay/adminclient"
	"github.com/ctharness/ctharness/simulator/clevertap"
	"github.com/ctharness/ctharness/simulator/load"
)

type deadLetter struct {
	ID        uint64 `json:"id"`
	EventID   string `json:"event_id"`
	EventType string `json:"event_type"`
	Status    int    `json:"status"`
	Code      int    `json:"code"`
	Reason    string `json:"reason"`
}

func deadLetters(relay *harness.Process) []deadLetter {
	var out struct {
		DeadLetters []deadLetter `json:"deadletters"`
	}
	Expect(adminclient.New(relay.URL(), relay.AdminToken).Call(context.Background(), http.MethodGet,
		"/admin/deadletters", &out)).To(Succeed())
	return out.DeadLetters
}

// retry sends a dead letter again.
func retry(relay *harness.Process, id uint64) {
	Expect(adminclient.New(relay.URL(), relay.AdminToken).Retry(context.Background(), id)).To(Succeed())
}

// retryInDoubt does the operator's check after an unclean stop, against the fake: every dead letter held must be
// an upload in doubt of one of the load's webhooks, and those the fake does not have are retried through relay.
// What it found is printed and reported under what.
func retryInDoubt(ctx context.Context, sim *clevertap.Client, relay *harness.Process, held []deadLetter, a *acks,
	what string) {
	at := delivered(ctx, sim)
	retried := 0
	for _, d := range held {
		Expect(d.Reason).To(HavePrefix("in flight when the relay stopped without shutting down"),
			"the only dead letters are the in-doubt ones: %+v", d)
		user := a.user(d.EventID)
		Expect(user).NotTo(BeEmpty(), "dead letter %+v is one of the load's webhooks", d)
		if at[user] == 0 {
			retry(relay, d.ID)
			retried++
		}
	}
	GinkgoWriter.Printf("in doubt after %s: held %d, already at CleverTap %d, retried %d\n", what, len(held),
		len(held)-retried, retried)
	AddReportEntry("in doubt after "+what, map[string]int{"held": len(held), "already_at_clevertap": len(held) - retried,
		"retried": retried})
}

var _ = Describe("partial answers", Label("partial"), func() {
	It("never resends processed records; refused ones wait in the dead letters until retried", func(ctx SpecContext) {
		simURL, sim := fakeCleverTap()
		setDiscarded := func(names ...string) {
			accounts, err := sim.Accounts(ctx)
			Expect(err).NotTo(HaveOccurred())
			for _, acct := range accounts {
				if acct.ID == account {
					acct.DiscardedEvents = names
					Expect(sim.PutAccount(ctx, acct)).To(Succeed())
				}
			}
		}
		// the dashboard discards renewals: CleverTap answers "partial" with code 528 for those records
		setDiscarded("rc_renewal_event")
		relay := startRelay(ctx, simURL, 0, quick...)

		var a acks
		rep, err := load.Run(ctx, load.Options{Source: "revenuecat", Credential: harness.DefaultCredential("revenuecat"),
			Target: relay.URL() + "/webhooks/revenuecat", Count: 300,
			Events: []string{"INITIAL_PURCHASE", "RENEWAL", "CANCELLATION"}, Users: 0, Concurrency: 16, Duration: time.Minute,
			OnResult: a.record})
		Expect(err).NotTo(HaveOccurred())
		Expect(rep.Acked).To(Equal(300))

		Eventually(func() int { return len(deadLetters(relay)) }).WithTimeout(20 * time.Second).Should(Equal(100))
		Eventually(func() int { return total(delivered(ctx, sim)) }).WithTimeout(20 * time.Second).Should(Equal(200))
		Eventually(func() int { return pending(relay) }).WithTimeout(10 * time.Second).Should(BeZero())
		for _, d := range deadLetters(relay) {
			Expect(d).To(And(HaveField("EventType", "RENEWAL"), HaveField("Status", 200), HaveField("Code", 528),
				HaveField("Reason", ContainSubstring("ErrorCode: 528 - Discarded event is raised"))), "dead letter %+v", d)
		}
		partials := 0
		for _, e := range uploads(ctx, sim) {
			if strings.Contains(string(e.Response), `"status":"partial"`) {
				partials++
			}
		}
		Expect(partials).To(BeNumerically(">", 0), "CleverTap answered partial")
		Consistently(func() int { return total(delivered(ctx, sim)) }).WithTimeout(500*time.Millisecond).Should(Equal(200),
			"processed records are never sent again")

		// fix the account, then retry every dead letter
		setDiscarded()
		for _, d := range deadLetters(relay) {
			retry(relay, d.ID)
		}
		t := exactlyOnce(ctx, sim, relay, rep, &a)
		Expect(t).To(Equal(tally{Sent: 300, Acked: 300, Delivered: 300}))
		Expect(deadLetters(relay)).To(BeEmpty())
		renewals, err := sim.Events(ctx, clevertap.EventFilter{Account: account, Name: "rc_renewal_event"})
		Expect(err).NotTo(HaveOccurred())
		Expect(renewals).To(HaveLen(100))
	})
})

var _ = Describe("disk full", Label("disk"), func() {
	It("says what is full and exits 4 when it cannot even create its outbox", func(ctx SpecContext) {
		dir := GinkgoT().TempDir()
		cfg, err := harness.WriteRelayConfig(dir, "http://127.0.0.1:1")
		Expect(err).NotTo(HaveOccurred())
		addr, err := harness.FreeAddr()
		Expect(err).NotTo(HaveOccurred())
		p := harness.RelayProcess(relayBin, cfg, dir+"/data", addr)
		p.FileSizeLimitKiB = 8 // less than an empty outbox needs
		DeferCleanup(func() { _ = p.Kill() })
		var exited *harness.ExitError
		Expect(errors.As(p.Start(ctx), &exited)).To(BeTrue(), "the relay must not start: %s", p.Logs())
		Expect(exited.Code).To(Equal(4), "a full disk's exit code (not 2, a usage error): %s", exited.Logs)
		Expect(exited.Logs).To(ContainSubstring("the disk is full"))
		Expect(exited.Logs).To(ContainSubstring("relay.db"), "it names the file")
		Expect(exited.Logs).NotTo(ContainSubstring("--help"))
	})

	It("answers 503 when it cannot store, says why on /readyz, loses nothing once there is room", func(ctx SpecContext) {
		simURL, sim := fakeCleverTap()
		// the outbox may not grow past 512 KiB: the first webhooks fit, then every commit fails as on a full disk
		relay := startRelay(ctx, simURL, 512, quick...)

		var a acks
		done := loadInBackground(ctx, rcLoad(relay, load.Options{Rate: 2000, Count: 6000, Concurrency: 32,
			Retry: true, TimeScale: 0.002, OnResult: a.record}))

		var why string
		Eventually(func() int {
			resp, err := http.Get(relay.URL() + "/readyz")
			if err != nil {
				return 0
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			why = string(b)
			return resp.StatusCode
		}).WithTimeout(30*time.Second).WithPolling(20*time.Millisecond).Should(Equal(http.StatusServiceUnavailable),
			"readyz once the outbox cannot grow")
		Expect(why).To(ContainSubstring("file too large"), "readyz says why")
		GinkgoWriter.Printf("readyz: %s\n", why)
		// the log comes through a pipe from the relay's process: it may trail the answer /readyz gave
		Eventually(relay.Logs).WithTimeout(10 * time.Second).Should(ContainSubstring(
			"answering 503 so the vendor retries"))
		ackedWhileFull := a.count()

		// room again: the relay restarts without the limit, on the same outbox
		Expect(relay.Stop()).To(Succeed())
		relay.FileSizeLimitKiB = 0
		Expect(relay.Start(ctx)).To(Succeed())

		rep := finished(done)
		Expect(rep.Refused).To(BeZero(), "the refused webhooks were acknowledged on a retry: %+v", rep)
		Expect(rep.Statuses["503"]).To(BeNumerically(">", 0), "the relay answered 503 while its disk was full: %+v",
			rep.Statuses)
		AddReportEntry("disk full", map[string]any{"acked_before_full": ackedWhileFull, "answers": rep.Statuses})
		t := exactlyOnce(ctx, sim, relay, rep, &a)
		Expect(t).To(Equal(tally{Sent: 6000, Acked: 6000, Retried: rep.Retried, Delivered: 6000}))
	})
})
