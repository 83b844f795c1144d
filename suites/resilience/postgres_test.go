package resilience_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/ctharness/ctharness/harness"
	"github.com/ctharness/ctharness/internal/pgtest"
	"github.com/ctharness/ctharness/relay/adminclient"
	"github.com/ctharness/ctharness/relay/outbox"
	"github.com/ctharness/ctharness/simulator/clevertap"
	"github.com/ctharness/ctharness/simulator/load"
)

// postgresDB starts a throwaway cluster for the spec (skipped, saying why, without Debian's postgresql) and
// returns it and a new database's DSN.
func postgresDB(ctx context.Context) (*pgtest.Cluster, string) {
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
	return c, fmt.Sprintf("postgres://relay@127.0.0.1:%d/outbox?sslmode=disable", c.Port)
}

// sharedRelay is a relay process on the shared Postgres outbox, its lease short so that a dead replica's
// destinations are taken over within seconds.
func sharedRelay(ctx context.Context, simURL, dsn string) *harness.Process {
	p := startRelayWith(ctx, simURL, []string{"--outbox-dsn", dsn},
		append(quick, "intake:\n", "outbox:\n  lease: 1s\nintake:\n")...)
	return p
}

// leaseHolder is the relay process that holds the RevenueCat destination's lease now (replica names carry the
// pid), or nil when none does.
func leaseHolder(ctx context.Context, conn *pgx.Conn, relays []*harness.Process) *harness.Process {
	var holder string
	err := conn.QueryRow(ctx, `SELECT holder FROM relay_leases WHERE destination = 'revenuecat/clevertap'
		AND expires > now()`).Scan(&holder)
	if err != nil {
		return nil
	}
	return replica(holder, relays)
}

// replica is the relay process a replica name belongs to (the names carry the pid), or nil.
func replica(name string, relays []*harness.Process) *harness.Process {
	for _, r := range relays {
		if strings.Contains(name, fmt.Sprintf("-%d-", r.Pid())) {
			return r
		}
	}
	return nil
}

// holderSending is the relay process that holds the RevenueCat destination's lease and has uploads marked as
// being sent, both in one reading; nil when none does.
func holderSending(ctx context.Context, conn *pgx.Conn, relays []*harness.Process) *harness.Process {
	var holder string
	err := conn.QueryRow(ctx, `SELECT holder FROM relay_leases l WHERE destination = 'revenuecat/clevertap'
		AND expires > now() AND EXISTS (SELECT 1 FROM relay_jobs j WHERE j.sending_by = l.holder)`).Scan(&holder)
	if err != nil {
		return nil
	}
	return replica(holder, relays)
}

var _ = Describe("three relays on one Postgres outbox", Label("postgres"), func() {
	It("deliver each acked webhook once when one is killed with kill -9 mid-load", func(ctx SpecContext) {
		_, dsn := postgresDB(ctx)
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
		conn, err := pgx.Connect(ctx, dsn)
		Expect(err).NotTo(HaveOccurred())
		defer conn.Close(ctx)
		// the replica delivering, mid-upload; a lease may pass to another replica between two reads on a starved
		// machine (a renewal late by more than the 1 s lease), so the database and the status are read again
		var victim *harness.Process
		Eventually(func(g Gomega) {
			victim = leaseHolder(ctx, conn, relays)
			g.Expect(victim).NotTo(BeNil(), "a relay holds the RevenueCat destination")
			status, err := adminclient.New(relays[2].URL(), relays[2].AdminToken).Status(ctx)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(status.Store.Where).To(HavePrefix("postgres 127.0.0.1:"))
			g.Expect(status.Store.Replica).To(ContainSubstring(fmt.Sprintf("-%d-", relays[2].Pid())))
			g.Expect(status.Store.Leases).To(HaveKeyWithValue("revenuecat/clevertap",
				HaveField("Holder", ContainSubstring(fmt.Sprintf("-%d-", victim.Pid())))),
				"any replica's status says which replica delivers what")
		}).WithTimeout(10 * time.Second).Should(Succeed())
		Expect(victim.Kill()).To(Succeed())
		killedAt := a.count()
		Expect(victim.Start(ctx)).To(Succeed()) // a new replica in its place: the old one's marks are in doubt
		rep := finishedAll(loads)
		Expect(killedAt).To(BeNumerically("<", 9000), "the kill happened in the middle of the load")
		Expect(rep.Sent).To(Equal(9000))
		Expect(rep.Refused).To(BeZero(), "every webhook acknowledged in the end: %+v", rep)

		// the killed replica's uploads in flight are in doubt: held by after_crash: hold once its heartbeat ran out;
		// the operator retries those the fake does not have, from any replica
		Eventually(func() int { return pending(relays[0]) }).WithTimeout(60 * time.Second).Should(BeZero())
		held := deadLetters(relays[2])
		retryInDoubt(ctx, sim, relays[0], held, &a, "kill -9 of one replica")
		t := exactlyOnce(ctx, sim, relays[0], rep, &a)
		Expect(t).To(Equal(tally{Sent: 9000, Acked: 9000, Retried: rep.Retried, Delivered: 9000}))
	})
})

