// Package outbox is the relay's durable store, an embedded bbolt file: accepted webhooks as jobs (one per
// message), the event ids seen (dedupe, pruned after a window) and dead letters. Every write is a committed,
// fsync'd bbolt transaction; concurrent writes share one transaction (group commit, see committer), so a webhook
// is acknowledged only once it is on disk, at a throughput far above one fsync per webhook.
package outbox

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/ctharness/ctharness/relay"
)

var (
	jobsBucket       = []byte("jobs")
	seenBucket       = []byte("seen")
	seenByTimeBucket = []byte("seen_by_time")
	deadBucket       = []byte("dead")
	// sendingBucket marks the jobs of uploads in flight: a mark that survives a restart means the relay stopped
	// between sending and hearing back, so CleverTap may or may not have them (see InDoubt).
	sendingBucket = []byte("sending")
	// queueBucket indexes the jobs by destination (destination, 0, id): each destination's queue on disk, read
	// a window at a time, so memory stays bounded whatever the backlog.
	queueBucket = []byte("queue")
	// formatBucket holds sealedFromKey: the first job id stored with a seal (see seal).
	formatBucket  = []byte("format")
	sealedFromKey = []byte("sealed_from")
	buckets       = [][]byte{jobsBucket, seenBucket, seenByTimeBucket, deadBucket, sendingBucket, queueBucket,
		formatBucket}
)

// Job is one message waiting for delivery.
type Job struct {
	// ID is the job's key in the outbox (stored as the key, not in the value).
	ID        uint64 `json:"id,omitempty"`
	Source    string `json:"source"`
	EventID   string `json:"event_id"`
	EventType string `json:"event_type"`
	relay.Message
	Attempts  int       `json:"attempts"`
	CreatedAt time.Time `json:"created_at"`
	LastError string    `json:"last_error,omitempty"`
}

// DeadLetter is a job delivery gave up on, with why.
type DeadLetter struct {
	Job
	// Status is the HTTP status of the answer (0 when there was none).
	Status int `json:"status,omitempty"`
	// Code is CleverTap's per-record code (e.g. 513), when the record was refused on its own.
	Code   int       `json:"code,omitempty"`
	Reason string    `json:"reason"`
	DeadAt time.Time `json:"dead_at"`
}

