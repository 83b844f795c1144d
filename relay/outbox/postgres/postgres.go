// Package postgres is the relay's outbox on PostgreSQL, for several relays sharing one queue: any replica takes
// any webhook (the job and its event id committed in one transaction before the 200), and each destination is
// delivered by one replica at a time under a lease (so each user's order holds and no batch goes twice), taken
// over by another when its holder stops renewing it. A replica that dies mid-upload leaves its jobs marked with
// its id; another finds them in doubt once the dead replica's heartbeat has expired, and the relay's after_crash
// rule settles them, as after a kill -9 of a single relay.
package postgres

import (
	"context"
	"crypto/rand"
	"embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ctharness/ctharness/relay/outbox"
)

// Options configure the outbox.
type Options struct {
	// DSN is the database (a secret: never logged).
	DSN string
	// Replica names this relay among the others (default: host name, pid and a random suffix).
	Replica string
	// Lease is how long a destination's lease and a replica's heartbeat last without renewal (default 10 s): the
	// time before another replica takes over the destinations of one that stopped.
	Lease time.Duration
	// Migrate applies the schema at Open (the relay's default; relay migrate does it alone).
	Migrate bool
	// MaxConns is the pool size (default 16); StatementTimeout bounds each statement (default 10 s).
	MaxConns         int32
	StatementTimeout time.Duration
	// AllowAsyncCommit starts on a database with synchronous_commit=off, which can lose acknowledged webhooks in
	// a crash of the database server; refused unless set.
	AllowAsyncCommit bool
}

// Store is the open outbox.
type Store struct {
	pool    *pgxpool.Pool
	replica string
	lease   time.Duration
	where   string

	mu     sync.Mutex
	counts map[string]int
	gen    uint64 // changes with every local change of the counts: a refresh that raced one is dropped
	// connectedSince is when this replica's heartbeats last began to go through (at Open, after an outage):
	// another replica's stale heartbeat proves it dead only once this one has been connected for the grace, or
	// a database outage, which stops every heartbeat at once, would make each replica take the others for dead
	connectedSince time.Time
	beatFailed     bool

	stop chan struct{}
	done chan struct{}

	accepting accepting
}

var (
	_ outbox.Outbox        = (*Store)(nil)
	_ outbox.Shared        = (*Store)(nil)
	_ outbox.SharedBackoff = (*Store)(nil)
	_ outbox.Replicated    = (*Store)(nil)
)

// Open connects, checks the schema (applying it with Migrate) and the commit setting, and starts the replica's
// heartbeat.
func Open(ctx context.Context, opts Options) (*Store, error) {
	if opts.Lease <= 0 {
		opts.Lease = 10 * time.Second
	}
	if opts.MaxConns <= 0 {
		opts.MaxConns = 16
	}
	if opts.StatementTimeout <= 0 {
		opts.StatementTimeout = 10 * time.Second
	}
	if opts.Replica == "" {
		opts.Replica = replicaName()
	}
	cfg, err := pgxpool.ParseConfig(opts.DSN)
	if err != nil {
		return nil, fmt.Errorf("outbox dsn: expected a PostgreSQL URL or key=value DSN: %s", redactErr(err, opts.DSN))
	}
	cfg.MaxConns = opts.MaxConns
	cfg.ConnConfig.RuntimeParams["statement_timeout"] = strconv.FormatInt(opts.StatementTimeout.Milliseconds(), 10)
	cfg.ConnConfig.RuntimeParams["application_name"] = "ctharness-relay " + opts.Replica
	where := fmt.Sprintf("postgres %s:%d/%s", cfg.ConnConfig.Host, cfg.ConnConfig.Port, cfg.ConnConfig.Database)
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("outbox %s: %s", where, redactErr(err, opts.DSN))
	}
	s := &Store{pool: pool, replica: opts.Replica, lease: opts.Lease, where: where, counts: map[string]int{},
		stop: make(chan struct{}), done: make(chan struct{})}
	if err := s.prepare(ctx, opts); err != nil {
		pool.Close()
		return nil, fmt.Errorf("outbox %s: %s", where, redactErr(err, opts.DSN))
	}
	go s.heartbeat()
	return s, nil
}