var _ = Describe("the Postgres outbox's database", Label("postgres"), func() {
	for _, c := range []struct {
		how  string
		down func(*pgtest.Cluster) error
	}{
		{"stopped (fast) and started", func(c *pgtest.Cluster) error { return c.StopServer(context.Background()) }},
		{"killed with kill -9 and started (crash recovery)", (*pgtest.Cluster).KillServer},
	} {
		It("refuses webhooks with 503 while "+c.how+" mid-load, says why on /readyz, then delivers each acked "+
			"webhook once", func(ctx SpecContext) {
			cluster, dsn := postgresDB(ctx)
			simURL, sim := fakeCleverTap()
			relays := []*harness.Process{sharedRelay(ctx, simURL, dsn), sharedRelay(ctx, simURL, dsn)}
			var a acks
			var loads []<-chan loadResult
			for _, r := range relays {
				loads = append(loads, loadInBackground(ctx, rcLoad(r, load.Options{Rate: 500, Count: 2500,
					Concurrency: 32, Retry: true, TimeScale: 0.001, OnResult: a.record})))
			}
			Eventually(a.count).WithTimeout(30*time.Second).Should(BeNumerically(">=", 1000), "acknowledged first")
			Expect(c.down(cluster)).To(Succeed())
			Eventually(func() string {
				code, body := get(relays[0].URL() + "/readyz")
				return fmt.Sprintf("%d %s", code, body)
			}).WithTimeout(10 * time.Second).Should(And(HavePrefix("503"), ContainSubstring("does not answer")))
			ackedWhileDown := a.count()
			Expect(cluster.StartServer(ctx)).To(Succeed())
			rep := finishedAll(loads)
			Expect(ackedWhileDown).To(BeNumerically("<", 5000), "the database went down in the middle of the load")
			Expect(rep.Refused).To(BeZero(), "every webhook acknowledged once the database was back: %+v", rep)
			Expect(rep.Retried).To(BeNumerically(">", 0), "webhooks refused while it was down were retried")
			Eventually(func() int { return pending(relays[0]) }).WithTimeout(60 * time.Second).Should(BeZero())
			Expect(deadLetters(relays[1])).To(BeEmpty(), "no replica died: nothing is in doubt")
			t := exactlyOnce(ctx, sim, relays[0], rep, &a)
			Expect(t).To(Equal(tally{Sent: 5000, Acked: 5000, Retried: rep.Retried, Delivered: 5000}))
		})
	}
})