// Options tune the store.
type Options struct {
	// StartEmpty sets an emptied or damaged outbox aside (renamed, never deleted) and starts a new one instead of
	// refusing to start; SetAside is told the name it was given.
	StartEmpty bool
	SetAside   func(path, aside, why string)
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Store is the open outbox.
type Store struct {
	db      *bolt.DB
	commits *committer
	now     func() time.Time
	dir     string

	// sealedFrom is the first job id that must carry a seal (older jobs may not).
	sealedFrom uint64

	mu      sync.Mutex
	pending map[string]int // jobs waiting per destination
	total   int
	marker  marker
}

// FileName is the database file inside the data dir.
const FileName = "relay.db"

// Open opens (or creates) the outbox in dir. An outbox the marker beside it says was emptied or removed, or one
// that changed since the relay closed it and does not pass Check, is refused with a *DamagedError (or set aside
// with Options.StartEmpty); bbolt only ever opens a file that was checked or is as the relay left it.
func Open(dir string, opts Options) (*Store, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("data dir %s: %w", dir, err)
	}
	path := filepath.Join(dir, FileName)
	m, known, err := readMarker(dir)
	if err != nil {
		return nil, err
	}
	if err := vet(dir, path, m, known, opts); err != nil {
		return nil, err
	}
	// what the check read of a large backlog is garbage now: give it back before the relay takes traffic
	debug.FreeOSMemory()
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if errors.Is(err, bolt.ErrTimeout) {
		return nil, fmt.Errorf("outbox %s is in use by another relay process (one relay per data dir)", path)
	}
	if err != nil {
		return nil, fmt.Errorf("outbox %s: %w", path, err)
	}
	var sealedFrom uint64
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range buckets {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		if sealedFrom, err = sealsFrom(tx); err != nil {
			return err
		}
		return indexQueues(tx)
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("outbox %s: %w", path, err)
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	s := &Store{db: db, now: now, dir: dir, pending: map[string]int{}, sealedFrom: sealedFrom}
	if err := s.countPending(); err != nil {
		db.Close()
		return nil, fmt.Errorf("outbox %s: %w", path, err)
	}
	if !known || m.CreatedAt.IsZero() {
		m = marker{File: FileName, CreatedAt: now().UTC()}
	}
	m.State, s.marker = stateOpen, m
	if err := writeMarker(dir, m); err != nil {
		db.Close()
		return nil, fmt.Errorf("outbox marker %s: %w", filepath.Join(dir, MarkerName), err)
	}
	s.commits = newCommitter(db)
	return s, nil
}

// Close closes the file and notes in the marker that it was closed cleanly, with its size, time and what it
// holds.
func (s *Store) Close() error {
	s.commits.close()
	if err := s.db.Close(); err != nil {
		return err
	}
	fi, err := os.Stat(filepath.Join(s.dir, FileName))
	if err != nil {
		return err
	}
	m := s.marker
	m.State, m.ClosedAt, m.Size, m.Modified, m.Pending = stateClosed, s.now().UTC(), fi.Size(), fi.ModTime(),
		s.PendingCount()
	return writeMarker(s.dir, m)
}

// Dir is the outbox's directory.
func (s *Store) Dir() string { return s.dir }

// Path is the database file.
func (s *Store) Path() string { return s.db.Path() }

func itob(v uint64) []byte {
	b := make([]byte, 8)
	binary.BigEndian.PutUint64(b, v)
	return b
}

// appendFill is how full the pages of a bucket written in key order are left when they split: bbolt's default,
// half, suits random keys; jobs, queue entries, sending marks and dedupe stamps arrive in order (ids from a
// sequence, times that grow), so half of every page would stay empty and each commit would write twice the pages.
// It stays under 1 so a job rewritten in place (a retry's attempt count) fits without a split.
const appendFill = 0.9

// appending sets b, for this transaction, to split its pages for keys that arrive in order.
func appending(b *bolt.Bucket) *bolt.Bucket {
	b.FillPercent = appendFill
	return b
}

func seenKey(source, eventID string) []byte { return []byte(source + "\x00" + eventID) }

// Accept stores the jobs of one webhook and marks its event id seen, in one durable commit. A webhook whose
// event id was seen stores nothing and reports duplicate. The jobs get their ids.
func (s *Store) Accept(source, eventID string, jobs []Job) (duplicate bool, err error) {
	now := s.now().UTC()
	key := seenKey(source, eventID)
	// encoded before the shared commit, in the webhook's own goroutine: inside the commit it would run serially for
	// every webhook of the batch under the writer lock
	raws := make([][]byte, len(jobs))
	for i := range jobs {
		jobs[i].ID, jobs[i].CreatedAt = 0, now
		raws[i] = encodeJob(&jobs[i])
	}
	err = s.commits.do(func(tx *bolt.Tx) error {
		seen := tx.Bucket(seenBucket)
		if seen.Get(key) != nil {
			duplicate = true
			return nil
		}
		duplicate = false
		jb, queue := appending(tx.Bucket(jobsBucket)), appending(tx.Bucket(queueBucket))
		for i := range jobs {
			id, err := jb.NextSequence()
			if err != nil {
				return err
			}
			jobs[i].ID = id
			if err := jb.Put(itob(id), seal(id, raws[i])); err != nil {
				return err
			}
			if err := queue.Put(queueKey(jobs[i].Destination, id), nil); err != nil {
				return err
			}
		}
		stamp := itob(uint64(now.UnixNano()))
		if err := seen.Put(key, stamp); err != nil {
			return err
		}
		return appending(tx.Bucket(seenByTimeBucket)).Put(append(stamp, key...), nil)
	})
	if err == nil && !duplicate {
		s.countQueued(jobs)
	}
	return duplicate, err
}

// Pending lists every job not yet delivered, oldest first: for tests and tools (delivery reads a window at a time
// with Next).
func (s *Store) Pending() ([]Job, error) {
	var out []Job
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(jobsBucket).ForEach(func(k, v []byte) error {
			j, err := s.decodeJob(binary.BigEndian.Uint64(k), v)
			out = append(out, j)
			return err
		})
	})
	return out, err
}

