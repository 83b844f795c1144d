package postgres

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/ctharness/ctharness/relay/outbox"
)

// Concurrent webhooks are stored together: up to acceptWriters statements run at once, and a webhook that
// arrives while they all run waits for the next free one, which takes every webhook waiting and stores them in
// one statement, one commit. Under load one commit then carries many webhooks, as bbolt's batch does for the
// embedded outbox; under a light load each webhook has its own statement at once, as before. Each webhook is
// answered only after the commit that holds it.
const (
	acceptWriters  = 8
	acceptBatchMax = 128
)

// acceptReq is one webhook waiting to be stored.
type acceptReq struct {
	source, eventID string
	jobs            []outbox.Job // encoded in bodies; given their ids once stored
	bodies          [][]byte
	duplicate       bool
	err             error
	done            chan struct{}
}

// accepting is the webhooks waiting and the writers storing them.
type accepting struct {
	mu      sync.Mutex
	pending []*acceptReq
	writers int
	closed  bool
	wg      sync.WaitGroup
}

// stopAccepting refuses later webhooks and waits until those accepted before are stored.
func (s *Store) stopAccepting() {
	a := &s.accepting
	a.mu.Lock()
	a.closed = true
	a.mu.Unlock()
	a.wg.Wait()
}

var errClosed = fmt.Errorf("the outbox is closed")

// Accept stores a webhook's jobs and its event id, committed before it returns; an event id already seen (by
// any replica) stores nothing. The jobs get their ids from the shared sequence in the statement, so a job's bytes
// are stored unsealed until its first update (the seal covers the id, unknown before): PostgreSQL's own page
// checksums (initdb --data-checksums) guard them meanwhile.
func (s *Store) Accept(source, eventID string, jobs []outbox.Job) (bool, error) {
	now := time.Now().UTC()
	r := &acceptReq{source: source, eventID: eventID, jobs: jobs, bodies: make([][]byte, len(jobs)),
		done: make(chan struct{})}
	for i := range jobs {
		jobs[i].ID, jobs[i].CreatedAt = 0, now
		r.bodies[i] = outbox.EncodeJob(&jobs[i])
	}
	a := &s.accepting
	a.mu.Lock()
	if a.closed {
		a.mu.Unlock()
		return false, errClosed
	}
	a.pending = append(a.pending, r)
	if a.writers < acceptWriters {
		a.writers++
		a.wg.Add(1)
		go s.write()
	}
	a.mu.Unlock()
	<-r.done
	return r.duplicate, r.err
}

// write stores what is waiting, a statement at a time, until nothing is.
func (s *Store) write() {
	a := &s.accepting
	defer a.wg.Done()
	for {
		a.mu.Lock()
		if len(a.pending) == 0 {
			a.writers--
			a.mu.Unlock()
			return
		}
		// the same event id twice in one statement would store both: a second one waits for the next statement
		batch, left := make([]*acceptReq, 0, min(len(a.pending), acceptBatchMax)), a.pending[:0]
		keys := map[[2]string]bool{}
		for _, r := range a.pending {
			k := [2]string{r.source, r.eventID}
			if len(batch) == acceptBatchMax || keys[k] {
				left = append(left, r)
				continue
			}
			keys[k], batch = true, append(batch, r)
		}
		clear(a.pending[len(left):])
		a.pending = left
		a.mu.Unlock()
		s.storeBatch(batch)
	}
}

// storeBatch stores the webhooks in one statement and answers each. When the database refuses the statement
// for what it holds (a value it cannot store), each webhook is tried alone, so that one such webhook does not fail
// the others; any other failure (the database unreachable, a timeout) fails them all at once, so that none waits
// for the others' timeouts.
func (s *Store) storeBatch(batch []*acceptReq) {
	err := s.store(batch)
	if len(batch) > 1 && refusedForItsData(err) {
		for _, r := range batch {
			if err == nil || refusedForItsData(err) {
				err = s.store([]*acceptReq{r})
			}
			r.err = err
			close(r.done)
		}
		return
	}
	for _, r := range batch {
		r.err = err
		close(r.done)
	}
}

// refusedForItsData: PostgreSQL refused the statement for a value in it (SQLSTATE classes 22, data exception; 23,
// integrity constraint; 54, program limit, such as a value too large), not for the connection or the server's
// state.
func refusedForItsData(err error) bool {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || len(pgErr.Code) < 2 {
		return false
	}
	switch pgErr.Code[:2] {
	case "22", "23", "54":
		return true
	}
	return false
}

