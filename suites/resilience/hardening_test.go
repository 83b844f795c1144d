package resilience_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/ctharness/ctharness/harness"
	"github.com/ctharness/ctharness/relay/outbox"
	"github.com/ctharness/ctharness/simulator/clevertap"
	"github.com/ctharness/ctharness/simulator/load"
)

// rcLoad is a RevenueCat load to the relay with the default credential.
func rcLoad(relay *harness.Process, o load.Options) load.Options {
	o.Source, o.Credential = "revenuecat", harness.DefaultCredential("revenuecat")
	o.Target = relay.URL() + "/webhooks/revenuecat"
	if o.Duration == 0 {
		o.Duration = time.Minute
	}
	return o
}

// loadResult is how a load played in the background ended.
type loadResult struct {
	rep load.Report
	err error
}

// loadInBackground plays a load while the spec does something else; the spec judges how it ended (a goroutine
// that outlives a failed spec must not fail the next one with its own assertion).
func loadInBackground(ctx context.Context, o load.Options) <-chan loadResult {
	done := make(chan loadResult, 1)
	go func() {
		rep, err := load.Run(ctx, o)
		done <- loadResult{rep, err}
	}()
	return done
}

// finished waits for a background load and requires that it ran to its end.
func finished(done <-chan loadResult) load.Report {
	var res loadResult
	Eventually(done).WithTimeout(2 * time.Minute).Should(Receive(&res))
	Expect(res.err).NotTo(HaveOccurred())
	return res.rep
}

// dataDir is where startRelay keeps a relay's outbox.
func dataDir(relay *harness.Process) string {
	for i, a := range relay.Args {
		if a == "--data-dir" {
			return relay.Args[i+1]
		}
	}
	Fail("the relay has no --data-dir")
	return ""
}

var _ = Describe("a damaged outbox", Label("damage"), func() {
	It(
		"refuses to start on an emptied or edited outbox, and salvage delivers what was readable",
		func(ctx SpecContext) {
			simURL, sim := fakeCleverTap()
			_, err := sim.AddFault(ctx,
				clevertap.Fault{Action: "respond", Status: 503, Endpoint: "upload"}) // CleverTap down
			Expect(err).NotTo(HaveOccurred())
			relay := startRelay(ctx, simURL, 0, quick...)
			var a acks
			rep, err := load.Run(ctx, rcLoad(relay, load.Options{Count: 300, Concurrency: 16, OnResult: a.record}))
			Expect(err).NotTo(HaveOccurred())
			Expect(rep.Acked).To(Equal(300))
			Expect(relay.Stop()).To(Succeed())
			dir := dataDir(relay)
			outbox := filepath.Join(dir, "relay.db")
			kept, err := os.ReadFile(outbox)
			Expect(err).NotTo(HaveOccurred())

			// emptied: refused at once (it used to start clean, the 300 webhooks and the dedupe memory gone)
			Expect(os.Truncate(outbox, 0)).To(Succeed())
			err = relay.Start(ctx)
			var exit *harness.ExitError
			Expect(errors.As(err, &exit)).To(BeTrue(), "expected the relay to exit, got %v", err)
			Expect(exit.Code).NotTo(BeZero())
			Expect(exit.Logs).To(ContainSubstring("it was emptied or removed"))
			Expect(exit.Logs).To(ContainSubstring("held 300 pending jobs"))

			// edited (sed 's/"evtName":/"evtName"!/' on one job): refused, naming the job
			edited := editLiveJob(kept, filepath.Join(filepath.Dir(dir), "probe.db"))
			Expect(os.WriteFile(outbox, edited, 0o600)).To(Succeed())
			err = relay.Start(ctx)
			Expect(errors.As(err, &exit)).To(BeTrue(), "expected the relay to exit, got %v", err)
			Expect(exit.Logs).To(ContainSubstring("relay outbox salvage"))

			// salvage every readable job into a new outbox and start there
			newDir := filepath.Join(filepath.Dir(dir), "salvaged")
			out, err := exec.CommandContext(ctx, relay.Bin, "outbox", "salvage", "--data-dir", dir, "--to", newDir).
				CombinedOutput()
			Expect(err).NotTo(HaveOccurred(), string(out))
			Expect(string(out)).To(MatchRegexp(`salvaged into .*: (299|300) pending jobs`))
			for i, arg := range relay.Args {
				if arg == dir {
					relay.Args[i] = newDir
				}
			}
			Expect(relay.Start(ctx)).To(Succeed())
			Expect(sim.ClearFaults(ctx)).To(Succeed())
			salvaged := 299
			if strings.Contains(string(out), ": 300 pending") { // the edit fell on a page the tree no longer reaches
				salvaged = 300
			}
			Eventually(func() int { return total(delivered(ctx, sim)) }).WithTimeout(30 * time.Second).
				Should(Equal(salvaged))
			Consistently(func() int { return total(delivered(ctx, sim)) }).WithTimeout(500*time.Millisecond).
				Should(Equal(salvaged), "nothing delivered twice")
		},
	)
})

