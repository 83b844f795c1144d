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
	// refused before the damaged file is read, which takes seconds for a large one
	if _, err := os.Stat(filepath.Join(dir, FileName)); err == nil {
		return Report{Path: from}, fmt.Errorf("%s already holds an outbox: salvage into an empty directory", dir)
	} else if !errors.Is(err, os.ErrNotExist) {
		return Report{Path: from}, err
	}
	if _, err := os.Stat(filepath.Join(dir, MarkerName)); err == nil {
		return Report{Path: from}, fmt.Errorf("%s holds a marker of an earlier outbox: salvage into an empty "+
			"directory", dir)
	}
	return readMapped(from, true, func(c *contents) error { return salvageInto(dir, c) })
}

// salvageChunk is how many entries a salvage writes a transaction: one transaction for a whole outbox would hold
// every page it writes in memory until it commits (a 300 MiB outbox took 1 GiB). A variable for tests.
var salvageChunk = 10000

// salvageStaging is the directory inside the target where a salvage writes before its outbox is moved into place:
// a salvage cut short leaves no outbox a relay would start on as if it were whole.
const salvageStaging = ".salvage"

// salvageInto writes what was read of a damaged outbox into a new one in dir, which Salvage found empty (bbolt
// copies what it is given), a chunk a transaction, in a staging directory whose files are renamed into dir once the outbox is closed.
func salvageInto(dir string, c *contents) error {
	staging := filepath.Join(dir, salvageStaging)
	if err := os.RemoveAll(staging); err != nil { // what a salvage cut short left
		return err
	}
	s, err := Open(staging, Options{})
	if err != nil {
		return err
	}
	err = s.copyContents(c)
	if err == nil {
		s.pending, s.total = map[string]int{}, 0
		err = s.countPending()
	}
	if cerr := s.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	// the outbox first: a stop between the renames leaves it without its marker, which a relay starts on as an
	// outbox it did not make (checked whole); the other way round the marker would name a missing outbox
	for _, name := range []string{FileName, MarkerName} {
		if err := os.Rename(filepath.Join(staging, name), filepath.Join(dir, name)); err != nil {
			return err
		}
	}
	if err := syncDir(dir); err != nil {
		return err
	}
	return os.RemoveAll(staging)
}

// copyContents writes a damaged outbox's readable contents into s, a chunk a transaction.
func (s *Store) copyContents(c *contents) error {
	for chunk := range slices.Chunk(c.jobs, salvageChunk) {
		if err := s.db.Update(func(tx *bolt.Tx) error {
			jb, queue := appending(tx.Bucket(jobsBucket)), tx.Bucket(queueBucket)
			for _, j := range chunk {
				if err := jb.Put(itob(j.ID), c.rawJobs[j.ID]); err != nil {
					return err
				}
				if err := queue.Put(queueKey(j.Destination, j.ID), nil); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			return err
		}
	}
	err := s.db.Update(func(tx *bolt.Tx) error {
		next := c.jobsSequence
		for _, j := range c.jobs {
			next = max(next, j.ID)
		}
		if err := tx.Bucket(jobsBucket).SetSequence(next); err != nil {
			return err
		}
		// the copied jobs keep their seals, or their lack of one when they predate seals
		s.sealedFrom = min(c.sealedFrom, next+1)
		if err := tx.Bucket(formatBucket).Put(sealedFromKey, itob(s.sealedFrom)); err != nil {
			return err
		}
		sending := tx.Bucket(sendingBucket)
		for _, e := range c.sending { // uploads in flight: a few batches at most
			if len(e.key) == 8 && c.rawJobs[binary.BigEndian.Uint64(e.key)] != nil {
				if err := sending.Put(e.key, nil); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, b := range []struct {
		name    []byte
		entries []entry
	}{{deadBucket, c.dead}, {seenBucket, c.seen}, {seenByTimeBucket, c.byTime}} {
		for chunk := range slices.Chunk(b.entries, salvageChunk) {
			if err := s.db.Update(func(tx *bolt.Tx) error {
				bucket := appending(tx.Bucket(b.name)) // each read in key order
				for _, e := range chunk {
					if err := bucket.Put(e.key, e.value); err != nil {
						return err
					}
				}
				return nil
			}); err != nil {
				return err
			}
		}
	}
	return nil
}

// Moving is an outbox file read to be moved into a shared outbox (relay outbox salvage --outbox-dsn): its jobs
// oldest first, which of them were in an upload when the relay stopped, its dead letters and the event ids it
// remembers for dedupe, with when each was first seen. A whole file is read a chunk at a time, so a backlog of
// millions moves in bounded memory; of a damaged one what is readable is copied out (mapped, the file itself is
// not read into memory), as salvage reads it.
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

// damagedToMove reads what is readable in a damaged file, as Salvage does. The file stays mapped until the Moving
// is closed, and each chunk is decoded (copied) as it is asked for: memory holds the indexes the check made, not the
// jobs.
func damagedToMove(path string) (*Moving, error) {
	data, release, err := mapFile(path)
	if err != nil {
		return nil, err
	}
	var c *contents
	if err := whileMapped(path, func() (err error) {
		c, err = readData(path, data, true)
		return err
	}); err != nil {
		release()
		return nil, err
	}
	refs := slices.SortedFunc(slices.Values(c.jobs), func(a, b jobRef) int { return cmp.Compare(a.ID, b.ID) })
	inDoubt := map[uint64]bool{}
	for _, e := range c.sending {
		if len(e.key) == 8 && c.rawJobs[binary.BigEndian.Uint64(e.key)] != nil {
			inDoubt[binary.BigEndian.Uint64(e.key)] = true
		}
	}
	return &Moving{InDoubt: inDoubt,
		close: func() error { release(); return nil },
		jobs: func(n int, fn func([]Job) error) error {
			return decodedChunks(path, refs, n, fn, func(ref jobRef) (Job, bool, error) {
				// read once already by the check: it cannot fail here, but a job is never dropped quietly
				j, err := decodeJob(ref.ID, c.rawJobs[ref.ID], ref.ID >= c.sealedFrom)
				return j, true, err
			})
		},
		dead: func(n int, fn func([]DeadLetter) error) error {
			return decodedChunks(path, c.dead, n, fn, func(e entry) (d DeadLetter, _ bool, err error) {
				return d, true, json.Unmarshal(e.value, &d)
			})
		},
		seen: func(n int, fn func([]SeenEvent) error) error {
			return decodedChunks(path, c.seen, n, fn, func(e entry) (SeenEvent, bool, error) {
				ev, err := seenEvent(e.key, e.value)
				return ev, err == nil, nil // the check reported what is not an event id
			})
		},
	}, nil
}

// decodedChunks decodes a mapped file's entries (copying them) and calls fn with up to n at a time; decode says
// whether an entry is kept.
func decodedChunks[E, T any](path string, all []E, n int, fn func([]T) error,
	decode func(E) (T, bool, error)) error {
	out := make([]T, 0, n)
	return whileMapped(path, func() error {
		for chunk := range slices.Chunk(all, n) {
			out = out[:0]
			for _, e := range chunk {
				v, keep, err := decode(e)
				if err != nil {
					return err
				}
				if keep {
					out = append(out, v)
				}
			}
			if err := fn(out); err != nil {
				return err
			}
		}
		return nil
	})
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