// store runs the statement: the event ids new to the database are inserted, and the jobs of those webhooks, in
// the order of the batch and of each webhook's jobs (ordered before the sequence numbers them, so that a user's
// jobs keep their order).
func (s *Store) store(batch []*acceptReq) error {
	ctx, cancel := s.ctx()
	defer cancel()
	if len(batch) == 1 {
		return s.storeOne(ctx, batch[0])
	}
	sources, events := make([]string, len(batch)), make([]string, len(batch))
	var webhook []int32
	var dests []string
	var bodies [][]byte
	for i, r := range batch {
		sources[i], events[i] = r.source, r.eventID
		for j := range r.jobs {
			webhook, dests, bodies = append(webhook, int32(i)+1), append(dests, r.jobs[j].Destination),
				append(bodies, r.bodies[j])
		}
	}
	var stored []int32
	var ids []int64
	err := s.pool.QueryRow(ctx, `WITH w AS (
			SELECT * FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS w(source, event_id, n)),
		seen AS (
			INSERT INTO relay_seen (source, event_id, seen_at) SELECT source, event_id, now() FROM w
			ON CONFLICT DO NOTHING RETURNING source, event_id),
		new AS (
			SELECT w.n FROM w JOIN seen USING (source, event_id)),
		ins AS (
			INSERT INTO relay_jobs (id, destination, source, event_id, job)
			SELECT nextval('relay_job_ids'), o.d, o.source, o.event_id, o.j FROM (
				SELECT t.d, w.source, w.event_id, t.j
				FROM unnest($3::int[], $4::text[], $5::bytea[]) WITH ORDINALITY AS t(n, d, j, ord)
				JOIN w ON w.n = t.n
				WHERE t.n IN (SELECT n FROM new)
				ORDER BY t.ord) o
			RETURNING id)
		SELECT coalesce((SELECT array_agg(n::int ORDER BY n) FROM new), '{}'),
			coalesce((SELECT array_agg(id ORDER BY id) FROM ins), '{}')`,
		sources, events, webhook, dests, bodies).Scan(&stored, &ids)
	if err != nil {
		return err
	}
	isNew := make(map[int32]bool, len(stored))
	for _, n := range stored {
		isNew[n] = true
	}
	delta, next := map[string]int{}, 0
	for i, r := range batch {
		if r.duplicate = !isNew[int32(i)+1]; r.duplicate {
			continue
		}
		for j := range r.jobs {
			if next == len(ids) {
				return fmt.Errorf("stored %d jobs, fewer than the webhooks held", len(ids))
			}
			r.jobs[j].ID, next = uint64(ids[next]), next+1 // ids ascend in the order the jobs were given
			delta[r.jobs[j].Destination]++
		}
	}
	if next != len(ids) {
		return fmt.Errorf("stored %d jobs, more than the webhooks held (%d)", len(ids), next)
	}
	s.count(delta)
	return nil
}

// storeOne is store for a webhook alone, in a lighter statement: most webhooks under a light load.
func (s *Store) storeOne(ctx context.Context, r *acceptReq) error {
	dests := make([]string, len(r.jobs))
	for i := range r.jobs {
		dests[i] = r.jobs[i].Destination
	}
	var stored int
	var ids []int64
	err := s.pool.QueryRow(ctx, `WITH seen AS (
			INSERT INTO relay_seen (source, event_id, seen_at) VALUES ($1, $2, now())
			ON CONFLICT DO NOTHING RETURNING 1),
		ins AS (
			INSERT INTO relay_jobs (id, destination, source, event_id, job)
			SELECT nextval('relay_job_ids'), t.d, $1, $2, t.j
			FROM unnest($3::text[], $4::bytea[]) WITH ORDINALITY AS t(d, j, ord)
			WHERE EXISTS (SELECT 1 FROM seen)
			RETURNING id)
		SELECT (SELECT count(*) FROM seen), coalesce((SELECT array_agg(id ORDER BY id) FROM ins), '{}')`,
		r.source, r.eventID, dests, r.bodies).Scan(&stored, &ids)
	if err != nil {
		return err
	}
	if r.duplicate = stored == 0; r.duplicate {
		return nil
	}
	if len(ids) != len(r.jobs) {
		return fmt.Errorf("stored %d jobs of %d", len(ids), len(r.jobs))
	}
	delta := map[string]int{}
	for i := range r.jobs {
		r.jobs[i].ID = uint64(ids[i]) // the sequence numbered the rows in the order unnest gave them
		delta[r.jobs[i].Destination]++
	}
	s.count(delta)
	return nil
}
