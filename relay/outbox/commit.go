package outbox

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	bolt "go.etcd.io/bbolt"
)

// committer is the outbox's group commit. Writes that arrive while a commit runs share the next one, as soon as it
// can start: no timer. bbolt's own Batch waits a fixed delay and then queues its batch behind the writer lock, so
// under load the batches formed during one commit each waited for a commit of their own: about 20 webhooks a
// commit from 256 in flight, each commit paying its page writes and two fdatasyncs. Here a commit takes everything
// that waits (up to maxCommitWrites), so the commits grow with the load and cost less per webhook; a lone write
// commits at once instead of after a delay.
type committer struct {
	db *bolt.DB

	mu     sync.Mutex
	queue  []*write
	closed bool

	commits atomic.Int64 // transactions committed, for the benchmarks' writes a commit

	wake chan struct{} // one token: work is queued
	stop chan struct{}
	done chan struct{}
}

// maxCommitWrites bounds one commit (bbolt's MaxBatchSize default): beyond it the rest waits for the next.
const maxCommitWrites = 1000

type write struct {
	fn  func(*bolt.Tx) error
	err chan error
}

// errTrySolo tells a write whose function failed inside a shared commit to run on its own, so that its error is
// its own and the others' writes are not lost with it (as bbolt's Batch does).
var errTrySolo = errors.New("outbox: run the write on its own")

var errClosed = errors.New("outbox is closed")

var writes = sync.Pool{New: func() any { return &write{err: make(chan error, 1)} }}

func newCommitter(db *bolt.DB) *committer {
	c := &committer{db: db, wake: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	go c.run()
	return c
}

// do runs fn in a commit shared with the writes waiting with it and returns once that commit is durable. fn may
// run more than once (when another write of its commit fails), so it must set everything it reports afresh.
func (c *committer) do(fn func(*bolt.Tx) error) error {
	w := writes.Get().(*write)
	w.fn = fn
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return errClosed
	}
	c.queue = append(c.queue, w)
	c.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default: // a token is already there: the committer will look at the queue
	}
	err := <-w.err
	w.fn = nil
	writes.Put(w)
	if errors.Is(err, errTrySolo) {
		err = c.db.Update(fn)
	}
	return err
}

// close commits what is queued and stops; writes after it get errClosed.
func (c *committer) close() {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.closed = true
	c.mu.Unlock()
	close(c.stop)
	<-c.done
}

func (c *committer) run() {
	defer close(c.done)
	var batch []*write
	for {
		select {
		case <-c.wake:
		case <-c.stop:
			// closed is set: nothing joins the queue any more
			for c.next(&batch) {
			}
			return
		}
		for c.next(&batch) {
		}
	}
}

// next commits what waits, up to maxCommitWrites; it reports whether there was anything.
func (c *committer) next(batch *[]*write) bool {
	c.mu.Lock()
	n := min(len(c.queue), maxCommitWrites)
	*batch = append((*batch)[:0], c.queue[:n]...)
	rest := copy(c.queue, c.queue[n:])
	clear(c.queue[rest:])
	c.queue = c.queue[:rest]
	c.mu.Unlock()
	if n == 0 {
		return false
	}
	c.commit(*batch)
	c.commits.Add(1)
	clear(*batch)
	return true
}

// commit runs the writes in one transaction. A write whose function fails is told to run on its own and the
// others are committed without it.
func (c *committer) commit(batch []*write) {
	for len(batch) > 0 {
		failed := -1
		err := c.db.Update(func(tx *bolt.Tx) error {
			for i, w := range batch {
				if err := safely(w.fn, tx); err != nil {
					failed = i
					return err
				}
			}
			return nil
		})
		if failed >= 0 {
			batch[failed].err <- errTrySolo
			batch[failed] = batch[len(batch)-1]
			batch = batch[:len(batch)-1]
			continue
		}
		for _, w := range batch {
			w.err <- err
		}
		return
	}
}

// safely calls fn, turning a panic into an error: the write is then run on its own, where the panic is its
// caller's.
func safely(fn func(*bolt.Tx) error, tx *bolt.Tx) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic in an outbox write: %v", p)
		}
	}()
	return fn(tx)
}
