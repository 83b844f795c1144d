package outbox

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// mixed makes a closed outbox of n webhooks to three destinations, with the first five dead letters: the buckets
// the relay uses, each on pages of its own.
func mixed(t *testing.T, n int) (dir string, want map[uint64]Job) {
	t.Helper()
	dir = t.TempDir()
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	want = map[uint64]Job{}
	for i := range n {
		j := job(fmt.Sprintf(`{"type":"event","evtName":"rc_renewal_event","identity":"user-%d","evtData":{"n":%d}}`,
			i, i))
		j.EventID, j.Destination = fmt.Sprintf("e%d", i), fmt.Sprintf("dest-%d", i%3)
		jobs := []Job{j}
		if _, err := s.Accept("revenuecat", j.EventID, jobs); err != nil {
			t.Fatal(err)
		}
		want[jobs[0].ID] = jobs[0]
	}
	var dead []DeadLetter
	for id := uint64(1); id <= 5; id++ {
		dead = append(dead, DeadLetter{Job: want[id], Status: 400, Reason: "refused"})
		delete(want, id)
	}
	if err := s.Kill(dead); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return dir, want
}

// Random damage is detected or survived, never silent. Runs of 16 random bytes written at many random places
// either get the outbox refused as damaged, or the relay opens it and then every job it delivers is the job that
// was accepted, every accepted job is delivered or a dead letter saying why, and every event id is remembered.
// Half the trials put the file's time back, as a disk that flips bytes does.
func TestRandomDamageIsDetectedOrSurvived(t *testing.T) {
	dir, want := mixed(t, 300)
	orig, _ := os.ReadFile(filepath.Join(dir, FileName))
	origMarker, _ := os.ReadFile(filepath.Join(dir, MarkerName))
	fi, _ := os.Stat(filepath.Join(dir, FileName))
	// the places are drawn up front, then tried by 4 workers on their own copies (each trial waits on fsync)
	r := rand.New(rand.NewPCG(9, 23))
	type trial struct{ at, n int }
	var trials []trial
	var damage [][]byte
	for n := range 300 {
		at := r.IntN(len(orig) - 16)
		trials = append(trials, trial{at, n})
		run := make([]byte, 16)
		for i := range run {
			run[i] = byte(r.IntN(256))
		}
		damage = append(damage, run)
	}
	var refusals, opened, buried atomic.Int64
	t.Run("trials", func(t *testing.T) {
		for w := range 4 {
			t.Run(fmt.Sprintf("worker-%d", w), func(t *testing.T) {
				t.Parallel()
				wdir := t.TempDir()
				path, markerPath := filepath.Join(wdir, FileName), filepath.Join(wdir, MarkerName)
				for _, tr := range trials[w:] {
					if tr.n%4 != w {
						continue
					}
					b := bytes.Clone(orig)
					copy(b[tr.at:], damage[tr.n])
					if err := os.WriteFile(path, b, 0o600); err != nil {
						t.Fatal(err)
					}
					if tr.n%2 == 0 { // the time put back, as a disk that flips bytes leaves it
						if err := os.Chtimes(path, fi.ModTime(), fi.ModTime()); err != nil {
							t.Fatal(err)
						}
					}
					if err := os.WriteFile(markerPath, origMarker, 0o600); err != nil {
						t.Fatal(err)
					}
					s, err := Open(wdir, Options{})
					var damaged *DamagedError
					switch {
					case errors.As(err, &damaged):
						refusals.Add(1)
						continue
					case err != nil:
						t.Fatalf("trial %d (16 bytes at %d): expected the outbox opened or refused as damaged, got %v",
							tr.n, tr.at, err)
					}
					opened.Add(1)
					buried.Add(int64(drainAndCompare(t, s, want, fmt.Sprintf("trial %d (16 bytes at %d)", tr.n,
						tr.at))))
					s.Close()
				}
			})
		}
	})
	t.Logf("300 trials: %d refused as damaged, %d opened (%d jobs buried as damaged)", refusals.Load(),
		opened.Load(), buried.Load())
	if refusals.Load() == 0 || opened.Load() == 0 {
		t.Fatalf("expected some trials to hit what the outbox uses and some to miss it, got %d refused, %d opened",
			refusals.Load(), opened.Load())
	}
}

