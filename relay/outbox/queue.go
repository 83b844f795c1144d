package outbox

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"maps"

	bolt "go.etcd.io/bbolt"

	"github.com/ctharness/ctharness/relay"
)

// The outbox is the delivery queue: jobs are indexed by destination (queueBucket), delivery reads a window of a
// destination's jobs at a time (Next), and the store counts what waits per destination.

// indexQueues builds the destination index of an outbox an older relay wrote without one.
func indexQueues(tx *bolt.Tx) error {
	queue, jobs := tx.Bucket(queueBucket), tx.Bucket(jobsBucket)
	if k, _ := queue.Cursor().First(); k != nil {
		return nil
	}
	return jobs.ForEach(func(k, v []byte) error {
		var j Job
		if err := json.Unmarshal(v, &j); err != nil {
			return fmt.Errorf("job %d: %w", binary.BigEndian.Uint64(k), err)
		}
		return queue.Put(queueKey(j.Destination, binary.BigEndian.Uint64(k)), nil)
	})
}

// countPending counts the jobs per destination from the index.
func (s *Store) countPending() error {
	return s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(queueBucket).ForEach(func(k, _ []byte) error {
			s.pending[string(k[:len(k)-9])]++
			s.total++
			return nil
		})
	})
}

// queueKey is a job's key in the destination index.
func queueKey(destination string, id uint64) []byte {
	k := make([]byte, 0, len(destination)+9)
	k = append(append(k, destination...), 0)
	return binary.BigEndian.AppendUint64(k, id)
}

// count moves the pending counters by delta per destination.
func (s *Store) count(delta map[string]int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for dest, n := range delta {
		s.pending[dest] += n
		s.total += n
		if s.pending[dest] == 0 {
			delete(s.pending, dest)
		}
	}
}

// countQueued counts jobs just queued, without count's map: it runs for every webhook.
func (s *Store) countQueued(jobs []Job) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, j := range jobs {
		s.pending[j.Destination]++
	}
	s.total += len(jobs)
}

// PendingCount is the number of jobs waiting, in all; PendingByDestination per destination.
func (s *Store) PendingCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.total
}

// PendingByDestination is the number of jobs waiting per destination.
func (s *Store) PendingByDestination() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.pending)
}

// Next reads up to limit of a destination's jobs, oldest first, passing over those held says are already in
// hand; more says whether jobs remain beyond them. A job the outbox cannot read (damaged after Open checked the
// file) becomes a dead letter saying so, instead of stopping its destination's queue for good.
func (s *Store) Next(destination string, held func(id uint64) bool, limit int) (jobs []Job, more bool, err error) {
	prefix := append([]byte(destination), 0)
	var damaged []DeadLetter
	err = s.db.View(func(tx *bolt.Tx) error {
		jb := tx.Bucket(jobsBucket)
		c := tx.Bucket(queueBucket).Cursor()
		inQueue := func(k []byte) bool {
			return k != nil && len(k) == len(prefix)+8 && string(k[:len(prefix)]) == string(prefix)
		}
		for k, _ := c.Seek(prefix); inQueue(k); k, _ = c.Next() {
			id := binary.BigEndian.Uint64(k[len(prefix):])
			if held(id) {
				continue
			}
			if len(jobs) == limit {
				more = true
				return nil
			}
			j, err := s.decodeJob(id, jb.Get(itob(id)))
			if err != nil {
				damaged = append(damaged, DeadLetter{Job: Job{ID: id, Message: relay.Message{Destination: destination}},
					Reason: DamagedReason + ": " + err.Error()})
				continue
			}
			jobs = append(jobs, j)
		}
		return nil
	})
	if err == nil && len(damaged) > 0 {
		err = s.Kill(damaged)
	}
	return jobs, more, err
}

// DamagedReason begins the reason of a dead letter made of a job the outbox could not read: it holds nothing to
// send again ("relay outbox check" says what else is damaged).
const DamagedReason = "damaged in the outbox"

// sealsFrom reads the first job id due a seal, noting it first in an outbox that has none yet: the jobs it holds
// were stored without seals.
func sealsFrom(tx *bolt.Tx) (uint64, error) {
	format := tx.Bucket(formatBucket)
	if v := format.Get(sealedFromKey); len(v) == 8 {
		return binary.BigEndian.Uint64(v), nil
	}
	jobs := tx.Bucket(jobsBucket)
	from := jobs.Sequence() + 1
	if last, _ := jobs.Cursor().Last(); len(last) == 8 {
		from = max(from, binary.BigEndian.Uint64(last)+1)
	}
	return from, format.Put(sealedFromKey, itob(from))
}

func (s *Store) decodeJob(id uint64, raw []byte) (Job, error) {
	return decodeJob(id, raw, id >= s.sealedFrom)
}

// decodeJob reads a stored job, checking its seal; an error names the job and what is wrong with it.
func decodeJob(id uint64, raw []byte, mustSeal bool) (Job, error) {
	var j Job
	if raw == nil {
		return j, fmt.Errorf("job %d: indexed but not stored", id)
	}
	if err := unseal(id, raw, mustSeal); err != nil {
		return j, err
	}
	if err := json.Unmarshal(raw, &j); err != nil {
		return j, fmt.Errorf("job %d: %w", id, err)
	}
	j.ID = id
	return j, nil
}