// PendingFor counts the jobs of some webhooks (a source's event ids) still to deliver: queued or in an upload.
// It reads every pending job: a tool for test runs, not for the delivery path.
func (s *Store) PendingFor(source string, eventIDs []string) (int, error) {
	want := make(map[string]bool, len(eventIDs))
	for _, id := range eventIDs {
		want[id] = true
	}
	n := 0
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(jobsBucket).ForEach(func(k, v []byte) error {
			j, err := s.decodeJob(binary.BigEndian.Uint64(k), v)
			if err == nil && j.Source == source && want[j.EventID] {
				n++
			}
			return err
		})
	})
	return n, err
}

// Done removes delivered jobs.
func (s *Store) Done(jobs []Job) error {
	if len(jobs) == 0 {
		return nil
	}
	var delta map[string]int
	err := s.commits.do(func(tx *bolt.Tx) error {
		delta = map[string]int{} // a shared commit may run the function again
		r := newRemoval(tx, delta)
		for _, j := range jobs {
			if err := r.remove(j); err != nil {
				return err
			}
		}
		return nil
	})
	if err == nil {
		s.count(delta)
	}
	return err
}

// removal deletes jobs with one cursor a bucket for all of them: bbolt's Bucket.Delete makes a cursor and grows its
// search path afresh for every key, three times for every job delivered.
type removal struct {
	queue, jobs, sending *bolt.Cursor
	delta                map[string]int
}

func newRemoval(tx *bolt.Tx, delta map[string]int) *removal {
	return &removal{
		queue:   tx.Bucket(queueBucket).Cursor(),
		jobs:    tx.Bucket(jobsBucket).Cursor(),
		sending: tx.Bucket(sendingBucket).Cursor(),
		delta:   delta,
	}
}

// remove deletes a job, its index entry and its sending mark, and counts it when it was queued (the counts are
// the index's).
func (r *removal) remove(j Job) error {
	if removed, err := deleteKey(r.queue, queueKey(j.Destination, j.ID)); err != nil {
		return err
	} else if removed {
		r.delta[j.Destination]--
	}
	id := itob(j.ID)
	if _, err := deleteKey(r.jobs, id); err != nil {
		return err
	}
	_, err := deleteKey(r.sending, id)
	return err
}

// deleteKey deletes key through c if it is there: one search, where a Get and a Delete would search twice.
func deleteKey(c *bolt.Cursor, key []byte) (removed bool, err error) {
	if k, _ := c.Seek(key); !bytes.Equal(k, key) {
		return false, nil
	}
	return true, c.Delete()
}

// MarkSending records, durably, that these jobs are about to be sent; Done, Update and Kill clear the mark.
func (s *Store) MarkSending(ids []uint64) error {
	if len(ids) == 0 {
		return nil
	}
	return s.commits.do(func(tx *bolt.Tx) error {
		b := appending(tx.Bucket(sendingBucket))
		for _, id := range ids {
			if err := b.Put(itob(id), nil); err != nil {
				return err
			}
		}
		return nil
	})
}

// InDoubt lists the pending jobs still marked as sending: after an unclean stop (kill -9, power loss) these were
// in an upload whose answer the relay never recorded. Their marks stay until the jobs are settled.
func (s *Store) InDoubt() ([]Job, error) {
	var out []Job
	err := s.db.View(func(tx *bolt.Tx) error {
		jobs := tx.Bucket(jobsBucket)
		return tx.Bucket(sendingBucket).ForEach(func(k, _ []byte) error {
			if raw := jobs.Get(k); raw != nil {
				j, err := s.decodeJob(binary.BigEndian.Uint64(k), raw)
				if err != nil {
					return err
				}
				out = append(out, j)
			}
			return nil
		})
	})
	return out, err
}

// ClearSending forgets the marks of jobs that will be sent again.
func (s *Store) ClearSending(ids []uint64) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(sendingBucket)
		for _, id := range ids {
			if err := b.Delete(itob(id)); err != nil {
				return err
			}
		}
		return nil
	})
}

// Update rewrites jobs (their attempts and last error after a failed try).
func (s *Store) Update(jobs []Job) error {
	if len(jobs) == 0 {
		return nil
	}
	return s.commits.do(func(tx *bolt.Tx) error {
		b, sending := tx.Bucket(jobsBucket), tx.Bucket(sendingBucket)
		for _, j := range jobs {
			if err := sending.Delete(itob(j.ID)); err != nil {
				return err
			}
			if err := b.Put(itob(j.ID), seal(j.ID, encodeJob(&j))); err != nil {
				return err
			}
		}
		return nil
	})
}

