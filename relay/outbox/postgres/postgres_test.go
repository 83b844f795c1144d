package postgres

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ctharness/ctharness/internal/pgtest"
	"github.com/ctharness/ctharness/relay/outbox"
	"github.com/ctharness/ctharness/relay/outbox/outboxtest"
)

// cluster is the package's throwaway Postgres; each test gets a database of its own.
var (
	cluster  *pgtest.Cluster
	noServer error
	dbs      atomic.Int64
)

func TestMain(m *testing.M) {
	if _, err := pgtest.Find(); err != nil {
		noServer = err
		os.Exit(m.Run())
	}
	var err error
	if cluster, err = pgtest.Start(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, "starting PostgreSQL:", err)
		os.Exit(1)
	}
	code := m.Run()
	cluster.Stop()
	os.Exit(code)
}

// database makes a new empty database and returns its DSN.
func database(t testing.TB) string {
	t.Helper()
	if noServer != nil {
		t.Skip(noServer)
	}
	name := fmt.Sprintf("outbox_%d", dbs.Add(1))
	conn, err := pgx.Connect(context.Background(), cluster.DSN)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(context.Background(), "CREATE DATABASE "+name); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("postgres://relay@127.0.0.1:%d/%s?sslmode=disable", cluster.Port, name)
}