var _ = Describe("overload", Label("overload"), func() {
	It("sheds beyond its limits with 503 + Retry-After, loses nothing, and gives memory back", func(ctx SpecContext) {
		simURL, sim := fakeCleverTap()
		relay := startRelay(ctx, simURL, 0, append(quick, "max_body_bytes: 1048576",
			"max_body_bytes: 1048576\n  max_in_flight: 32\n  max_connections: 256")...)
		idle, err := relay.Memory()
		Expect(err).NotTo(HaveOccurred())
		var a acks
		// 1024 senders against 256 connections and 32 webhooks in flight, refused webhooks retried on RevenueCat's
		// schedule compressed 1000× (a webhook refused through the whole overload is the vendor's to give up on,
		// as it would after its real retries)
		rep, err := load.Run(ctx, rcLoad(relay, load.Options{Count: 5_000, Concurrency: 1024, Retry: true,
			TimeScale: 0.001, OnResult: a.record}))
		Expect(err).NotTo(HaveOccurred())
		shed := rep.Statuses["503"] + rep.Statuses["error"]
		GinkgoWriter.Printf("overload: %+v\n", rep)
		AddReportEntry("overload", map[string]any{"sent": rep.Sent, "acked": rep.Acked, "shed": shed,
			"statuses": rep.Statuses, "ack p99": rep.Latency.P99.String()})
		Expect(shed).To(BeNumerically(">", 0), "the relay shed load")
		Expect(rep.Acked).To(BeNumerically(">", rep.Sent/2), "the relay kept working through the overload")
		// what it accepted it answered in bounded time (a hang, not a speed: the p99 is reported above and measured
		// against its baseline by make bench; 2 s was exceeded on a 2-core machine busy with other work), and
		// delivers exactly once
		Expect(rep.Latency.P99).To(BeNumerically("<", 10*time.Second), "ack p99 of what was accepted")
		t := exactlyOnce(ctx, sim, relay, rep, &a)
		Expect(t.Delivered).To(Equal(rep.Acked))
		Expect(t.Lost + t.Duplicated + t.Unexpected).To(BeZero())

		// once the load is over, the memory the connections took goes back (the runtime returns it over minutes;
		// the relay gives it back once idle)
		var after harness.Memory
		Eventually(func() float64 {
			after, _ = relay.Memory()
			return after.Anon
		}).WithTimeout(30*time.Second).WithPolling(time.Second).Should(BeNumerically("<", idle.Anon+64),
			"anonymous RSS back near its idle %.1f MiB", idle.Anon)
		AddReportEntry("relay anonymous RSS (MiB)", map[string]float64{"idle": idle.Anon, "after": after.Anon})
	})
})