// drainAndCompare delivers everything an opened outbox holds and checks it against what was accepted; it returns
// how many jobs became dead letters as damaged.
func drainAndCompare(t *testing.T, s *Store, want map[uint64]Job, trial string) (buried int) {
	t.Helper()
	delivered := map[uint64]bool{}
	for _, dest := range []string{"dest-0", "dest-1", "dest-2"} {
		for {
			jobs, more, err := s.Next(dest, func(uint64) bool { return false }, 400)
			if err != nil {
				t.Fatalf("%s: opened, then Next failed: %v", trial, err)
			}
			for _, j := range jobs {
				w, ok := want[j.ID]
				if !ok || delivered[j.ID] || j.EventID != w.EventID || j.Destination != w.Destination ||
					!bytes.Equal(j.Payload, w.Payload) {
					t.Fatalf("%s: delivered job %d (%s to %s) with %q, but it was accepted as %s to %s with %q "+
						"(or delivered twice)", trial, j.ID, j.EventID, j.Destination, j.Payload, w.EventID,
						w.Destination, w.Payload)
				}
				delivered[j.ID] = true
			}
			if err := s.Done(jobs); err != nil {
				t.Fatal(err)
			}
			if len(jobs) == 0 && !more {
				break
			}
		}
	}
	dead, err := s.DeadLetters()
	if err != nil {
		t.Fatalf("%s: opened, then the dead letters did not read: %v", trial, err)
	}
	for _, d := range dead {
		if strings.HasPrefix(d.Reason, DamagedReason) && !delivered[d.ID] {
			delivered[d.ID] = true
			buried++
		}
	}
	for id, w := range want {
		if !delivered[id] {
			t.Fatalf("%s: job %d (%s) was accepted, then neither delivered nor a dead letter", trial, id, w.EventID)
		}
	}
	err = s.db.View(func(tx *bolt.Tx) error {
		for i := range 300 {
			if tx.Bucket(seenBucket).Get(seenKey("revenuecat", fmt.Sprintf("e%d", i))) == nil {
				return fmt.Errorf("event id e%d forgotten: a redelivery would be sent twice", i)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("%s: %v", trial, err)
	}
	return buried
}

// A garbled meta page is reported: bbolt would quietly read the other one and lose the last commits.
func TestAGarbledMetaPageIsReported(t *testing.T) {
	for page := range 2 {
		t.Run(fmt.Sprintf("meta page %d", page), func(t *testing.T) {
			dir, _ := mixed(t, 50)
			path := filepath.Join(dir, FileName)
			b, _ := os.ReadFile(path)
			copy(b[page*4096+16+20:], "garbled!") // inside the meta, past the magic and version
			if err := os.WriteFile(path, b, 0o600); err != nil {
				t.Fatal(err)
			}
			refused(t, dir, fmt.Sprintf("meta page %d: checksum mismatch", page), "bbolt reads the other meta page")
		})
	}
}

// A job whose bytes changed but still read as JSON is caught by its seal.
func TestAChangedJobIsCaughtByItsSeal(t *testing.T) {
	dir, _ := mixed(t, 50)
	path := filepath.Join(dir, FileName)
	b, _ := os.ReadFile(path)
	at := bytes.Index(b, []byte(`"identity":"user-17"`))
	if at < 0 {
		t.Fatal("expected job 18's identity in the file")
	}
	copy(b[at:], `"identity":"user-71"`)
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	refused(t, dir, "its bytes changed since it was stored")
}

// A job damaged after the start-up check becomes a dead letter saying so; its destination's queue goes on.
func TestAJobDamagedAfterOpenBecomesADeadLetter(t *testing.T) {
	dir, _ := mixed(t, 30)
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	err = s.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(jobsBucket).Put(itob(9), []byte(`{"garbled`)) })
	if err != nil {
		t.Fatal(err)
	}
	before := s.PendingByDestination()["dest-2"]
	jobs, _, err := s.Next("dest-2", func(uint64) bool { return false }, 100)
	if err != nil || len(jobs) != 8 { // ids 6, 9, ..., 30 (3 is a dead letter), less 9
		t.Fatalf("expected dest-2's 8 readable jobs, got %d: %v", len(jobs), err)
	}
	dead, _ := s.DeadLetters()
	last := dead[len(dead)-1]
	if last.ID != 9 || !strings.HasPrefix(last.Reason, DamagedReason+": job 9") {
		t.Fatalf("expected job 9 a dead letter as damaged, got %+v", last)
	}
	if got := s.PendingByDestination()["dest-2"]; got != before-1 {
		t.Fatalf("expected dest-2's count down by one (%d), got %d", before-1, got)
	}
	if _, err := s.Revive(9); err == nil || !strings.Contains(err.Error(), "nothing to send") {
		t.Fatalf("expected retrying a damaged dead letter refused, got %v", err)
	}
}