func (s *Store) prepare(ctx context.Context, opts Options) error {
	var commit string
	if err := s.pool.QueryRow(ctx, "SHOW synchronous_commit").Scan(&commit); err != nil {
		return err
	}
	if commit == "off" && !opts.AllowAsyncCommit {
		return errors.New("synchronous_commit is off: a crash of the database server could lose webhooks the " +
			"relay already acknowledged; turn it on (the default), or set outbox.allow_async_commit to accept that")
	}
	if opts.Migrate {
		if err := Migrate(ctx, s.pool); err != nil {
			return err
		}
	} else if err := checkSchema(ctx, s.pool); err != nil {
		return err
	}
	if err := s.beat(ctx); err != nil {
		return err
	}
	return s.refreshCounts(ctx)
}

// replicaName is host-pid-random: unique per process, readable in the admin API.
func replicaName() string {
	host, _ := os.Hostname()
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%s-%d-%s", host, os.Getpid(), hex.EncodeToString(b))
}

// redactErr is an error's text without the DSN's password.
func redactErr(err error, dsn string) string {
	text := err.Error()
	if cfg, perr := pgx.ParseConfig(dsn); perr == nil && cfg.Password != "" {
		text = strings.ReplaceAll(text, cfg.Password, "REDACTED")
	}
	return text
}

//go:embed migrations/*.sql
var migrations embed.FS

// SchemaVersion is the schema version this relay knows: the number of its migrations.
var SchemaVersion = func() int {
	names, _ := versions()
	return len(names)
}()

// Versions are the schema's migrations, in order; the schema's version is the number of those applied.
func versions() ([]string, error) {
	names, err := fs.Glob(migrations, "migrations/*.sql")
	sort.Strings(names)
	return names, err
}

// Migrate brings the schema to this relay's version, forward only, under an advisory lock (replicas starting
// together apply each migration once). A database whose schema is newer than this relay knows is refused.
func Migrate(ctx context.Context, pool *pgxpool.Pool) error {
	names, err := versions()
	if err != nil {
		return err
	}
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock(7270277)"); err != nil {
		return err
	}
	defer conn.Exec(context.Background(), "SELECT pg_advisory_unlock(7270277)") //nolint:errcheck
	if _, err := conn.Exec(ctx, "CREATE TABLE IF NOT EXISTS relay_schema (version int NOT NULL)"); err != nil {
		return err
	}
	version, err := schemaVersion(ctx, conn.Conn())
	if err != nil {
		return err
	}
	if version > len(names) {
		return newerSchema(version, len(names))
	}
	for i := version; i < len(names); i++ {
		sql, err := migrations.ReadFile(names[i])
		if err != nil {
			return err
		}
		tx, err := conn.Begin(ctx)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, string(sql)); err != nil {
			_ = tx.Rollback(ctx)
			return fmt.Errorf("migration %s: %w", names[i], err)
		}
		if _, err := tx.Exec(ctx, "DELETE FROM relay_schema"); err != nil {
			_ = tx.Rollback(ctx)
			return err
		}
		if _, err := tx.Exec(ctx, "INSERT INTO relay_schema VALUES ($1)", i+1); err != nil {
			_ = tx.Rollback(ctx)
			return err
		}
		if err := tx.Commit(ctx); err != nil {
			return err
		}
	}
	return nil
}

func schemaVersion(ctx context.Context, conn *pgx.Conn) (int, error) {
	var version int
	err := conn.QueryRow(ctx, "SELECT coalesce(max(version), 0) FROM relay_schema").Scan(&version)
	return version, err
}

func newerSchema(have, know int) error {
	return fmt.Errorf("the database's outbox schema is version %d, newer than this relay knows (%d): run a relay "+
		"at least as new as the one that migrated it", have, know)
}

