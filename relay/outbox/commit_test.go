package outbox

import (
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

func openCommitter(t *testing.T) (*bolt.DB, *committer) {
	t.Helper()
	db, err := bolt.Open(filepath.Join(t.TempDir(), "c.db"), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(func(tx *bolt.Tx) error { _, err := tx.CreateBucket([]byte("b")); return err }); err != nil {
		t.Fatal(err)
	}
	c := newCommitter(db)
	t.Cleanup(func() { c.close(); db.Close() })
	return db, c
}

func put(key string) func(*bolt.Tx) error {
	return func(tx *bolt.Tx) error { return tx.Bucket([]byte("b")).Put([]byte(key), []byte("v")) }
}

func keys(t *testing.T, db *bolt.DB) map[string]bool {
	t.Helper()
	got := map[string]bool{}
	err := db.View(func(tx *bolt.Tx) error {
		return tx.Bucket([]byte("b")).ForEach(func(k, _ []byte) error { got[string(k)] = true; return nil })
	})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// holdCommit starts a write whose commit waits for release, and returns once that commit runs: the writes queued
// meanwhile wait for the next one. done gets the held write's result.
func holdCommit(c *committer, fn func(*bolt.Tx) error) (release func(), done <-chan error) {
	running, held, result := make(chan struct{}), make(chan struct{}), make(chan error, 1)
	go func() { result <- c.do(func(tx *bolt.Tx) error { close(running); <-held; return fn(tx) }) }()
	<-running
	return func() { close(held) }, result
}

// waitQueued waits until n writes wait for a commit.
func waitQueued(t *testing.T, c *committer, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c.mu.Lock()
		queued := len(c.queue)
		c.mu.Unlock()
		if queued >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d writes queued after 10s, expected %d", queued, n)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestWritesThatArriveDuringACommitShareTheNext(t *testing.T) {
	db, c := openCommitter(t)
	var mu sync.Mutex
	txs := map[*bolt.Tx]int{}
	counted := func(key string) func(*bolt.Tx) error {
		return func(tx *bolt.Tx) error {
			mu.Lock()
			txs[tx]++
			mu.Unlock()
			return put(key)(tx)
		}
	}
	release, first := holdCommit(c, counted("first"))
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := c.do(counted(fmt.Sprintf("k%02d", i))); err != nil {
				t.Error(err)
			}
		}()
	}
	waitQueued(t, c, 50)
	release()
	wg.Wait()
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	if len(txs) != 2 {
		t.Fatalf("51 writes, 50 of them queued during the first commit, took %d commits, expected 2", len(txs))
	}
	if got := keys(t, db); len(got) != 51 || !got["first"] || !got["k49"] {
		t.Fatalf("stored %d keys, expected 51 (first, k00..k49): %v", len(got), got)
	}
}

func TestAFailingWriteFailsAloneAndTheOthersAreCommitted(t *testing.T) {
	db, c := openCommitter(t)
	release, done := holdCommit(c, put("first"))
	refused := errors.New("refused value")
	errs, panics := make([]error, 10), make([]any, 10)
	var wg sync.WaitGroup
	for i := range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// a panic in a write is its caller's, as in a transaction of its own
			defer func() { panics[i] = recover() }()
			switch i {
			case 3:
				errs[i] = c.do(func(tx *bolt.Tx) error {
					if err := put("k3")(tx); err != nil {
						return err
					}
					return refused
				})
			case 7:
				errs[i] = c.do(func(*bolt.Tx) error { panic("a bug in a write") })
			default:
				errs[i] = c.do(put(fmt.Sprintf("k%d", i)))
			}
		}()
	}
	waitQueued(t, c, 10)
	release()
	wg.Wait()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		switch {
		case i == 3 && !errors.Is(errs[i], refused):
			t.Errorf("the failing write got %v, expected its own error %q", errs[i], refused)
		case i == 7 && panics[i] != "a bug in a write":
			t.Errorf("the panicking write's caller recovered %v, expected its panic", panics[i])
		case i != 3 && i != 7 && (errs[i] != nil || panics[i] != nil):
			t.Errorf("write %d got %v (panic %v), expected it committed", i, errs[i], panics[i])
		}
	}
	got := keys(t, db)
	want := map[string]bool{"first": true, "k0": true, "k1": true, "k2": true, "k4": true, "k5": true, "k6": true,
		"k8": true, "k9": true}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("stored %v, expected %v: the failed write's key k3 rolled back, every other write kept", got, want)
	}
}

func TestWritesAfterCloseAreRefusedAndQueuedOnesCommitted(t *testing.T) {
	db, c := openCommitter(t)
	release, first := holdCommit(c, put("first"))
	queued := make(chan error, 1)
	go func() { queued <- c.do(put("queued")) }()
	waitQueued(t, c, 1)
	closed := make(chan struct{})
	go func() { c.close(); close(closed) }()
	// close waits for the commits; a write that comes after it has begun is refused
	deadline := time.Now().Add(10 * time.Second)
	for !isClosed(c) {
		if time.Now().After(deadline) {
			t.Fatal("close did not begin in 10s")
		}
		time.Sleep(time.Millisecond)
	}
	if err := c.do(put("late")); !errors.Is(err, errClosed) {
		t.Fatalf("a write after close began got %v, expected %q", err, errClosed)
	}
	release()
	<-closed
	if err1, err2 := <-first, <-queued; err1 != nil || err2 != nil {
		t.Fatalf("writes before close: %v, %v; expected both committed", err1, err2)
	}
	if got := keys(t, db); !got["first"] || !got["queued"] {
		t.Fatalf("stored %v, expected first and queued", got)
	}
}

func isClosed(c *committer) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closed
}

// A webhook whose commit runs again, because a write after it in the same commit failed, is stored once, sealed
// and readable (its seal is written after its encoded bytes, which a second run must find as they were).
func TestAnAcceptThatRunsAgainIsStoredOnceAndSealed(t *testing.T) {
	s, err := Open(t.TempDir(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	release, _ := holdCommit(s.commits, func(*bolt.Tx) error { return nil })
	accepted := make(chan error, 1)
	runs := 0
	go func() {
		_, err := s.Accept("revenuecat", "evt-1", []Job{job(`{"d":[{"evtName":"x"}]}`)})
		accepted <- err
	}()
	waitQueued(t, s.commits, 1)
	failed := make(chan error, 1)
	go func() { failed <- s.commits.do(func(*bolt.Tx) error { runs++; return errors.New("refused") }) }()
	waitQueued(t, s.commits, 2)
	release()
	if err := <-accepted; err != nil {
		t.Fatal(err)
	}
	if err := <-failed; err == nil || runs != 2 {
		t.Fatalf("the failing write: %v after %d runs, expected its error after 2 (shared, then alone)", err, runs)
	}
	jobs, err := s.Pending()
	if err != nil {
		t.Fatalf("reading the jobs back: %v", err)
	}
	if len(jobs) != 1 || jobs[0].ID != 1 || string(jobs[0].Payload) != `{"d":[{"evtName":"x"}]}` {
		t.Fatalf("stored %+v, expected the one job of evt-1, id 1", jobs)
	}
}
