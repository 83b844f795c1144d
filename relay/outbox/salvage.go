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

// Moving is what an outbox file holds, read to be moved into a shared outbox (relay outbox salvage --outbox-dsn):
// its jobs oldest first, which of them were in an upload when the relay stopped, its dead letters and the event
// ids it remembers for dedupe, with when each was first seen.
type Moving struct {
	// Outbox names the file and when it was made: the same outbox is moved once.
	Outbox  string
	Jobs    []Job
	InDoubt map[uint64]bool
	Dead    []DeadLetter
	Seen    []SeenEvent
}

// SeenEvent is an event id the outbox remembers, and when it was first seen.
type SeenEvent struct {
	Source, EventID string
	At              time.Time
}

// ReadToMove reads everything readable in the outbox in dir, damaged or not, to be moved elsewhere. It refuses
// an outbox a relay has open (stop it first: webhooks it accepted meanwhile would stay behind) and one already
// moved. The report says what could not be read.
func ReadToMove(dir string) (Moving, Report, error) {
	path := filepath.Join(dir, FileName)
	m, known, err := readMarker(dir)
	if err != nil {
		return Moving{}, Report{Path: path}, err
	}
	if known && m.State == stateMoved {
		return Moving{}, Report{Path: path}, m.movedError(path)
	}
	if err := lockedElsewhere(path); err != nil {
		return Moving{}, Report{Path: path}, fmt.Errorf("%w: stop it before moving its outbox", err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return Moving{}, Report{Path: path}, err
	}
	c, err := readData(path, data, true)
	if err != nil {
		return Moving{}, c.report, err
	}
	created := m.CreatedAt
	if !known || created.IsZero() {
		fi, err := os.Stat(path)
		if err != nil {
			return Moving{}, c.report, err
		}
		created = fi.ModTime()
	}
	mv := Moving{Outbox: fmt.Sprintf("%s (made %s)", path, created.UTC().Format(time.RFC3339Nano)),
		InDoubt: map[uint64]bool{}}
	for _, ref := range c.jobs {
		j, err := decodeJob(ref.ID, c.rawJobs[ref.ID], ref.ID >= c.sealedFrom)
		if err != nil { // read once already by the check: it cannot fail here, but a job is never dropped quietly
			return Moving{}, c.report, err
		}
		mv.Jobs = append(mv.Jobs, j)
	}
	slices.SortFunc(mv.Jobs, func(a, b Job) int { return cmp.Compare(a.ID, b.ID) })
	for _, e := range c.sending {
		if len(e.key) == 8 && c.rawJobs[binary.BigEndian.Uint64(e.key)] != nil {
			mv.InDoubt[binary.BigEndian.Uint64(e.key)] = true
		}
	}
	for _, e := range c.dead {
		var d DeadLetter
		if err := json.Unmarshal(e.value, &d); err != nil {
			return Moving{}, c.report, err
		}
		mv.Dead = append(mv.Dead, d)
	}
	for _, e := range c.seen {
		source, eventID, ok := strings.Cut(string(e.key), "\x00")
		if !ok || len(e.value) != 8 {
			c.report.Damage = append(c.report.Damage, fmt.Sprintf("seen: an entry %s that is not an event id",
				clipKey(e.key)))
			continue
		}
		mv.Seen = append(mv.Seen, SeenEvent{Source: source, EventID: eventID,
			At: time.Unix(0, int64(binary.BigEndian.Uint64(e.value))).UTC()})
	}
	return mv, c.report, nil
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