var _ = Describe("a backlog", Label("backlog"), func() {
	It("waits on disk, not in memory, through an outage and a restart, and is delivered once", func(ctx SpecContext) {
		simURL, sim := fakeCleverTap()
		_, err := sim.AddFault(ctx, clevertap.Fault{Action: "respond", Status: 503, Endpoint: "upload"})
		Expect(err).NotTo(HaveOccurred())
		relay := startRelay(ctx, simURL, 0, append(quick, "max_attempts: 1000", "max_attempts: 100000")...)
		idle, err := relay.Memory()
		Expect(err).NotTo(HaveOccurred())
		var a acks
		rep, err := load.Run(ctx, rcLoad(relay, load.Options{Count: 50_000, Concurrency: 128, OnResult: a.record}))
		Expect(err).NotTo(HaveOccurred())
		Expect(rep.Acked).To(Equal(50_000))
		Eventually(func() int { return pending(relay) }).Should(Equal(50_000))
		// the outage goes on; once the burst of webhooks is over the relay holds a window of the jobs, not all
		var during harness.Memory
		Eventually(func() float64 {
			during, _ = relay.Memory()
			return during.Anon
		}).WithTimeout(30*time.Second).WithPolling(time.Second).Should(BeNumerically("<", idle.Anon+64),
			"anonymous RSS with 50,000 jobs pending, against %.1f MiB idle", idle.Anon)
		Expect(relay.Stop()).To(Succeed())
		Expect(relay.Start(ctx)).To(Succeed())
		restarted, err := relay.Memory()
		Expect(err).NotTo(HaveOccurred())
		AddReportEntry("relay anonymous RSS with 50,000 jobs pending (MiB)", map[string]float64{"idle": idle.Anon,
			"during the outage": during.Anon, "after a restart": restarted.Anon})
		GinkgoWriter.Printf("backlog RSS: idle %.1f, during %.1f, restarted %.1f MiB\n", idle.Anon, during.Anon,
			restarted.Anon)
		// a pending job used to cost about 3.4 KiB (50,000: 165 MiB); the window holds 10,000 at most
		Expect(restarted.Anon).To(BeNumerically("<", idle.Anon+64), "a restart loads a window, not the backlog")
		Expect(sim.ClearFaults(ctx)).To(Succeed())
		t := exactlyOnce(ctx, sim, relay, rep, &a)
		Expect(t).To(Equal(tally{Sent: 50_000, Acked: 50_000, Delivered: 50_000}))
	})
})

var _ = Describe("failures together", Label("backoff"), func() {
	It(
		"count as one backoff step: after ten concurrent 503s delivery resumes within a few backoffs",
		func(ctx SpecContext) {
			simURL, sim := fakeCleverTap()
			// each of the first ten uploads is answered 503 after 300 ms, so all ten are in flight together
			_, err := sim.AddFault(ctx, clevertap.Fault{Action: "respond", Status: 503, DelayMS: 300, Times: 10,
				Endpoint: "upload"})
			Expect(err).NotTo(HaveOccurred())
			relay := startRelay(ctx, simURL, 0, "min_backoff: 1s", "min_backoff: 200ms", "max_backoff: 5m",
				"max_backoff: 60s", "max_batch: 1000", "max_batch: 20")
			var a acks
			rep, err := load.Run(ctx, rcLoad(relay, load.Options{Count: 2000, Concurrency: 64, OnResult: a.record}))
			Expect(err).NotTo(HaveOccurred())
			t := exactlyOnce(ctx, sim, relay, rep, &a)
			Expect(t.Delivered).To(Equal(2000))
			var lastFailure, firstAfter time.Time
			for _, e := range uploads(ctx, sim) {
				switch {
				case e.Status == 503:
					lastFailure = e.ReceivedAt
				case e.Status == 200 && !lastFailure.IsZero() && firstAfter.IsZero():
					firstAfter = e.ReceivedAt
				}
			}
			gap := firstAfter.Sub(lastFailure)
			AddReportEntry("from the last of ten concurrent 503s to the next upload", gap.String())
			// one step is 100 to 200 ms; ten steps (each failure counted) were 200 ms × 2⁹, capped at 60 s
			Expect(gap).To(BeNumerically("<", 2*time.Second), "delivery resumed after one backoff step")
		},
	)
})

// editLiveJob is the outbox with `"evtName":` made `"evtName"!` in one job the outbox holds: bbolt keeps stale
// copies of pages in its free space, so the first occurrence in the file may be one no reader ever sees; each
// candidate is written to probe and the first that outbox.Check finds damaged is the one.
func editLiveJob(file []byte, probe string) []byte {
	needle := []byte(`"evtName":`)
	for at := bytes.Index(file, needle); at >= 0; {
		edited := bytes.Clone(file)
		copy(edited[at:], `"evtName"!`)
		Expect(os.WriteFile(probe, edited, 0o600)).To(Succeed())
		if report, err := outbox.Check(probe); err == nil && !report.OK() {
			return edited
		}
		next := bytes.Index(file[at+1:], needle)
		if next < 0 {
			break
		}
		at += 1 + next
	}
	Fail("no occurrence of \"evtName\": in a job the outbox holds")
	return nil
}