func open(t testing.TB, dsn string) *Store {
	t.Helper()
	s, err := Open(context.Background(), Options{DSN: dsn, Migrate: true})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// The Postgres driver holds to the outbox's contract.
func TestThePostgresOutboxConforms(t *testing.T) {
	outboxtest.Run(t, func(t *testing.T) (outbox.Outbox, func() outbox.Outbox) {
		dsn := database(t)
		return open(t, dsn), func() outbox.Outbox { return open(t, dsn) }
	})
}

// crash stops a replica as kill -9 would: no more heartbeats, its leases and marks left behind.
func crash(s *Store) {
	close(s.stop)
	<-s.done
	s.pool.Close()
}

func openLease(t *testing.T, dsn string, lease time.Duration) *Store {
	t.Helper()
	s, err := Open(context.Background(), Options{DSN: dsn, Migrate: true, Lease: lease})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// One replica at a time delivers a destination; another takes over when the holder closes, or when a holder
// that died stops renewing, and then finds its upload in doubt.
func TestReplicasShareDestinationsByLease(t *testing.T) {
	dsn := database(t)
	a, b := openLease(t, dsn, time.Second), openLease(t, dsn, time.Second)
	defer b.Close()
	none := func(uint64) bool { return false }
	jobs := []outbox.Job{outboxtest.Job("d", `{"n":1}`), outboxtest.Job("d", `{"n":2}`)}
	if _, err := b.Accept("revenuecat", "e1", jobs); err != nil { // accepted by one, delivered by another
		t.Fatal(err)
	}
	got, _, err := a.Next("d", none, 10)
	if err != nil || len(got) != 2 {
		t.Fatalf("expected replica a to take the destination and both jobs, got %d %v", len(got), err)
	}
	if _, _, err := b.Next("d", none, 10); !errors.Is(err, outbox.ErrLeased) {
		t.Fatalf("expected replica b refused while a holds the lease, got %v", err)
	}
	if leases, err := b.Leases(); err != nil || leases["d"].Holder != a.Replica() {
		t.Fatalf("expected b to see a holding d, got %+v %v", leases, err)
	}
	if err := a.MarkSending([]uint64{got[0].ID}); err != nil {
		t.Fatal(err)
	}
	crash(a)
	if doubt, _ := b.InDoubt(); len(doubt) != 0 {
		t.Fatalf("expected nothing in doubt while a's heartbeat is fresh, got %d", len(doubt))
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, _, err = b.Next("d", none, 10)
		if !errors.Is(err, outbox.ErrLeased) || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !errors.Is(err, outbox.ErrInDoubt) {
		t.Fatalf("expected b to find a's upload in doubt once a's lease ran out, got %v", err)
	}
	doubt, err := b.InDoubt()
	if err != nil || len(doubt) != 1 || doubt[0].ID != got[0].ID {
		t.Fatalf("expected a's marked job in doubt, got %+v %v", doubt, err)
	}
	if err := b.ClearSending([]uint64{doubt[0].ID}); err != nil { // after_crash: resend
		t.Fatal(err)
	}
	if rest, _, err := b.Next("d", none, 10); err != nil || len(rest) != 2 {
		t.Fatalf("expected b to deliver both jobs in order now, got %d %v", len(rest), err)
	}
}

// A replica cut off mid-try that writes its failed attempt back once it reconnects must not clear the mark of the
// replica that took the destination over and is sending the job now (the holder's upload would be unmarked).
func TestAnUpdateLeavesAnotherReplicasMark(t *testing.T) {
	dsn := database(t)
	a, b := openLease(t, dsn, time.Second), openLease(t, dsn, time.Second)
	defer a.Close()
	defer b.Close()
	none := func(uint64) bool { return false }
	if _, err := a.Accept("revenuecat", "e1", []outbox.Job{outboxtest.Job("d", `{"n":1}`)}); err != nil {
		t.Fatal(err)
	}
	got, _, err := a.Next("d", none, 10)
	if err != nil || len(got) != 1 {
		t.Fatalf("expected replica a to take the job, got %d %v", len(got), err)
	}
	if err := a.MarkSending([]uint64{got[0].ID}); err != nil {
		t.Fatal(err)
	}
	stale := got[0]
	stale.Attempts, stale.LastError = 7, "from a replica that lost the destination"
	if err := b.Update([]outbox.Job{stale}); err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var by *string
	if err := conn.QueryRow(context.Background(), "SELECT sending_by FROM relay_jobs WHERE id = $1",
		int64(got[0].ID)).Scan(&by); err != nil {
		t.Fatal(err)
	}
	if by == nil || *by != a.Replica() {
		t.Errorf("expected the job still marked by %s, the replica sending it, got %v", a.Replica(), by)
	}
	if pending, err := a.Pending(); err != nil || len(pending) != 1 || pending[0].Attempts != 0 {
		t.Errorf("expected the job's attempts untouched (0), got %+v %v", pending, err)
	}
	if err := a.Update([]outbox.Job{stale}); err != nil { // its own mark: cleared, the attempt written
		t.Fatal(err)
	}
	if pending, err := a.Pending(); err != nil || len(pending) != 1 || pending[0].Attempts != 7 {
		t.Errorf("expected the marking replica's own update written (7 attempts), got %+v %v", pending, err)
	}
}

// A schema newer than the relay knows, or one not migrated, is refused with what to do; so is
// synchronous_commit=off unless allowed; and the DSN's password is never in an error.
func TestOpenRefusesWhatItCannotTrust(t *testing.T) {
	dsn := database(t)
	s := open(t, dsn)
	s.Close()
	conn, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	exec := func(sql string) {
		if _, err := conn.Exec(context.Background(), sql); err != nil {
			t.Fatal(err)
		}
	}
	exec("UPDATE relay_schema SET version = 99")
	if _, err := Open(context.Background(), Options{DSN: dsn, Migrate: true}); err == nil ||
		!strings.Contains(err.Error(), "version 99, newer than this relay knows") {
		t.Fatalf("expected a newer schema refused, got %v", err)
	}
	fresh := database(t)
	if _, err := Open(context.Background(), Options{DSN: fresh}); err == nil ||
		!strings.Contains(err.Error(), "run relay migrate") {
		t.Fatalf("expected an unmigrated database refused without Migrate, got %v", err)
	}
	exec(fmt.Sprintf("UPDATE relay_schema SET version = %d", SchemaVersion))
	off := strings.Replace(dsn, "sslmode=disable", "sslmode=disable&options=-c%20synchronous_commit%3Doff", 1)
	if _, err := Open(context.Background(), Options{DSN: off}); err == nil ||
		!strings.Contains(err.Error(), "synchronous_commit is off") {
		t.Fatalf("expected synchronous_commit=off refused, got %v", err)
	}
	if s, err := Open(context.Background(), Options{DSN: off, AllowAsyncCommit: true}); err != nil {
		t.Fatalf("expected synchronous_commit=off accepted when allowed, got %v", err)
	} else {
		s.Close()
	}
	secret := strings.Replace(dsn, "relay@", "relay:s3cret-pw@", 1)
	secret = strings.Replace(secret, fmt.Sprintf(":%d/", cluster.Port), ":1/", 1)
	if _, err := Open(context.Background(), Options{DSN: secret}); err == nil || strings.Contains(err.Error(),
		"s3cret-pw") {
		t.Fatalf("expected an error without the password, got %v", err)
	}
}

// Replicas starting together migrate the schema once.
func TestReplicasMigrateTogether(t *testing.T) {
	dsn := database(t)
	errs := make(chan error, 3)
	for range 3 {
		go func() {
			s, err := Open(context.Background(), Options{DSN: dsn, Migrate: true})
			if err == nil {
				s.Close()
			}
			errs <- err
		}()
	}
	for range 3 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}

// A replica that held a destination past its lease (a pause, a partition) and lost it to another marks nothing
// and is told so: it must not send what the new holder will.
func TestALostLeaseMarksNothing(t *testing.T) {
	dsn := database(t)
	a, b := openLease(t, dsn, 500*time.Millisecond), openLease(t, dsn, 500*time.Millisecond)
	defer a.Close()
	defer b.Close()
	none := func(uint64) bool { return false }
	if _, err := a.Accept("revenuecat", "e1", []outbox.Job{outboxtest.Job("d", `{}`)}); err != nil {
		t.Fatal(err)
	}
	window, _, err := a.Next("d", none, 10)
	if err != nil || len(window) != 1 {
		t.Fatalf("expected a's window, got %d %v", len(window), err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for { // a pauses; its lease runs out and b takes the destination
		if _, _, err = b.Next("d", none, 10); err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("expected b to take the destination once a's lease ran out, got %v", err)
	}
	if err := a.MarkSending([]uint64{window[0].ID}); !errors.Is(err, outbox.ErrLeased) {
		t.Fatalf("expected a's mark refused after it lost the lease, got %v", err)
	}
	if err := b.MarkSending([]uint64{window[0].ID}); err != nil {
		t.Fatalf("expected the holder's mark taken, got %v", err)
	}
}

// Check says what a Postgres outbox holds and names a job whose bytes changed.
func TestCheckNamesADamagedJob(t *testing.T) {
	dsn := database(t)
	s := open(t, dsn)
	jobs := []outbox.Job{outboxtest.Job("d", `{"n":1}`), outboxtest.Job("d", `{"n":2}`)}
	if _, err := s.Accept("revenuecat", "e1", jobs); err != nil {
		t.Fatal(err)
	}
	jobs[1].Attempts = 1
	if err := s.Update(jobs[1:]); err != nil { // sealed now
		t.Fatal(err)
	}
	s.Close()
	conn, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(context.Background(), `UPDATE relay_jobs SET job = convert_to(replace(
		convert_from(job, 'UTF8'), '"n":2', '"n":3'), 'UTF8') WHERE id = $1`, int64(jobs[1].ID)); err != nil {
		t.Fatal(err)
	}
	rep, err := Check(context.Background(), dsn)
	if err != nil || rep.Pending != 1 || rep.Seen != 1 || len(rep.Damage) != 1 ||
		!strings.Contains(rep.Damage[0], "its bytes changed since it was stored") {
		t.Fatalf("expected 1 good job, 1 event id and the changed job named, got %+v %v", rep, err)
	}
}