// checkSchema refuses a database that was not migrated to this relay's version.
func checkSchema(ctx context.Context, pool *pgxpool.Pool) error {
	names, err := versions()
	if err != nil {
		return err
	}
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	version, err := schemaVersion(ctx, conn.Conn())
	switch {
	case err != nil:
		return fmt.Errorf("no outbox schema (%v): run relay migrate, or start without --no-migrate", err)
	case version > len(names):
		return newerSchema(version, len(names))
	case version < len(names):
		return fmt.Errorf("the outbox schema is version %d, this relay needs %d: run relay migrate", version,
			len(names))
	}
	return nil
}

// heartbeat renews this replica's heartbeat and its counts every third of the lease until Close.
func (s *Store) heartbeat() {
	defer close(s.done)
	t := time.NewTicker(s.lease / 3)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), s.lease)
		_ = s.beat(ctx)
		_ = s.refreshCounts(ctx)
		cancel()
	}
}

func (s *Store) beat(ctx context.Context) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO relay_replicas (id, started, heartbeat) VALUES ($1, now(), now())
		ON CONFLICT (id) DO UPDATE SET heartbeat = now()`, s.replica)
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case err != nil:
		s.beatFailed = true
	case s.beatFailed || s.connectedSince.IsZero():
		s.beatFailed, s.connectedSince = false, time.Now()
	}
	return err
}

// judging says whether this replica has been connected long enough to take a stale heartbeat for a dead replica.
func (s *Store) judging() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return !s.beatFailed && !s.connectedSince.IsZero() && time.Since(s.connectedSince) >= s.grace()
}

// refreshCounts reads what waits per destination across every replica; a refresh that raced a local change is
// dropped (the next one catches up).
func (s *Store) refreshCounts(ctx context.Context) error {
	s.mu.Lock()
	gen := s.gen
	s.mu.Unlock()
	rows, err := s.pool.Query(ctx, "SELECT destination, count(*) FROM relay_jobs GROUP BY destination")
	if err != nil {
		return err
	}
	counts := map[string]int{}
	for rows.Next() {
		var dest string
		var n int
		if err := rows.Scan(&dest, &n); err != nil {
			return err
		}
		counts[dest] = n
	}
	if err := rows.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	if s.gen == gen {
		s.counts = counts
	}
	s.mu.Unlock()
	return nil
}

func (s *Store) count(delta map[string]int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.gen++
	for dest, n := range delta {
		if s.counts[dest] += n; s.counts[dest] <= 0 {
			delete(s.counts, dest)
		}
	}
}

// grace is how long a replica's heartbeat may be late before it is taken for dead and its uploads in doubt: three
// leases, so that a database outage (no replica can renew) does not make every replica dead at once.
func (s *Store) grace() time.Duration { return 3 * s.lease }

// Shared says jobs reach delivery only through Next.
func (s *Store) Shared() bool { return true }

// Where names the database, without credentials.
func (s *Store) Where() string { return s.where }

// Replica is this relay's name among the replicas.
func (s *Store) Replica() string { return s.replica }

// Close stops the heartbeat, gives up this replica's leases and heartbeat (others take over at once), and closes
// the pool. Marks of uploads still in flight stay: another replica will find them in doubt.
func (s *Store) Close() error {
	s.stopAccepting()
	close(s.stop)
	<-s.done
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := s.pool.Exec(ctx, "DELETE FROM relay_leases WHERE holder = $1", s.replica)
	if err == nil {
		_, err = s.pool.Exec(ctx, "DELETE FROM relay_replicas WHERE id = $1", s.replica)
	}
	s.pool.Close()
	return err
}

func (s *Store) ctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), 30*time.Second)
}

// Next takes (or renews) this replica's lease on the destination and reads its oldest jobs past those held. A
// destination another live replica holds gives ErrLeased; one with jobs a dead replica had in flight, ErrInDoubt.
func (s *Store) Next(destination string, held func(id uint64) bool, limit int) ([]outbox.Job, bool, error) {
	ctx, cancel := s.ctx()
	defer cancel()
	var holder string
	err := s.pool.QueryRow(ctx, `INSERT INTO relay_leases (destination, holder, expires)
		VALUES ($1, $2, now() + $3::interval)
		ON CONFLICT (destination) DO UPDATE SET holder = $2, expires = now() + $3::interval
		WHERE relay_leases.holder = $2 OR relay_leases.expires < now()
		RETURNING holder`, destination, s.replica, s.lease.String()).Scan(&holder)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, true, outbox.ErrLeased
	}
	if err != nil {
		return nil, false, err
	}
	var jobs []outbox.Job
	after := int64(0)
	for {
		rows, err := s.pool.Query(ctx, `SELECT j.id, j.job, j.sending_by, r.heartbeat > now() - $4::interval
			FROM relay_jobs j LEFT JOIN relay_replicas r ON r.id = j.sending_by
			WHERE j.destination = $1 AND j.id > $2 ORDER BY j.id LIMIT $3`,
			destination, after, limit+1, s.grace().String())
		if err != nil {
			return nil, false, err
		}
		seen := 0
		for rows.Next() {
			var id int64
			var raw []byte
			var by *string
			var live *bool
			if err := rows.Scan(&id, &raw, &by, &live); err != nil {
				rows.Close()
				return nil, false, err
			}
			seen, after = seen+1, id
			switch {
			case held(uint64(id)):
				continue
			case by != nil && *by != s.replica && (live == nil || (!*live && s.judging())):
				rows.Close()
				return jobs, true, outbox.ErrInDoubt
			case by != nil && *by != s.replica:
				rows.Close()
				return jobs, true, outbox.ErrLeased // its last holder still has an upload out
			}
			if len(jobs) == limit {
				rows.Close()
				return jobs, true, nil
			}
			j, err := outbox.OpenJob(uint64(id), raw)
			if err != nil {
				rows.Close()
				if kerr := s.Kill([]outbox.DeadLetter{{Job: outbox.Job{ID: uint64(id), Message: j.Message},
					Reason: outbox.DamagedReason + ": " + err.Error()}}); kerr != nil {
					return nil, false, kerr
				}
				continue
			}
			jobs = append(jobs, j)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, false, err
		}
		if seen <= limit {
			return jobs, false, nil
		}
	}
}

func ids(jobs []outbox.Job) []int64 {
	out := make([]int64, len(jobs))
	for i, j := range jobs {
		out[i] = int64(j.ID)
	}
	return out
}

func uids(in []uint64) []int64 {
	out := make([]int64, len(in))
	for i, id := range in {
		out[i] = int64(id)
	}
	return out
}

// deleteJobs removes jobs and counts those that were there.
func (s *Store) deleteJobs(ctx context.Context, tx pgx.Tx, jobs []outbox.Job) (map[string]int, error) {
	rows, err := tx.Query(ctx, "DELETE FROM relay_jobs WHERE id = ANY($1) RETURNING destination", ids(jobs))
	if err != nil {
		return nil, err
	}
	dests, err := pgx.CollectRows(rows, pgx.RowTo[string])
	delta := map[string]int{}
	for _, d := range dests {
		delta[d]--
	}
	return delta, err
}

// Done removes delivered jobs (and their marks).
func (s *Store) Done(jobs []outbox.Job) error {
	if len(jobs) == 0 {
		return nil
	}
	ctx, cancel := s.ctx()
	defer cancel()
	var delta map[string]int
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) (err error) {
		delta, err = s.deleteJobs(ctx, tx, jobs)
		return err
	})
	if err == nil {
		s.count(delta)
	}
	return err
}

// Update rewrites jobs after a failed try and clears their marks (this replica's, or a gone one's: after_crash
// retries). A job a live replica has marked since (it took the destination over while this one was cut off) is
// its now: neither its mark nor its attempts change.
func (s *Store) Update(jobs []outbox.Job) error {
	if len(jobs) == 0 {
		return nil
	}
	ctx, cancel := s.ctx()
	defer cancel()
	batch := &pgx.Batch{}
	for i := range jobs {
		batch.Queue(`UPDATE relay_jobs j SET job = $2, sending_by = NULL WHERE id = $1
			AND (sending_by IS NULL OR sending_by = $3 OR NOT EXISTS (SELECT 1 FROM relay_replicas r
			  WHERE r.id = j.sending_by AND r.heartbeat > now() - $4::interval))`,
			int64(jobs[i].ID), outbox.SealedJob(&jobs[i]), s.replica, s.grace().String())
	}
	return s.pool.SendBatch(ctx, batch).Close()
}

// Kill moves jobs to the dead letters.
func (s *Store) Kill(dead []outbox.DeadLetter) error {
	if len(dead) == 0 {
		return nil
	}
	ctx, cancel := s.ctx()
	defer cancel()
	now := time.Now().UTC()
	var delta map[string]int
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) (err error) {
		jobs := make([]outbox.Job, len(dead))
		for i := range dead {
			jobs[i] = dead[i].Job
		}
		if delta, err = s.deleteJobs(ctx, tx, jobs); err != nil {
			return err
		}
		batch := &pgx.Batch{}
		for _, d := range dead {
			if d.DeadAt.IsZero() {
				d.DeadAt = now
			}
			letter, err := json.Marshal(d)
			if err != nil {
				return err
			}
			batch.Queue(`INSERT INTO relay_dead (id, destination, letter, dead_at) VALUES ($1, $2, $3, $4)
				ON CONFLICT (id) DO UPDATE SET letter = $3, dead_at = $4`, int64(d.ID), d.Destination, letter, d.DeadAt)
		}
		return tx.SendBatch(ctx, batch).Close()
	})
	if err == nil {
		s.count(delta)
	}
	return err
}

// MarkSending records, committed, that these jobs are about to be sent by this replica, renewing its lease on
// their destination. A replica that lost the lease (another took the destination over, say after a pause longer
// than the lease) marks nothing and gets ErrLeased: it must not send what the holder will.
func (s *Store) MarkSending(ids []uint64) error {
	if len(ids) == 0 {
		return nil
	}
	ctx, cancel := s.ctx()
	defer cancel()
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE relay_leases SET expires = now() + $3::interval
			WHERE holder = $2 AND expires > now()
			  AND destination IN (SELECT destination FROM relay_jobs WHERE id = ANY($1))`,
			uids(ids), s.replica, s.lease.String())
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return outbox.ErrLeased
		}
		tag, err = tx.Exec(ctx, `UPDATE relay_jobs SET sending_by = $2 WHERE id = ANY($1)
			AND (sending_by IS NULL OR sending_by = $2)
			AND destination IN (SELECT destination FROM relay_leases WHERE holder = $2)`, uids(ids), s.replica)
		if err != nil {
			return err
		}
		if int(tag.RowsAffected()) != len(ids) {
			return outbox.ErrLeased // rolled back: none marked
		}
		return nil
	})
}

