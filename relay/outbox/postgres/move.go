package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ctharness/ctharness/relay/outbox"
)

// moveChunk bounds the rows of one statement of a move: a large backlog goes in many statements, each well within
// the statement timeout, all in one transaction.
const moveChunk = 1000

// Moved is what Move put into the outbox.
type Moved struct {
	Jobs    int `json:"jobs"`
	InDoubt int `json:"in_doubt"`
	Dead    int `json:"dead"`
	Seen    int `json:"seen"`
	// Waiting is how many jobs the outbox already held: the moved ones are queued after them.
	Waiting int `json:"waiting"`
	// Duplicates are jobs of webhooks this outbox had accepted too (a vendor's redelivery reached it first, or a
	// copy of the same outbox was moved before): they are delivered from here already, so they are not moved, nor
	// are such webhooks' dead letters.
	Duplicates int `json:"duplicates"`
}

// Move puts what a bbolt outbox held (outbox.ReadToMove) into this shared outbox, in one transaction: its jobs,
// oldest first, after those already queued, with new ids; its uploads in doubt marked as sent by a replica that is
// gone, so that the relay delivering their destination settles them by after_crash before any job after them; its
// dead letters; its event ids, so that a vendor's redelivery of a webhook it accepted stays a duplicate. The same
// outbox is moved once: a second time is refused, naming when the first was.
func (s *Store) Move(ctx context.Context, from *outbox.Moving) (Moved, error) {
	var moved Moved
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var at time.Time
		err := tx.QueryRow(ctx, `INSERT INTO relay_moves (outbox, moved_at, jobs, dead, seen)
			VALUES ($1, now(), 0, 0, 0) ON CONFLICT DO NOTHING RETURNING moved_at`, from.Outbox).Scan(&at)
		if errors.Is(err, pgx.ErrNoRows) {
			if err := tx.QueryRow(ctx, "SELECT moved_at FROM relay_moves WHERE outbox = $1", from.Outbox).
				Scan(&at); err != nil {
				return err
			}
			return fmt.Errorf("outbox %s was already moved into %s at %s: moving it again would queue its jobs "+
				"twice", from.Outbox, s.where, at.UTC().Format(time.RFC3339))
		}
		if err != nil {
			return err
		}
		if err := tx.QueryRow(ctx, "SELECT count(*) FROM relay_jobs").Scan(&moved.Waiting); err != nil {
			return err
		}
		// what belongs to a webhook this outbox already knows (a vendor's redelivery reached it first, or a copy
		// of this outbox was moved here before) is delivered or held here already; the event ids are moved last,
		// so that each chunk is judged by what the outbox knew before the move
		gone := "moved from " + from.Outbox // a replica no relay is: its marks are in doubt at once
		err = from.Jobs(moveChunk, func(chunk []outbox.Job) error {
			jobs, err := unknown(ctx, tx, chunk, func(j outbox.Job) [2]string { return [2]string{j.Source, j.EventID} })
			if err != nil {
				return err
			}
			moved.Duplicates += len(chunk) - len(jobs)
			for _, j := range jobs {
				if from.InDoubt[j.ID] {
					moved.InDoubt++
				}
			}
			moved.Jobs += len(jobs)
			return moveJobs(ctx, tx, jobs, from.InDoubt, gone)
		})
		if err != nil {
			return err
		}
		err = from.Dead(moveChunk, func(chunk []outbox.DeadLetter) error {
			dead, err := unknown(ctx, tx, chunk, func(d outbox.DeadLetter) [2]string {
				return [2]string{d.Source, d.EventID}
			})
			if err != nil {
				return err
			}
			moved.Dead += len(dead)
			return moveDead(ctx, tx, dead)
		})
		if err != nil {
			return err
		}
		err = from.Seen(moveChunk, func(chunk []outbox.SeenEvent) error {
			moved.Seen += len(chunk)
			return moveSeen(ctx, tx, chunk)
		})
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, "UPDATE relay_moves SET jobs = $2, dead = $3, seen = $4 WHERE outbox = $1",
			from.Outbox, moved.Jobs, moved.Dead, moved.Seen)
		return err
	})
	return moved, err
}

