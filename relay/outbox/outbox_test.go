package outbox

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ctharness/ctharness/relay"
	bolt "go.etcd.io/bbolt"
)

func job(payload string) Job {
	return Job{Source: "revenuecat", EventType: "RENEWAL", Message: relay.Message{Destination: "d", Kind: relay.KindUpload,
		Payload: []byte(payload)}}
}

func TestAcceptIsDurableAndDeduplicated(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	jobs := []Job{job(`{"a":1}`), job(`{"a":2}`)}
	if dup, err := s.Accept("revenuecat", "e1", jobs); dup || err != nil {
		t.Fatalf("first accept: dup=%v err=%v", dup, err)
	}
	if jobs[0].ID == 0 || jobs[1].ID == jobs[0].ID {
		t.Fatalf("jobs need distinct ids, got %d and %d", jobs[0].ID, jobs[1].ID)
	}
	if dup, err := s.Accept("revenuecat", "e1", []Job{job(`{"a":3}`)}); !dup || err != nil {
		t.Fatalf("second accept of e1 must be a duplicate: dup=%v err=%v", dup, err)
	}
	if dup, _ := s.Accept("purchasely", "e1", []Job{job(`{"b":1}`)}); dup {
		t.Fatal("event ids are per source")
	}
	s.Close()

	s, err = Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	pending, err := s.Pending()
	if err != nil || len(pending) != 3 || string(pending[0].Payload) != `{"a":1}` || pending[0].EventID != "" &&
		pending[0].Source != "revenuecat" {
		t.Fatalf("after reopening: %v %+v", err, pending)
	}
	if dup, _ := s.Accept("revenuecat", "e1", nil); !dup {
		t.Fatal("seen ids survive a restart")
	}
	if err := s.Done([]Job{pending[0]}); err != nil {
		t.Fatal(err)
	}
	pending[1].Attempts, pending[1].LastError = 2, "HTTP 503"
	if err := s.Update([]Job{pending[1]}); err != nil {
		t.Fatal(err)
	}
	if err := s.Kill([]DeadLetter{{Job: pending[2], Status: 200, Code: 528, Reason: "discarded"}}); err != nil {
		t.Fatal(err)
	}
	left, _ := s.Pending()
	dead, _ := s.DeadLetters()
	if len(left) != 1 || left[0].Attempts != 2 || len(dead) != 1 || dead[0].Code != 528 || dead[0].DeadAt.IsZero() {
		t.Fatalf("pending %+v dead %+v", left, dead)
	}
	revived, err := s.Revive(dead[0].ID)
	if err != nil || revived.Attempts != 0 {
		t.Fatalf("revive: %v %+v", err, revived)
	}
	if _, err := s.Revive(dead[0].ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("reviving twice: expected ErrNotFound, got %v", err)
	}
	counts, _ := s.Counts()
	if counts != (Counts{Pending: 2, Dead: 0, Seen: 2}) {
		t.Fatalf("counts %+v", counts)
	}
}

func TestPruneForgetsOldEventIDs(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s, err := Open(t.TempDir(), Options{Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.Accept("rc", "old", nil)
	now = now.Add(48 * time.Hour)
	s.Accept("rc", "new", nil)
	if n, err := s.Prune(now.Add(-24 * time.Hour)); n != 1 || err != nil {
		t.Fatalf("expected one pruned id, got %d %v", n, err)
	}
	if dup, _ := s.Accept("rc", "old", nil); dup {
		t.Fatal("a pruned id is accepted again")
	}
	if dup, _ := s.Accept("rc", "new", nil); !dup {
		t.Fatal("a recent id is still a duplicate")
	}
}

func TestOpenErrorsSayWhy(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := Open(dir, Options{}); err == nil || !strings.Contains(err.Error(), "in use by another relay process") {
		t.Fatalf("a second opener must be told the outbox is in use, got %v", err)
	}
	file := filepath.Join(t.TempDir(), "file")
	os.WriteFile(file, nil, 0o600)
	if _, err := Open(filepath.Join(file, "sub"), Options{}); err == nil || !strings.Contains(err.Error(), "data dir") {
		t.Fatalf("an unusable data dir must be named, got %v", err)
	}
}

// Keys that arrive in order fill the pages they split: half-empty pages would make the file, and every commit,
// twice as large.
func TestPagesOfKeysWrittenInOrderAreFilled(t *testing.T) {
	s, err := Open(t.TempDir(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for i := range 3000 {
		if _, err := s.Accept("revenuecat", fmt.Sprintf("e%06d", i), []Job{job(`{"a":1}`)}); err != nil {
			t.Fatal(err)
		}
	}
	err = s.db.View(func(tx *bolt.Tx) error {
		for _, name := range [][]byte{jobsBucket, queueBucket, seenByTimeBucket} {
			st := tx.Bucket(name).Stats()
			if st.LeafPageN < 4 {
				t.Fatalf("%s: expected a tree of several leaf pages, got %d", name, st.LeafPageN)
			}
			if used := float64(st.LeafInuse) / float64(st.LeafAlloc); used < 0.8 {
				t.Errorf("%s: expected leaf pages at least 80%% used, got %.0f%% of %d pages", name, 100*used,
					st.LeafPageN)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// A settled job takes its queue entry and its sending mark with it: a mark left behind is not in doubt (its job is
// gone) but would stay in the file for good, one for every job delivered.
func TestSettledJobsLeaveNothingBehind(t *testing.T) {
	s, err := Open(t.TempDir(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	jobs := []Job{job(`{"a":1}`), job(`{"a":2}`), job(`{"a":3}`), job(`{"a":4}`)}
	if _, err := s.Accept("revenuecat", "e1", jobs); err != nil {
		t.Fatal(err)
	}
	if err := s.MarkSending([]uint64{jobs[0].ID, jobs[1].ID, jobs[2].ID, jobs[3].ID}); err != nil {
		t.Fatal(err)
	}
	if err := s.Done(jobs[:2]); err != nil {
		t.Fatal(err)
	}
	if err := s.Kill([]DeadLetter{{Job: jobs[2], Status: 400}}); err != nil {
		t.Fatal(err)
	}
	left := map[string]int{}
	if err := s.db.View(func(tx *bolt.Tx) error {
		for _, name := range [][]byte{jobsBucket, queueBucket, sendingBucket} {
			left[string(name)] = tx.Bucket(name).Stats().KeyN
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	// only the fourth job is left: stored, queued and marked as sending
	want := map[string]int{string(jobsBucket): 1, string(queueBucket): 1, string(sendingBucket): 1}
	if fmt.Sprint(left) != fmt.Sprint(want) {
		t.Fatalf("entries left after two jobs delivered and one killed: got %v, expected %v", left, want)
	}
	if c, err := s.Counts(); err != nil || c.Pending != 1 || c.Dead != 1 {
		t.Fatalf("counts: got %+v (%v), expected 1 pending and 1 dead", c, err)
	}
}