// InDoubt lists the jobs marked as sending by replicas that are gone (no heartbeat within the lease): their
// uploads may or may not have reached CleverTap.
func (s *Store) InDoubt() ([]outbox.Job, error) {
	ctx, cancel := s.ctx()
	defer cancel()
	// a replica that left (no row) is gone for sure; one whose heartbeat is stale only once this one has been
	// connected long enough to tell it from one that has not reached the database yet
	rows, err := s.pool.Query(ctx, `SELECT j.id, j.job FROM relay_jobs j
		LEFT JOIN relay_replicas r ON r.id = j.sending_by
		WHERE j.sending_by IS NOT NULL AND j.sending_by <> $1
		  AND (r.id IS NULL OR ($3 AND r.heartbeat <= now() - $2::interval))
		ORDER BY j.id`, s.replica, s.grace().String(), s.judging())
	if err != nil {
		return nil, err
	}
	return s.collect(rows)
}

func (s *Store) collect(rows pgx.Rows) ([]outbox.Job, error) {
	defer rows.Close()
	var out []outbox.Job
	for rows.Next() {
		var id int64
		var raw []byte
		if err := rows.Scan(&id, &raw); err != nil {
			return nil, err
		}
		j, err := outbox.OpenJob(uint64(id), raw)
		if err != nil {
			return nil, err
		}
		out = append(out, j)
	}
	return out, rows.Err()
}

