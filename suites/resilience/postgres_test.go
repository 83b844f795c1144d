package resilience_test

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/ctharness/ctharness/harness"
	"github.com/ctharness/ctharness/internal/pgtest"
	"github.com/ctharness/ctharness/simulator/load"
)

// postgresDB starts a throwaway cluster for the spec (skipped, saying why, without Debian's postgresql) and
// returns a new database's DSN.
func postgresDB(ctx context.Context) string {
	if _, err := pgtest.Find(); err != nil {
		Skip(err.Error())
	}
	c, err := pgtest.Start(ctx)
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(c.Stop)
	conn, err := pgx.Connect(ctx, c.DSN)
	Expect(err).NotTo(HaveOccurred())
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, "CREATE DATABASE outbox")
	Expect(err).NotTo(HaveOccurred())
	return fmt.Sprintf("postgres://relay@127.0.0.1:%d/outbox?sslmode=disable", c.Port)
}

// sharedRelay is a relay process on the shared Postgres outbox, its lease short so that a dead replica's
// destinations are taken over within seconds.
func sharedRelay(ctx context.Context, simURL, dsn string) *harness.Process {
	p := startRelayWith(ctx, simURL, []string{"--outbox-dsn", dsn},
		append(quick, "intake:\n", "outbox:\n  lease: 1s\nintake:\n")...)
	return p
}

// leaseHolder is the relay process that holds the RevenueCat destination's lease (replica names carry the pid).
func leaseHolder(ctx context.Context, dsn string, relays []*harness.Process) *harness.Process {
	conn, err := pgx.Connect(ctx, dsn)
	Expect(err).NotTo(HaveOccurred())
	defer conn.Close(ctx)
	var holder string
	Eventually(func() error {
		return conn.QueryRow(ctx, "SELECT holder FROM relay_leases ORDER BY expires DESC LIMIT 1").Scan(&holder)
	}).Should(Succeed())
	for _, r := range relays {
		if strings.Contains(holder, fmt.Sprintf("-%d-", r.Pid())) {
			return r
		}
	}
	Fail("no relay process holds the lease " + holder)
	return nil
}

var _ = Describe("three relays on one Postgres outbox", Label("postgres"), func() {
	It("deliver each acked webhook once when one is killed with kill -9 mid-load", func(ctx SpecContext) {
		dsn := postgresDB(ctx)
		simURL, sim := fakeCleverTap()
		relays := []*harness.Process{sharedRelay(ctx, simURL, dsn), sharedRelay(ctx, simURL, dsn),
			sharedRelay(ctx, simURL, dsn)}
		var a acks
		var loads []<-chan loadResult
		for _, r := range relays { // a load balancer's share each, retried on RevenueCat's schedule
			loads = append(loads, loadInBackground(ctx, rcLoad(r, load.Options{Rate: 700, Count: 3000,
				Concurrency: 32, Retry: true, TimeScale: 0.001, OnResult: a.record})))
		}
		Eventually(a.count).WithTimeout(30*time.Second).Should(BeNumerically(">=", 2500), "acknowledged before the kill")
		victim := leaseHolder(ctx, dsn, relays) // the replica delivering, mid-upload
		Expect(victim.Kill()).To(Succeed())
		killedAt := a.count()
		Expect(victim.Start(ctx)).To(Succeed()) // a new replica in its place: the old one's marks are in doubt
		var rep load.Report
		for _, l := range loads {
			r := finished(l)
			rep.Sent, rep.Acked, rep.Refused, rep.Retried = rep.Sent+r.Sent, rep.Acked+r.Acked,
				rep.Refused+r.Refused, rep.Retried+r.Retried
		}
		Expect(killedAt).To(BeNumerically("<", 9000), "the kill happened in the middle of the load")
		Expect(rep.Sent).To(Equal(9000))
		Expect(rep.Refused).To(BeZero(), "every webhook acknowledged in the end: %+v", rep)

		// the killed replica's uploads in flight are in doubt: held by after_crash: hold once its heartbeat ran out;
		// the operator retries those the fake does not have, from any replica
		Eventually(func() int { return pending(relays[0]) }).WithTimeout(60 * time.Second).Should(BeZero())
		held := deadLetters(relays[2])
		at := delivered(ctx, sim)
		retried := 0
		for _, d := range held {
			Expect(d.Reason).To(HavePrefix("in flight when the relay stopped without shutting down"),
				"the only dead letters are the in-doubt ones: %+v", d)
			if user := a.user(d.EventID); at[user] == 0 {
				retry(relays[0], d.ID)
				retried++
			}
		}
		GinkgoWriter.Printf("in doubt after kill -9 of one replica: held %d, already at CleverTap %d, retried %d\n",
			len(held), len(held)-retried, retried)
		AddReportEntry("in doubt after kill -9 of one replica", map[string]int{"held": len(held),
			"already_at_clevertap": len(held) - retried, "retried": retried})
		t := exactlyOnce(ctx, sim, relays[0], rep, &a)
		Expect(t).To(Equal(tally{Sent: 9000, Acked: 9000, Retried: rep.Retried, Delivered: 9000}))
	})
})
