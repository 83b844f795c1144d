package resilience_test

import (
	"context"
	"slices"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/ctharness/ctharness/harness"
	"github.com/ctharness/ctharness/simulator/clevertap"
	"github.com/ctharness/ctharness/simulator/load"
)

// uploads is the fake's journal of upload requests, oldest first.
func uploads(ctx context.Context, sim *clevertap.Client) []clevertap.JournalEntry {
	entries, err := sim.Requests(ctx, clevertap.JournalFilter{})
	Expect(err).NotTo(HaveOccurred())
	out := entries[:0]
	for _, e := range entries {
		if e.Endpoint == "upload" {
			out = append(out, e)
		}
	}
	slices.SortFunc(out, func(a, b clevertap.JournalEntry) int { return a.ReceivedAt.Compare(b.ReceivedAt) })
	return out
}

func faulted(entries []clevertap.JournalEntry) []clevertap.JournalEntry {
	var out []clevertap.JournalEntry
	for _, e := range entries {
		if e.Fault != "" {
			out = append(out, e)
		}
	}
	return out
}

var _ = Describe("CleverTap outage", Label("outage"), func() {
	It("backs off through 503s and resets, and delivers everything once CleverTap recovers", func(ctx SpecContext) {
		simURL, sim := fakeCleverTap()
		// 20 ms doubling to a 320 ms cap, with equal jitter: each wait is between half and all of its step
		relay := startRelay(ctx, simURL, 0, "min_backoff: 1s", "min_backoff: 20ms", "max_backoff: 5m", "max_backoff: 320ms",
			"max_attempts: 15", "max_attempts: 1000")

		_, err := sim.AddFault(ctx, clevertap.Fault{Action: "respond", Status: 503, Endpoint: "upload"})
		Expect(err).NotTo(HaveOccurred())
		var a acks
		rep, err := load.Run(ctx, load.Options{Source: "revenuecat", Credential: harness.DefaultCredential("revenuecat"),
			Target: relay.URL() + "/webhooks/revenuecat", Count: 500,
			Users: 0, Concurrency: 16, Duration: time.Minute, OnResult: a.record})
		Expect(err).NotTo(HaveOccurred())
		Expect(rep.Acked).To(Equal(500), "the relay acknowledges what it stored, CleverTap down or not")

		Eventually(func() int {
			return len(faulted(uploads(ctx,
				sim)))
		}).WithTimeout(20 * time.Second).Should(BeNumerically(">=", 8))
		// by now the batches sent together as the webhooks arrived have failed: from here the queue holds every
		// record and sends one request at a time
		merged := time.Now()
		Expect(sim.ClearFaults(ctx)).To(Succeed())
		_, err = sim.AddFault(ctx, clevertap.Fault{Action: "reset", Endpoint: "upload"})
		Expect(err).NotTo(HaveOccurred())
		after := func() []clevertap.JournalEntry {
			var out []clevertap.JournalEntry
			for _, e := range faulted(uploads(ctx, sim)) {
				if e.ReceivedAt.After(merged) {
					out = append(out, e)
				}
			}
			return out
		}
		Eventually(func() int { return len(after()) }).WithTimeout(20 * time.Second).Should(BeNumerically(">=", 9))
		Expect(sim.ClearFaults(ctx)).To(Succeed())

		t := exactlyOnce(ctx, sim, relay, rep, &a)
		Expect(t).To(Equal(tally{Sent: 500, Acked: 500, Delivered: 500}))

		// The request rate during the outage follows the backoff: the relay had failed at least once when the
		// resets began (8 faulted uploads may have been concurrent batches, not 8 failures in a row), so from the
		// fifth reset on the step is at its 320 ms cap (20 ms doubled 4 times), and each wait is at least half of it.
		failed := faulted(uploads(ctx, sim))
		var gaps []time.Duration
		last := after()
		for i := 5; i < len(last); i++ {
			gap := last[i].ReceivedAt.Sub(last[i-1].ReceivedAt)
			Expect(gap).To(BeNumerically(">=", 158*time.Millisecond),
				"wait between failed requests %d and %d: expected at least half of 320 ms", i, i+1)
			gaps = append(gaps, gap.Round(time.Millisecond))
		}
		outage := failed[len(failed)-1].ReceivedAt.Sub(failed[0].ReceivedAt)
		AddReportEntry("outage", map[string]any{"failed_requests": len(failed), "over": outage.String(), "waits": gaps})
		GinkgoWriter.Printf("outage: %d failed requests over %s, waits %v\n", len(failed), outage, gaps)
		// A relay without backoff would have sent hundreds of requests in that time.
		Expect(float64(len(failed))/outage.Seconds()).To(BeNumerically("<", 60), "requests per second during the outage")
	})
})

var _ = Describe("429 storm", Label("429"), func() {
	It("delivers everything when CleverTap allows only 2 uploads in flight and the relay tries 10", func(ctx SpecContext) {
		simURL, sim := fakeCleverTap()
		accounts, err := sim.Accounts(ctx)
		Expect(err).NotTo(HaveOccurred())
		for _, acct := range accounts {
			if acct.ID == account {
				acct.MaxConcurrentUploads = 2
				Expect(sim.PutAccount(ctx, acct)).To(Succeed())
			}
		}
		// small batches so that many requests compete for the two slots, each held 20 ms so that they overlap
		_, err = sim.AddFault(ctx, clevertap.Fault{Action: "delay", DelayMS: 20, Endpoint: "upload"})
		Expect(err).NotTo(HaveOccurred())
		relay := startRelay(ctx, simURL, 0, append(quick, "max_batch: 1000", "max_batch: 20")...)

		var a acks
		rep, err := load.Run(ctx, load.Options{Source: "revenuecat", Credential: harness.DefaultCredential("revenuecat"),
			Target: relay.URL() + "/webhooks/revenuecat", Count: 3000,
			Users: 0, Concurrency: 64, Duration: time.Minute, OnResult: a.record})
		Expect(err).NotTo(HaveOccurred())
		t := exactlyOnce(ctx, sim, relay, rep, &a)
		Expect(t).To(Equal(tally{Sent: 3000, Acked: 3000, Delivered: 3000}))

		tooMany := 0
		for _, e := range uploads(ctx, sim) {
			if e.Status == 429 {
				tooMany++
			}
		}
		AddReportEntry("429 answers", tooMany)
		GinkgoWriter.Printf("429 answers: %d\n", tooMany)
		Expect(tooMany).To(BeNumerically(">", 0), "the storm happened: CleverTap answered 429")
	})
})