// ClearSending forgets the marks of jobs that will be sent again.
func (s *Store) ClearSending(ids []uint64) error {
	ctx, cancel := s.ctx()
	defer cancel()
	_, err := s.pool.Exec(ctx, "UPDATE relay_jobs SET sending_by = NULL WHERE id = ANY($1)", uids(ids))
	return err
}

// DeadLetters lists the dead letters, oldest first.
func (s *Store) DeadLetters() ([]outbox.DeadLetter, error) {
	ctx, cancel := s.ctx()
	defer cancel()
	rows, err := s.pool.Query(ctx, "SELECT letter FROM relay_dead ORDER BY id")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []outbox.DeadLetter{}
	for rows.Next() {
		var raw []byte
		if err := rows.Scan(&raw); err != nil {
			return nil, err
		}
		var d outbox.DeadLetter
		if err := json.Unmarshal(raw, &d); err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// Revive moves a dead letter back to the jobs with its attempts reset.
func (s *Store) Revive(id uint64) (outbox.Job, error) {
	ctx, cancel := s.ctx()
	defer cancel()
	var job outbox.Job
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var raw []byte
		err := tx.QueryRow(ctx, "DELETE FROM relay_dead WHERE id = $1 RETURNING letter", int64(id)).Scan(&raw)
		if errors.Is(err, pgx.ErrNoRows) {
			return outbox.ErrNotFound
		}
		if err != nil {
			return err
		}
		var d outbox.DeadLetter
		if err := json.Unmarshal(raw, &d); err != nil {
			return err
		}
		if strings.HasPrefix(d.Reason, outbox.DamagedReason) {
			return fmt.Errorf("dead letter %d: %s; it holds nothing to send again", id, d.Reason)
		}
		job = d.Job
		job.ID, job.Attempts, job.LastError = id, 0, ""
		_, err = tx.Exec(ctx, `INSERT INTO relay_jobs (id, destination, source, event_id, job) VALUES ($1, $2, $3,
			$4, $5)`, int64(id), job.Destination, job.Source, job.EventID, outbox.SealedJob(&job))
		return err
	})
	if err == nil {
		s.count(map[string]int{job.Destination: 1})
	}
	return job, err
}

