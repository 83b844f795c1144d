package outbox

import (
	"cmp"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Salvage copies everything readable in a damaged outbox file into a new outbox in dir (which must not hold one
// yet): the pending jobs with their ids, the dead letters, the event ids remembered for dedupe and the marks of
// uploads in doubt. What the report lists as damaged is what could not be copied.
func Salvage(from, dir string) (Report, error) {
	// a moved outbox's jobs are delivered from where they went: a copy a relay could start on would send them twice
	if m, known, err := readMarker(filepath.Dir(from)); err == nil && known && m.State == stateMoved {
		return Report{Path: from}, m.movedError(from)
	}
	data, err := os.ReadFile(from)
	if err != nil {
		return Report{Path: from}, err
	}
	c, err := readData(from, data, true)
	if err != nil {
		return c.report, err
	}
	if _, err := os.Stat(filepath.Join(dir, FileName)); err == nil {
		return c.report, fmt.Errorf("%s already holds an outbox: salvage into an empty directory", dir)
	} else if !errors.Is(err, os.ErrNotExist) {
		return c.report, err
	}
	if _, err := os.Stat(filepath.Join(dir, MarkerName)); err == nil {
		return c.report, fmt.Errorf("%s holds a marker of an earlier outbox: salvage into an empty directory", dir)
	}
	s, err := Open(dir, Options{})
	if err != nil {
		return c.report, err
	}
	err = s.db.Update(func(tx *bolt.Tx) error {
		jb, queue, sending := tx.Bucket(jobsBucket), tx.Bucket(queueBucket), tx.Bucket(sendingBucket)
		next := c.jobsSequence
		for _, j := range c.jobs {
			if err := jb.Put(itob(j.ID), c.rawJobs[j.ID]); err != nil {
				return err
			}
			if err := queue.Put(queueKey(j.Destination, j.ID), nil); err != nil {
				return err
			}
			next = max(next, j.ID)
		}
		if err := jb.SetSequence(next); err != nil {
			return err
		}
		// the copied jobs keep their seals, or their lack of one when they predate seals
		s.sealedFrom = min(c.sealedFrom, next+1)
		if err := tx.Bucket(formatBucket).Put(sealedFromKey, itob(s.sealedFrom)); err != nil {
			return err
		}
		for _, e := range c.sending {
			if len(e.key) == 8 && c.rawJobs[binary.BigEndian.Uint64(e.key)] != nil {
				if err := sending.Put(e.key, nil); err != nil {
					return err
				}
			}
		}
		for name, entries := range map[string][]entry{string(deadBucket): c.dead, string(seenBucket): c.seen,
			string(seenByTimeBucket): c.byTime} {
			b := tx.Bucket([]byte(name))
			for _, e := range entries {
				if err := b.Put(e.key, e.value); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err == nil {
		s.pending, s.total = map[string]int{}, 0
		err = s.countPending()
	}
	if cerr := s.Close(); err == nil {
		err = cerr
	}
	return c.report, err
}

// Moving is an outbox file read to be moved into a shared outbox (relay outbox salvage --outbox-dsn): its jobs
// oldest first, which of them were in an upload when the relay stopped, its dead letters and the event ids it
// remembers for dedupe, with when each was first seen. A whole file is read a chunk at a time, so a backlog of
// millions moves in bounded memory; a damaged one is read whole, as salvage reads it, for what is readable.
type Moving struct {
	// Outbox names the file and when it was made: the same outbox is moved once.
	Outbox string
	// InDoubt holds the ids of the jobs in an upload when the relay stopped (a few batches at most).
	InDoubt map[uint64]bool

	jobs  func(n int, fn func([]Job) error) error
	dead  func(n int, fn func([]DeadLetter) error) error
	seen  func(n int, fn func([]SeenEvent) error) error
	close func() error
}

// SeenEvent is an event id the outbox remembers, and when it was first seen.
type SeenEvent struct {
	Source, EventID string
	At              time.Time
}

// Jobs calls fn with the jobs, oldest first, up to n at a time (the slice is reused between calls).
func (m *Moving) Jobs(n int, fn func([]Job) error) error { return m.jobs(n, fn) }

// Dead calls fn with the dead letters, up to n at a time.
func (m *Moving) Dead(n int, fn func([]DeadLetter) error) error { return m.dead(n, fn) }

// Seen calls fn with the event ids remembered, up to n at a time.
func (m *Moving) Seen(n int, fn func([]SeenEvent) error) error { return m.seen(n, fn) }

// Close releases the file.
func (m *Moving) Close() error { return m.close() }

// ReadToMove opens the outbox in dir, whole or damaged, to be moved elsewhere. It refuses an outbox a relay has
// open (stop it first: webhooks it accepted meanwhile would stay behind) and one already moved. The report says
// what could not be read.
func ReadToMove(dir string) (*Moving, Report, error) {
	path := filepath.Join(dir, FileName)
	m, known, err := readMarker(dir)
	if err != nil {
		return nil, Report{Path: path}, err
	}
	if known && m.State == stateMoved {
		return nil, Report{Path: path}, m.movedError(path)
	}
	if err := lockedElsewhere(path); err != nil {
		return nil, Report{Path: path}, fmt.Errorf("%w: stop it before moving its outbox", err)
	}
	created := m.CreatedAt
	if !known || created.IsZero() {
		fi, err := os.Stat(path)
		if err != nil {
			return nil, Report{Path: path}, err
		}
		created = fi.ModTime()
	}
	name := fmt.Sprintf("%s (made %s)", path, created.UTC().Format(time.RFC3339Nano))
	rep, err := Check(path)
	if err != nil {
		return nil, rep, err
	}
	read := wholeToMove
	if !rep.OK() {
		read = damagedToMove
	}
	mv, err := read(path)
	if mv != nil {
		mv.Outbox = name
	}
	return mv, rep, err
}

// wholeToMove reads a whole file through bbolt, read only, a chunk at a time.
func wholeToMove(path string) (*Moving, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		return nil, fmt.Errorf("outbox %s: %w", path, err)
	}
	sealedFrom, inDoubt := ^uint64(0), map[uint64]bool{} // an outbox older than seals has no format bucket
	err = db.View(func(tx *bolt.Tx) error {
		if f := tx.Bucket(formatBucket); f != nil {
			if v := f.Get(sealedFromKey); len(v) == 8 {
				sealedFrom = binary.BigEndian.Uint64(v)
			}
		}
		return tx.Bucket(sendingBucket).ForEach(func(k, _ []byte) error {
			if len(k) == 8 && tx.Bucket(jobsBucket).Get(k) != nil {
				inDoubt[binary.BigEndian.Uint64(k)] = true
			}
			return nil
		})
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("outbox %s: %w", path, err)
	}
	return &Moving{InDoubt: inDoubt, close: db.Close,
		jobs: func(n int, fn func([]Job) error) error {
			return inChunks(db, jobsBucket, n, fn, func(k, v []byte) (Job, error) {
				if len(k) != 8 {
					return Job{}, fmt.Errorf("jobs: a key of %d bytes", len(k))
				}
				id := binary.BigEndian.Uint64(k)
				return decodeJob(id, v, id >= sealedFrom)
			})
		},
		dead: func(n int, fn func([]DeadLetter) error) error {
			return inChunks(db, deadBucket, n, fn, func(k, v []byte) (d DeadLetter, err error) {
				return d, json.Unmarshal(v, &d)
			})
		},
		seen: func(n int, fn func([]SeenEvent) error) error {
			return inChunks(db, seenBucket, n, fn, seenEvent)
		},
	}, nil
}

// inChunks decodes a bucket's entries in key order and hands them to fn n at a time.
func inChunks[T any](db *bolt.DB, bucket []byte, n int, fn func([]T) error, decode func(k, v []byte) (T, error)) error {
	chunk := make([]T, 0, n)
	err := db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucket).ForEach(func(k, v []byte) error {
			t, err := decode(k, v)
			if err != nil {
				return err
			}
			if chunk = append(chunk, t); len(chunk) == n {
				err, chunk = fn(chunk), chunk[:0]
			}
			return err
		})
	})
	if err == nil && len(chunk) > 0 {
		err = fn(chunk)
	}
	return err
}

func seenEvent(k, v []byte) (SeenEvent, error) {
	source, eventID, ok := strings.Cut(string(k), "\x00")
	if !ok || len(v) != 8 {
		return SeenEvent{}, fmt.Errorf("seen: an entry %s that is not an event id", clipKey(k))
	}
	return SeenEvent{Source: source, EventID: eventID, At: time.Unix(0, int64(binary.BigEndian.Uint64(v))).UTC()}, nil
}

// damagedToMove reads what is readable in a damaged file, whole, as Salvage does.
func damagedToMove(path string) (*Moving, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	c, err := readData(path, data, true)
	if err != nil {
		return nil, err
	}
	var jobs []Job
	for _, ref := range c.jobs {
		j, err := decodeJob(ref.ID, c.rawJobs[ref.ID], ref.ID >= c.sealedFrom)
		if err != nil { // read once already: it cannot fail here, but a job is never dropped quietly
			return nil, err
		}
		jobs = append(jobs, j)
	}
	slices.SortFunc(jobs, func(a, b Job) int { return cmp.Compare(a.ID, b.ID) })
	inDoubt := map[uint64]bool{}
	for _, e := range c.sending {
		if len(e.key) == 8 && c.rawJobs[binary.BigEndian.Uint64(e.key)] != nil {
			inDoubt[binary.BigEndian.Uint64(e.key)] = true
		}
	}
	var dead []DeadLetter
	for _, e := range c.dead {
		var d DeadLetter
		if err := json.Unmarshal(e.value, &d); err != nil {
			return nil, err
		}
		dead = append(dead, d)
	}
	var seen []SeenEvent
	for _, e := range c.seen {
		if ev, err := seenEvent(e.key, e.value); err == nil { // the check reported what is not
			seen = append(seen, ev)
		}
	}
	return &Moving{InDoubt: inDoubt, close: func() error { return nil },
		jobs: func(n int, fn func([]Job) error) error { return eachChunk(jobs, n, fn) },
		dead: func(n int, fn func([]DeadLetter) error) error { return eachChunk(dead, n, fn) },
		seen: func(n int, fn func([]SeenEvent) error) error { return eachChunk(seen, n, fn) },
	}, nil
}

func eachChunk[T any](all []T, n int, fn func([]T) error) error {
	for chunk := range slices.Chunk(all, n) {
		if err := fn(chunk); err != nil {
			return err
		}
	}
	return nil
}

// MarkMoved notes beside the outbox in dir that it was moved into where: a relay no longer starts on it (it would
// send its jobs a second time), nor is it moved again.
func MarkMoved(dir, where string, at time.Time) error {
	m, known, err := readMarker(dir)
	if err != nil {
		return err
	}
	if !known {
		m = marker{File: FileName}
	}
	m.State, m.MovedTo, m.MovedAt = stateMoved, where, at.UTC()
	return writeMarker(dir, m)
}