// unknown leaves out what belongs to webhooks (source and event id) this outbox remembers.
func unknown[T any](ctx context.Context, tx pgx.Tx, chunk []T, webhook func(T) [2]string) ([]T, error) {
	sources, events := make([]string, len(chunk)), make([]string, len(chunk))
	for i, t := range chunk {
		w := webhook(t)
		sources[i], events[i] = w[0], w[1]
	}
	rows, err := tx.Query(ctx, `SELECT s.source, s.event_id FROM relay_seen s
		JOIN unnest($1::text[], $2::text[]) AS m(source, event_id) USING (source, event_id)`, sources, events)
	if err != nil {
		return nil, err
	}
	known := map[[2]string]bool{}
	var w [2]string
	if _, err := pgx.ForEachRow(rows, []any{&w[0], &w[1]}, func() error { known[w] = true; return nil }); err != nil {
		return nil, err
	}
	return slices.DeleteFunc(slices.Clone(chunk), func(t T) bool { return known[webhook(t)] }), nil
}

// newIDs takes n job ids from the shared sequence, in ascending order.
func newIDs(ctx context.Context, tx pgx.Tx, n int) ([]int64, error) {
	rows, err := tx.Query(ctx, "SELECT nextval('relay_job_ids') FROM generate_series(1, $1)", n)
	if err != nil {
		return nil, err
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	slices.Sort(ids)
	return ids, err
}

func moveJobs(ctx context.Context, tx pgx.Tx, jobs []outbox.Job, inDoubt map[uint64]bool, gone string) error {
	if len(jobs) == 0 {
		return nil
	}
	ids, err := newIDs(ctx, tx, len(jobs))
	if err != nil {
		return err
	}
	dests, sources, events := make([]string, len(jobs)), make([]string, len(jobs)), make([]string, len(jobs))
	bodies, sending := make([][]byte, len(jobs)), make([]*string, len(jobs))
	for i, j := range jobs {
		if inDoubt[j.ID] {
			sending[i] = &gone
		}
		j.ID = 0 // stored unsealed, as Accept stores a job: the seal comes with its first update
		dests[i], sources[i], events[i], bodies[i] = j.Destination, j.Source, j.EventID, outbox.EncodeJob(&j)
	}
	_, err = tx.Exec(ctx, `INSERT INTO relay_jobs (id, destination, source, event_id, job, sending_by)
		SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::bytea[], $6::text[])`,
		ids, dests, sources, events, bodies, sending)
	return err
}

func moveDead(ctx context.Context, tx pgx.Tx, dead []outbox.DeadLetter) error {
	if len(dead) == 0 {
		return nil
	}
	ids, err := newIDs(ctx, tx, len(dead))
	if err != nil {
		return err
	}
	dests, letters, at := make([]string, len(dead)), make([][]byte, len(dead)), make([]time.Time, len(dead))
	for i, d := range dead {
		d.ID = uint64(ids[i])
		if letters[i], err = json.Marshal(d); err != nil {
			return err
		}
		dests[i], at[i] = d.Destination, d.DeadAt
	}
	_, err = tx.Exec(ctx, `INSERT INTO relay_dead (id, destination, letter, dead_at)
		SELECT * FROM unnest($1::bigint[], $2::text[], $3::bytea[], $4::timestamptz[])`, ids, dests, letters, at)
	return err
}

// moveSeen keeps the earlier sighting of an event id both outboxes remember.
func moveSeen(ctx context.Context, tx pgx.Tx, seen []outbox.SeenEvent) error {
	sources, events, at := make([]string, len(seen)), make([]string, len(seen)), make([]time.Time, len(seen))
	for i, e := range seen {
		sources[i], events[i], at[i] = e.Source, e.EventID, e.At
	}
	_, err := tx.Exec(ctx, `INSERT INTO relay_seen (source, event_id, seen_at)
		SELECT * FROM unnest($1::text[], $2::text[], $3::timestamptz[])
		ON CONFLICT (source, event_id) DO UPDATE SET seen_at = least(relay_seen.seen_at, excluded.seen_at)`,
		sources, events, at)
	return err
}