// Prune forgets event ids seen before the cutoff.
func (s *Store) Prune(before time.Time) (int, error) {
	ctx, cancel := s.ctx()
	defer cancel()
	tag, err := s.pool.Exec(ctx, "DELETE FROM relay_seen WHERE seen_at < $1", before)
	return int(tag.RowsAffected()), err
}

// Counts reads the table sizes.
func (s *Store) Counts() (outbox.Counts, error) {
	ctx, cancel := s.ctx()
	defer cancel()
	var c outbox.Counts
	err := s.pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM relay_jobs), (SELECT count(*) FROM relay_dead),
		(SELECT count(*) FROM relay_seen)`).Scan(&c.Pending, &c.Dead, &c.Seen)
	return c, err
}

// Pending lists every job, oldest first (a tool for tests).
func (s *Store) Pending() ([]outbox.Job, error) {
	ctx, cancel := s.ctx()
	defer cancel()
	rows, err := s.pool.Query(ctx, "SELECT id, job FROM relay_jobs ORDER BY id")
	if err != nil {
		return nil, err
	}
	return s.collect(rows)
}

// PendingFor counts the jobs of some webhooks still to deliver.
func (s *Store) PendingFor(source string, eventIDs []string) (int, error) {
	ctx, cancel := s.ctx()
	defer cancel()
	var n int
	err := s.pool.QueryRow(ctx, "SELECT count(*) FROM relay_jobs WHERE source = $1 AND event_id = ANY($2)", source,
		eventIDs).Scan(&n)
	return n, err
}

// PendingCount is what waits in the shared queue, as of the last refresh and this replica's own changes since.
func (s *Store) PendingCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, c := range s.counts {
		n += c
	}
	return n
}

// PendingByDestination is PendingCount per destination.
func (s *Store) PendingByDestination() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]int, len(s.counts))
	for k, v := range s.counts {
		out[k] = v
	}
	return out
}

// SetBackoff holds every replica's uploads to an account until a time (the later of the one set and this).
func (s *Store) SetBackoff(account string, until time.Time) error {
	ctx, cancel := s.ctx()
	defer cancel()
	_, err := s.pool.Exec(ctx, `INSERT INTO relay_backoff (account, until) VALUES ($1, $2)
		ON CONFLICT (account) DO UPDATE SET until = greatest(relay_backoff.until, $2)`, account, until)
	return err
}

// Backoff is until when an account's uploads wait (zero when they need not).
func (s *Store) Backoff(account string) (time.Time, error) {
	ctx, cancel := s.ctx()
	defer cancel()
	var until time.Time
	err := s.pool.QueryRow(ctx, "SELECT until FROM relay_backoff WHERE account = $1 AND until > now()",
		account).Scan(&until)
	if errors.Is(err, pgx.ErrNoRows) {
		return time.Time{}, nil
	}
	return until, err
}

// Ping says whether the database answers (the relay's /readyz asks).
func (s *Store) Ping(ctx context.Context) error { return s.pool.Ping(ctx) }

// Leases lists the destinations' live leases: which replica delivers what now.
func (s *Store) Leases() (map[string]outbox.Lease, error) {
	ctx, cancel := s.ctx()
	defer cancel()
	rows, err := s.pool.Query(ctx, "SELECT destination, holder, expires FROM relay_leases WHERE expires > now()")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]outbox.Lease{}
	for rows.Next() {
		var dest string
		var l outbox.Lease
		if err := rows.Scan(&dest, &l.Holder, &l.Expires); err != nil {
			return nil, err
		}
		out[dest] = l
	}
	return out, rows.Err()
}

// Check reads every job of a Postgres outbox and says what it holds (pending, dead letters, event ids, uploads
// in doubt: marked by a replica without a heartbeat for 30 s) and what is damaged: jobs that do not decode or
// whose seal does not hold. It changes nothing (no migration, no heartbeat of its own).
func Check(ctx context.Context, dsn string) (outbox.Report, error) {
	rep := outbox.Report{}
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return rep, fmt.Errorf("outbox: %s", redactErr(err, dsn))
	}
	defer conn.Close(ctx)
	cfg := conn.Config()
	rep.Path = fmt.Sprintf("postgres %s:%d/%s", cfg.Host, cfg.Port, cfg.Database)
	if _, err := schemaVersion(ctx, conn); err != nil {
		return rep, fmt.Errorf("%s: no outbox schema (%v): run relay migrate", rep.Path, err)
	}
	rows, err := conn.Query(ctx, `SELECT j.id, j.job, j.sending_by IS NOT NULL AND
		(r.id IS NULL OR r.heartbeat <= now() - interval '30 seconds')
		FROM relay_jobs j LEFT JOIN relay_replicas r ON r.id = j.sending_by ORDER BY j.id`)
	if err != nil {
		return rep, err
	}
	for rows.Next() {
		var id int64
		var raw []byte
		var inDoubt bool
		if err := rows.Scan(&id, &raw, &inDoubt); err != nil {
			rows.Close()
			return rep, err
		}
		if _, err := outbox.OpenJob(uint64(id), raw); err != nil {
			rep.Damage = append(rep.Damage, err.Error())
			continue
		}
		rep.Pending++
		if inDoubt {
			rep.InDoubt++
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return rep, err
	}
	err = conn.QueryRow(ctx, "SELECT (SELECT count(*) FROM relay_dead), (SELECT count(*) FROM relay_seen)").
		Scan(&rep.Dead, &rep.Seen)
	return rep, err
}

// Unmark clears this replica's own marks on jobs it is not sending after all (it lost the destination's lease
// before, or a mark's commit was in doubt): left, another replica would wait on them for as long as this one
// lives.
func (s *Store) Unmark(ids []uint64) error {
	ctx, cancel := s.ctx()
	defer cancel()
	_, err := s.pool.Exec(ctx, "UPDATE relay_jobs SET sending_by = NULL WHERE id = ANY($1) AND sending_by = $2",
		uids(ids), s.replica)
	return err
}
