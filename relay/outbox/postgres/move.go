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
func (s *Store) Move(ctx context.Context, from outbox.Moving) (Moved, error) {
	moved := Moved{Seen: len(from.Seen)}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, "SELECT count(*) FROM relay_jobs").Scan(&moved.Waiting); err != nil {
			return err
		}
		// what belongs to a webhook this outbox already knows (a vendor's redelivery reached it first, or this
		// outbox was moved here from a copy before) is delivered or held here already
		var webhooks [][2]string
		for _, j := range from.Jobs {
			webhooks = append(webhooks, [2]string{j.Source, j.EventID})
		}
		for _, d := range from.Dead {
			webhooks = append(webhooks, [2]string{d.Source, d.EventID})
		}
		seen, err := known(ctx, tx, webhooks)
		if err != nil {
			return err
		}
		jobs := slices.DeleteFunc(slices.Clone(from.Jobs), func(j outbox.Job) bool {
			return seen[[2]string{j.Source, j.EventID}]
		})
		dead := slices.DeleteFunc(slices.Clone(from.Dead), func(d outbox.DeadLetter) bool {
			return seen[[2]string{d.Source, d.EventID}]
		})
		moved.Duplicates, moved.Dead = len(from.Jobs)-len(jobs), len(dead)
		for _, j := range jobs {
			moved.Jobs++
			if from.InDoubt[j.ID] {
				moved.InDoubt++
			}
		}
		var at time.Time
		err = tx.QueryRow(ctx, `INSERT INTO relay_moves (outbox, moved_at, jobs, dead, seen)
			VALUES ($1, now(), $2, $3, $4) ON CONFLICT DO NOTHING RETURNING moved_at`,
			from.Outbox, moved.Jobs, moved.Dead, moved.Seen).Scan(&at)
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
		if err := moveJobs(ctx, tx, jobs, from); err != nil {
			return err
		}
		if err := moveDead(ctx, tx, dead); err != nil {
			return err
		}
		return moveSeen(ctx, tx, from.Seen)
	})
	return moved, err
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

// known is which of these webhooks (source and event id) this outbox remembers.
func known(ctx context.Context, tx pgx.Tx, webhooks [][2]string) (map[[2]string]bool, error) {
	seen := map[[2]string]bool{}
	for chunk := range slices.Chunk(webhooks, moveChunk) {
		sources, events := make([]string, len(chunk)), make([]string, len(chunk))
		for i, w := range chunk {
			sources[i], events[i] = w[0], w[1]
		}
		rows, err := tx.Query(ctx, `SELECT s.source, s.event_id FROM relay_seen s
			JOIN unnest($1::text[], $2::text[]) AS m(source, event_id) USING (source, event_id)`, sources, events)
		if err != nil {
			return nil, err
		}
		pairs, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (p [2]string, err error) {
			return p, row.Scan(&p[0], &p[1])
		})
		if err != nil {
			return nil, err
		}
		for _, p := range pairs {
			seen[p] = true
		}
	}
	return seen, nil
}

func moveJobs(ctx context.Context, tx pgx.Tx, jobs []outbox.Job, from outbox.Moving) error {
	// a replica name no relay has: its marks are a gone replica's, in doubt at once
	gone := "moved from " + from.Outbox
	for chunk := range slices.Chunk(jobs, moveChunk) {
		ids, err := newIDs(ctx, tx, len(chunk))
		if err != nil {
			return err
		}
		dests, sources, events := make([]string, len(chunk)), make([]string, len(chunk)), make([]string, len(chunk))
		bodies, sending := make([][]byte, len(chunk)), make([]*string, len(chunk))
		for i, j := range chunk {
			if from.InDoubt[j.ID] {
				sending[i] = &gone
			}
			j.ID = 0 // stored unsealed, as Accept stores a job: the seal comes with its first update
			dests[i], sources[i], events[i], bodies[i] = j.Destination, j.Source, j.EventID, outbox.EncodeJob(&j)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO relay_jobs (id, destination, source, event_id, job, sending_by)
			SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::bytea[], $6::text[])`,
			ids, dests, sources, events, bodies, sending); err != nil {
			return err
		}
	}
	return nil
}

func moveDead(ctx context.Context, tx pgx.Tx, dead []outbox.DeadLetter) error {
	for chunk := range slices.Chunk(dead, moveChunk) {
		ids, err := newIDs(ctx, tx, len(chunk))
		if err != nil {
			return err
		}
		dests, letters, at := make([]string, len(chunk)), make([][]byte, len(chunk)), make([]time.Time, len(chunk))
		for i, d := range chunk {
			d.ID = uint64(ids[i])
			if letters[i], err = json.Marshal(d); err != nil {
				return err
			}
			dests[i], at[i] = d.Destination, d.DeadAt
		}
		if _, err := tx.Exec(ctx, `INSERT INTO relay_dead (id, destination, letter, dead_at)
			SELECT * FROM unnest($1::bigint[], $2::text[], $3::bytea[], $4::timestamptz[])`,
			ids, dests, letters, at); err != nil {
			return err
		}
	}
	return nil
}

// moveSeen keeps the earlier sighting of an event id both outboxes remember.
func moveSeen(ctx context.Context, tx pgx.Tx, seen []outbox.SeenEvent) error {
	for chunk := range slices.Chunk(seen, moveChunk) {
		sources, events, at := make([]string, len(chunk)), make([]string, len(chunk)), make([]time.Time, len(chunk))
		for i, e := range chunk {
			sources[i], events[i], at[i] = e.Source, e.EventID, e.At
		}
		if _, err := tx.Exec(ctx, `INSERT INTO relay_seen (source, event_id, seen_at)
			SELECT * FROM unnest($1::text[], $2::text[], $3::timestamptz[])
			ON CONFLICT (source, event_id) DO UPDATE SET seen_at = least(relay_seen.seen_at, excluded.seen_at)`,
			sources, events, at); err != nil {
			return err
		}
	}
	return nil
}