// get is a GET's status and body.
func get(url string) (int, string) {
	res, err := http.Get(url)
	if err != nil {
		return 0, err.Error()
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(body)
}

// finishedAll waits for loads played in the background and adds up their figures.
func finishedAll(loads []<-chan loadResult) load.Report {
	var rep load.Report
	for _, l := range loads {
		r := finished(l)
		rep.Sent, rep.Acked, rep.Refused, rep.Retried = rep.Sent+r.Sent, rep.Acked+r.Acked, rep.Refused+r.Refused,
			rep.Retried+r.Retried
	}
	return rep
}

var _ = Describe("the relays' database connections", Label("postgres"), func() {
	It("killed with pg_terminate_backend mid-load, three times: each acked webhook delivered once",
		func(ctx SpecContext) {
			cluster, dsn := postgresDB(ctx)
			simURL, sim := fakeCleverTap()
			relays := []*harness.Process{sharedRelay(ctx, simURL, dsn), sharedRelay(ctx, simURL, dsn)}
			var a acks
			var loads []<-chan loadResult
			for _, r := range relays {
				loads = append(loads, loadInBackground(ctx, rcLoad(r, load.Options{Rate: 500, Count: 2500,
					Concurrency: 32, Retry: true, TimeScale: 0.001, OnResult: a.record})))
			}
			admin, err := pgx.Connect(ctx, cluster.DSN)
			Expect(err).NotTo(HaveOccurred())
			defer admin.Close(ctx)
			terminated := 0
			for round := 1; round <= 3; round++ {
				Eventually(a.count).WithTimeout(30 * time.Second).Should(BeNumerically(">=", round*1000))
				var n int
				Expect(admin.QueryRow(ctx, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
					WHERE application_name LIKE 'ctharness-relay %'`).Scan(&n)).To(Succeed())
				terminated += n
			}
			Expect(terminated).To(BeNumerically(">", 0), "the relays' connections were there to kill")
			GinkgoWriter.Printf("connections terminated: %d\n", terminated)
			rep := finishedAll(loads)
			Expect(rep.Refused).To(BeZero(), "every webhook acknowledged in the end: %+v", rep)
			Eventually(func() int { return pending(relays[0]) }).WithTimeout(60 * time.Second).Should(BeZero())
			Expect(deadLetters(relays[1])).To(BeEmpty(), "no replica died: nothing is in doubt")
			t := exactlyOnce(ctx, sim, relays[0], rep, &a)
			Expect(t).To(Equal(tally{Sent: 5000, Acked: 5000, Retried: rep.Retried, Delivered: 5000}))
		})
})

// cuttable is a TCP forwarder to the database that can cut a relay off from it (and let it back), as a network
// partition would, while everything else stays up.
type cuttable struct {
	ln     net.Listener
	to     string
	mu     sync.Mutex
	cut    bool
	conns  []net.Conn
	closed chan struct{}
}

func forwardTo(to string) *cuttable {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	Expect(err).NotTo(HaveOccurred())
	c := &cuttable{ln: ln, to: to, closed: make(chan struct{})}
	go func() {
		for {
			in, err := ln.Accept()
			if err != nil {
				return
			}
			c.mu.Lock()
			if c.cut {
				c.mu.Unlock()
				in.Close()
				continue
			}
			out, err := net.Dial("tcp", to)
			if err != nil {
				c.mu.Unlock()
				in.Close()
				continue
			}
			c.conns = append(c.conns, in, out)
			c.mu.Unlock()
			go func() { _, _ = io.Copy(out, in); out.Close() }()
			go func() { _, _ = io.Copy(in, out); in.Close() }()
		}
	}()
	DeferCleanup(ln.Close)
	return c
}

func (c *cuttable) addr() string { return c.ln.Addr().String() }

// partition closes every connection through the forwarder and refuses new ones until heal.
func (c *cuttable) partition() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.cut = true
	for _, conn := range c.conns {
		conn.Close()
	}
	c.conns = nil
}

func (c *cuttable) heal() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.cut = false
}

var _ = Describe("a relay cut off from the Postgres outbox while CleverTap stays up", Label("postgres"), func() {
	for _, c := range []struct {
		how, name string
		// long: the cut lasts until the other relay has settled what the cut one had in flight (its heartbeat
		// three leases old); otherwise it ends as soon as the other relay holds the destination
		long bool
	}{
		{"for longer than its heartbeat's grace: the other relay takes the destination over and holds what the " +
			"cut one had in flight", "a long partition", true},
		{"briefly: the other relay takes the destination over and waits for the cut one, back, to record the " +
			"uploads it had in flight", "a brief partition", false},
	} {
		It("stops taking webhooks and sending when cut off "+c.how+"; nothing is sent twice", func(ctx SpecContext) {
			cluster, dsn := postgresDB(ctx)
			simURL, sim := fakeCleverTap()
			// each upload takes a while, so the relay delivering has uploads out when it is cut off
			_, err := sim.AddFault(ctx, clevertap.Fault{Action: clevertap.FaultDelay, DelayMS: 300, Endpoint: "upload"})
			Expect(err).NotTo(HaveOccurred())
			// each relay reaches the database through a link of its own: the one cut off is whichever holds the
			// destination with uploads out at the moment of the cut (on a starved machine a late heartbeat can hand
			// the destination to the other relay before that)
			pgAddr := fmt.Sprintf("127.0.0.1:%d", cluster.Port)
			links := []*cuttable{forwardTo(pgAddr), forwardTo(pgAddr)}
			conn, err := pgx.Connect(ctx, dsn)
			Expect(err).NotTo(HaveOccurred())
			defer conn.Close(ctx)
			// one relay starts first and takes the destination; the other joins
			relays := []*harness.Process{sharedRelay(ctx, simURL, strings.Replace(dsn, pgAddr, links[0].addr(), 1))}
			var a acks
			load0 := func(r *harness.Process) <-chan loadResult {
				return loadInBackground(ctx, rcLoad(r, load.Options{Rate: 500, Count: 2500, Concurrency: 32,
					Retry: true, TimeScale: 0.001, OnResult: a.record}))
			}
			loads := []<-chan loadResult{load0(relays[0])}
			Eventually(func() *harness.Process { return leaseHolder(ctx, conn, relays) }).
				WithTimeout(30 * time.Second).Should(Equal(relays[0]))
			relays = append(relays, sharedRelay(ctx, simURL, strings.Replace(dsn, pgAddr, links[1].addr(), 1)))
			loads = append(loads, load0(relays[1]))
			Eventually(a.count).WithTimeout(30*time.Second).Should(BeNumerically(">=", 1500), "acknowledged first")
			// what a cut relay has marked as being uploaded stays so (it cannot write any more): all in doubt
			marked := func(r *harness.Process) int {
				var n int
				Expect(conn.QueryRow(ctx, "SELECT count(*) FROM relay_jobs WHERE sending_by LIKE $1",
					fmt.Sprintf("%%-%d-%%", r.Pid())).Scan(&n)).To(Succeed())
				return n
			}
			// a commit the server had received before the cut still lands: the marks are counted once the server
			// has ended every session of the cut relay
			sessions := func(r *harness.Process) func() int {
				return func() int {
					var n int
					Expect(conn.QueryRow(ctx, "SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE $1",
						fmt.Sprintf("ctharness-relay %%-%d-%%", r.Pid())).Scan(&n)).To(Succeed())
					return n
				}
			}
			// the uploads seen out can end and be recorded before the cut lands (on a starved machine the moment
			// between the look and the cut is long): then the cut is healed and made again
			cutOff, inFlight := -1, 0
			for attempt := 1; ; attempt++ {
				Eventually(func() int {
					cutOff = slices.Index(relays, holderSending(ctx, conn, relays))
					return cutOff
				}).WithTimeout(30*time.Second).ShouldNot(Equal(-1), "a relay holds the destination with uploads out")
				links[cutOff].partition()
				Eventually(sessions(relays[cutOff])).WithTimeout(10 * time.Second).Should(BeZero())
				if inFlight = marked(relays[cutOff]); inFlight > 0 {
					AddReportEntry("cuts made until the cut relay had uploads out", attempt)
					break
				}
				Expect(attempt).To(BeNumerically("<", 5), "the cut relay had uploads out")
				links[cutOff].heal()
			}
			cut, kept := relays[cutOff], relays[1-cutOff]
			Eventually(func() string {
				code, _ := get(cut.URL() + "/readyz")
				return fmt.Sprint(code)
			}).WithTimeout(15 * time.Second).Should(Equal("503"))
			// the partition lasts until the other relay has taken the destination over and settled what the cut one
			// had in flight (once that one's heartbeat is three leases old)
			Eventually(func() *harness.Process { return leaseHolder(ctx, conn, relays) }).
				WithTimeout(30*time.Second).Should(Equal(kept), "the relay still connected holds the destination")
			if c.long {
				Eventually(func() int { return marked(cut) }).WithTimeout(30 * time.Second).Should(BeZero())
			}
			links[cutOff].heal()
			rep := finishedAll(loads)
			Expect(rep.Refused).To(BeZero(), "every webhook acknowledged in the end: %+v", rep)
			Eventually(func() int { return pending(kept) }).WithTimeout(60*time.Second).Should(BeZero(),
				func() string { return outboxState(ctx, conn) })
			held := deadLetters(kept)
			if c.long {
				Expect(held).To(HaveLen(inFlight), "held: exactly what was in flight at the cut")
			} else { // unless the cut one came back too late to be taken for alive
				Expect(len(held)).To(BeNumerically("<=", inFlight), "held: at most what was in flight at the cut")
			}
			retryInDoubt(ctx, sim, kept, held, &a, c.name)
			t := exactlyOnce(ctx, sim, kept, rep, &a)
			Expect(t).To(Equal(tally{Sent: 5000, Acked: 5000, Retried: rep.Retried, Delivered: 5000}))
		})
	}
})

// outboxState says who holds what in a shared outbox: the leases, the replicas' heartbeats and the jobs marked as
// sending by each, for a failure's message.
func outboxState(ctx context.Context, conn *pgx.Conn) string {
	var b strings.Builder
	for _, q := range []string{
		"SELECT destination, holder, expires - now() FROM relay_leases ORDER BY destination",
		"SELECT id, now() - heartbeat FROM relay_replicas ORDER BY id",
		"SELECT coalesce(sending_by, '-'), destination, count(*), min(id), max(id) FROM relay_jobs " +
			"GROUP BY 1, 2 ORDER BY 1, 2",
	} {
		rows, err := conn.Query(ctx, q)
		if err != nil {
			fmt.Fprintf(&b, "%s: %v\n", q, err)
			continue
		}
		fmt.Fprintf(&b, "%s\n", q)
		for rows.Next() {
			vals, _ := rows.Values()
			fmt.Fprintf(&b, "  %v\n", vals)
		}
		rows.Close()
	}
	return b.String()
}

var _ = Describe("a bbolt relay's outbox moved into Postgres", Label("postgres"), func() {
	It("is delivered once by the relays on Postgres, its uploads in doubt held, and no relay starts on the old "+
		"data dir", func(ctx SpecContext) {
		_, dsn := postgresDB(ctx)
		simURL, sim := fakeCleverTap()
		// CleverTap slow: the bbolt relay has a backlog and uploads out when it is killed
		_, err := sim.AddFault(ctx, clevertap.Fault{Action: clevertap.FaultDelay, DelayMS: 1000, Endpoint: "upload"})
		Expect(err).NotTo(HaveOccurred())
		old := startRelay(ctx, simURL, 0, append(quick, "max_concurrent_per_account: 10",
			"max_concurrent_per_account: 2", "max_batch: 1000", "max_batch: 100")...)
		var a acks
		rep, err := load.Run(ctx, rcLoad(old, load.Options{Rate: 1000, Count: 2000, Concurrency: 32,
			OnResult: a.record}))
		Expect(err).NotTo(HaveOccurred())
		Expect(rep.Acked).To(Equal(2000))
		// killed once it has uploads out, read from its outbox file as the check reads it (a read racing a commit
		// may see a torn file: it is read again)
		Eventually(func() int {
			r, _ := outbox.Check(filepath.Join(dataDir(old), outbox.FileName))
			return r.InDoubt
		}).WithTimeout(30*time.Second).Should(BeNumerically(">", 0), "the bbolt relay has uploads out")
		Expect(old.Kill()).To(Succeed())

		move := exec.CommandContext(ctx, old.Bin, "outbox", "salvage", "--data-dir", dataDir(old))
		move.Env = append(os.Environ(), "RELAY_OUTBOX_DSN="+dsn)
		out, err := move.CombinedOutput()
		Expect(err).NotTo(HaveOccurred(), string(out))
		said := regexp.MustCompile(`moved into postgres 127\.0\.0\.1:\d+/\w+: [1-9]\d* pending jobs \((\d+) of them ` +
			`uploads in doubt\), 0 dead letters, 2000 event ids`).FindStringSubmatch(string(out))
		Expect(said).NotTo(BeNil(), string(out))
		inDoubt, _ := strconv.Atoi(said[1])
		Expect(string(out)).NotTo(ContainSubstring(dsn), "the DSN is a secret")
		GinkgoWriter.Print(string(out))

		err = old.Start(ctx)
		var exit *harness.ExitError
		Expect(errors.As(err, &exit)).To(BeTrue(), "expected the old relay to exit, got %v", err)
		Expect(exit.Logs).To(ContainSubstring("would send them a second time"))
		again := exec.CommandContext(ctx, old.Bin, "outbox", "salvage", "--data-dir", dataDir(old))
		again.Env = move.Env
		out, err = again.CombinedOutput()
		Expect(err).To(HaveOccurred())
		Expect(string(out)).To(ContainSubstring("was moved into postgres"))

		Expect(sim.ClearFaults(ctx)).To(Succeed())
		relays := []*harness.Process{sharedRelay(ctx, simURL, dsn), sharedRelay(ctx, simURL, dsn)}
		Eventually(func() int { return pending(relays[0]) }).WithTimeout(60 * time.Second).Should(BeZero())
		held := deadLetters(relays[1])
		Expect(held).To(HaveLen(inDoubt), "the uploads out at the kill are held, and nothing else")
		retryInDoubt(ctx, sim, relays[1], held, &a, "a move from bbolt")
		t := exactlyOnce(ctx, sim, relays[0], rep, &a)
		Expect(t).To(Equal(tally{Sent: 2000, Acked: 2000, Delivered: 2000}))
		// a vendor's redelivery of a webhook the bbolt relay took is a duplicate for the relays on Postgres
		redelivered, err := load.Run(ctx, rcLoad(relays[1], load.Options{Count: 1, Concurrency: 1,
			RunID: rep.RunID}))
		Expect(err).NotTo(HaveOccurred())
		Expect(redelivered.Statuses).To(Equal(map[string]int{"200": 1}))
		Consistently(func() int { return total(delivered(ctx, sim)) }).WithTimeout(time.Second).
			Should(Equal(2000), "the redelivery is not sent again")
	})
})
