package outbox

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	bolt "go.etcd.io/bbolt"
)

// Salvage copies everything readable in a damaged outbox file into a new outbox in dir (which must not hold one
// yet): the pending jobs with their ids, the dead letters, the event ids remembered for dedupe and the marks of
// uploads in doubt. What the report lists as damaged is what could not be copied.
func Salvage(from, dir string) (Report, error) {
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