// Kill moves jobs to the dead letters.
func (s *Store) Kill(dead []DeadLetter) error {
	if len(dead) == 0 {
		return nil
	}
	now := s.now().UTC()
	var delta map[string]int
	err := s.commits.do(func(tx *bolt.Tx) error {
		delta = map[string]int{} // a shared commit may run the function again
		db, r := tx.Bucket(deadBucket), newRemoval(tx, delta)
		for _, d := range dead {
			if err := r.remove(d.Job); err != nil {
				return err
			}
			if d.DeadAt.IsZero() {
				d.DeadAt = now
			}
			raw, err := json.Marshal(d)
			if err != nil {
				return err
			}
			if err := db.Put(itob(d.ID), raw); err != nil {
				return err
			}
		}
		return nil
	})
	if err == nil {
		s.count(delta)
	}
	return err
}

// DeadLetters lists the dead letters, oldest first.
func (s *Store) DeadLetters() ([]DeadLetter, error) {
	out := []DeadLetter{}
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(deadBucket).ForEach(func(_, v []byte) error {
			var d DeadLetter
			if err := json.Unmarshal(v, &d); err != nil {
				return err
			}
			out = append(out, d)
			return nil
		})
	})
	return out, err
}

// ErrNotFound is returned for an unknown dead letter id.
var ErrNotFound = errors.New("no such dead letter")

// Revive moves a dead letter back to the jobs with its attempts reset, for another try.
func (s *Store) Revive(id uint64) (Job, error) {
	var job Job
	err := s.db.Update(func(tx *bolt.Tx) error {
		db := tx.Bucket(deadBucket)
		raw := db.Get(itob(id))
		if raw == nil {
			return ErrNotFound
		}
		var d DeadLetter
		if err := json.Unmarshal(raw, &d); err != nil {
			return err
		}
		if strings.HasPrefix(d.Reason, DamagedReason) {
			return fmt.Errorf("dead letter %d: %s; it holds nothing to send again", id, d.Reason)
		}
		job = d.Job
		job.Attempts, job.LastError = 0, ""
		if err := db.Delete(itob(id)); err != nil {
			return err
		}
		if err := tx.Bucket(queueBucket).Put(queueKey(job.Destination, id), nil); err != nil {
			return err
		}
		return tx.Bucket(jobsBucket).Put(itob(id), seal(id, encodeJob(&job)))
	})
	if err == nil {
		s.count(map[string]int{job.Destination: 1})
	}
	return job, err
}

// Prune forgets event ids seen before the cutoff; it returns how many.
func (s *Store) Prune(before time.Time) (int, error) {
	limit := itob(uint64(before.UnixNano()))
	n := 0
	err := s.db.Update(func(tx *bolt.Tx) error {
		byTime, seen := tx.Bucket(seenByTimeBucket), tx.Bucket(seenBucket)
		var old [][]byte // collected first: deleting under a bbolt cursor skips keys
		c := byTime.Cursor()
		for k, _ := c.First(); k != nil && string(k[:8]) < string(limit); k, _ = c.Next() {
			old = append(old, append([]byte(nil), k...))
		}
		for _, k := range old {
			if err := seen.Delete(k[8:]); err != nil {
				return err
			}
			if err := byTime.Delete(k); err != nil {
				return err
			}
		}
		n = len(old)
		return nil
	})
	return n, err
}

// Counts are the sizes of the buckets.
type Counts struct {
	Pending int `json:"pending"`
	Dead    int `json:"dead"`
	Seen    int `json:"seen"`
}

// Counts reads the bucket sizes.
func (s *Store) Counts() (Counts, error) {
	var c Counts
	err := s.db.View(func(tx *bolt.Tx) error {
		c.Pending = tx.Bucket(jobsBucket).Stats().KeyN
		c.Dead = tx.Bucket(deadBucket).Stats().KeyN
		c.Seen = tx.Bucket(seenBucket).Stats().KeyN
		return nil
	})
	return c, err
}
