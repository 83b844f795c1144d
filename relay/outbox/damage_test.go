package outbox

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/ctharness/ctharness/relay"
)

// filled makes an outbox in a new dir with n accepted webhooks (one job each) and closes it cleanly.
func filled(t *testing.T, n int) string {
	t.Helper()
	dir := t.TempDir()
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for w := range 16 { // concurrent accepts share commits, as webhooks do
		wg.Go(func() {
			for i := w; i < n; i += 16 {
				j := job(fmt.Sprintf(`{"type":"event","evtName":"rc_renewal_event","identity":"user-%d","evtData":{"n":%d}}`,
					i, i))
				j.EventID = fmt.Sprintf("e%d", i)
				if _, err := s.Accept("revenuecat", j.EventID, []Job{j}); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return dir
}

func refused(t *testing.T, dir string, says ...string) {
	t.Helper()
	s, err := Open(dir, Options{})
	var damaged *DamagedError
	if !errors.As(err, &damaged) {
		if s != nil {
			s.Close()
		}
		t.Fatalf("expected the outbox refused as damaged, got %v", err)
	}
	for _, w := range append(says, "the way out", "relay outbox salvage") {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("expected the refusal to say %q, got:\n%v", w, err)
		}
	}
}

func TestAnEmptiedOrRemovedOutboxIsRefused(t *testing.T) {
	dir := filled(t, 300)
	path := filepath.Join(dir, FileName)
	if err := os.Truncate(path, 0); err != nil {
		t.Fatal(err)
	}
	refused(t, dir, "empty", "held 300 pending jobs", path)
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	refused(t, dir, "missing", "held 300 pending jobs")

	var asides []string
	s, err := Open(dir, Options{StartEmpty: true, SetAside: func(_, aside, _ string) { asides = append(asides, aside) }})
	if err != nil {
		t.Fatalf("with StartEmpty: %v", err)
	}
	defer s.Close()
	if s.PendingCount() != 0 || len(asides) != 0 {
		t.Fatalf("expected a new empty outbox (nothing to set aside for a missing file), got %d pending, %v",
			s.PendingCount(), asides)
	}
}

// Damage of every kind the attack found (cut in half, zeroed pages, garbled page headers, an edited job) is
// refused with what is wrong, never a panic or a fault; StartEmpty sets the file aside.
func TestADamagedOutboxIsRefusedNotCrashedOn(t *testing.T) {
	for _, c := range []struct {
		name   string
		damage func(b []byte) []byte
		says   string
	}{
		{"cut in half", func(b []byte) []byte { return b[:len(b)/2] }, "cut short"},
		{"zeroed data pages", func(b []byte) []byte {
			leaves, _ := reachable(t, b)
			for _, p := range leaves[len(leaves)/2:] {
				clear(b[p*4096 : (p+1)*4096])
			}
			return b
		}, "page"},
		{"garbled page headers", func(b []byte) []byte {
			for p := 2; p*4096 < len(b); p++ {
				copy(b[p*4096:], []byte{0xde, 0xad, 0xbe, 0xef, 0xde, 0xad, 0xbe, 0xef, 0x7f, 0x7f, 0xff, 0xff})
			}
			return b
		}, "page"},
		{"an edited job", func(b []byte) []byte { // as with sed 's/"evtName":/"evtName"!/'
			_, values := reachable(t, b)
			at := values[0] + bytes.Index(b[values[0]:], []byte(`"evtName":`))
			b[at+len(`"evtName"`)] = '!'
			return b
		}, "job"},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := filled(t, 2000)
			path := filepath.Join(dir, FileName)
			raw, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, c.damage(raw), 0o600); err != nil {
				t.Fatal(err)
			}
			refused(t, dir, c.says)
			var aside string
			s, err := Open(dir, Options{StartEmpty: true, SetAside: func(_, a, _ string) { aside = a }})
			if err != nil {
				t.Fatal(err)
			}
			s.Close()
			if _, err := os.Stat(aside); err != nil {
				t.Fatalf("expected the damaged file kept aside, got %q: %v", aside, err)
			}
		})
	}
}

// Salvage copies every readable job (with its id), dead letter and remembered event id into a new outbox.
func TestSalvageKeepsWhatIsReadable(t *testing.T) {
	dir := filled(t, 2000)
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	pending, _ := s.Pending()
	if err := s.Kill([]DeadLetter{{Job: pending[0], Status: 401, Reason: "Account ID is not valid"}}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	path := filepath.Join(dir, FileName)
	raw, _ := os.ReadFile(path)
	// an edited job and a zeroed leaf page of the jobs (pages the tree reaches: free pages hold old copies)
	leaves, values := reachable(t, raw)
	at := values[len(values)/2] + bytes.Index(raw[values[len(values)/2]:], []byte(`"identity":`))
	raw[at+len(`"identity"`)] = '!'
	page := leaves[len(leaves)-1]
	clear(raw[page*4096 : (page+1)*4096])
	if err := os.WriteFile(path, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	to := t.TempDir()
	// what a salvage cut short leaves (its staging directory, never an outbox in place) is started over
	leftover := filepath.Join(to, salvageStaging)
	if err := os.MkdirAll(leftover, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(leftover, FileName), []byte("half a salvage"), 0o600); err != nil {
		t.Fatal(err)
	}
	defer func(n int) { salvageChunk = n }(salvageChunk)
	salvageChunk = 300 // several transactions of each kind
	rep, err := Salvage(path, to)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(leftover); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("expected the staging directory gone after the salvage, got %v", err)
	}
	if _, err := Salvage(path, to); err == nil || !strings.Contains(err.Error(), "already holds an outbox") {
		t.Fatalf("expected a second salvage into the same directory refused, got %v", err)
	}
	if rep.OK() || rep.Pending < 1500 || rep.Pending >= 1999 || rep.Dead != 1 {
		t.Fatalf("expected damage reported and most of the 1999 jobs and the dead letter salvaged, got %v", rep)
	}
	n, err := Open(to, Options{})
	if err != nil {
		t.Fatalf("the salvaged outbox: %v", err)
	}
	defer n.Close()
	got, err := n.Pending()
	if err != nil || len(got) != rep.Pending || n.PendingCount() != rep.Pending {
		t.Fatalf("expected the %d salvaged jobs, got %d (%d counted): %v", rep.Pending, len(got), n.PendingCount(), err)
	}
	if dead, _ := n.DeadLetters(); len(dead) != 1 || dead[0].ID != pending[0].ID {
		t.Fatalf("expected the dead letter with its id, got %+v", dead)
	}
	for i := 0; i < len(got); i += 40 { // a sample: each check is a durable commit
		j := got[i]
		if dup, err := n.Accept("revenuecat", j.EventID, nil); err != nil || !dup {
			t.Fatalf("expected the event ids remembered (%s), got dup=%v %v", j.EventID, dup, err)
		}
	}
	fresh := []Job{job(`{"type":"event"}`)}
	if _, err := n.Accept("revenuecat", "after-salvage", fresh); err != nil || fresh[0].ID <= got[len(got)-1].ID {
		t.Fatalf("expected new ids past the salvaged ones, got %d: %v", fresh[0].ID, err)
	}
}

// An outbox an older relay wrote (no destination index, no marker) is checked, indexed and used.
func TestAnOlderOutboxIsIndexed(t *testing.T) {
	dir := t.TempDir()
	db, err := bolt.Open(filepath.Join(dir, FileName), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	j := Job{Source: "revenuecat", EventID: "old", Message: relay.Message{Destination: "revenuecat/clevertap",
		Kind: relay.KindUpload, Payload: []byte(`{"type":"event"}`)}}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{jobsBucket, seenBucket, seenByTimeBucket, deadBucket, sendingBucket} {
			if _, err := tx.CreateBucket(b); err != nil {
				return err
			}
		}
		return tx.Bucket(jobsBucket).Put(itob(7), encodeJob(&j))
	})
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	jobs, more, err := s.Next("revenuecat/clevertap", func(uint64) bool { return false }, 10)
	if err != nil || more || len(jobs) != 1 || jobs[0].ID != 7 || s.PendingCount() != 1 {
		t.Fatalf("expected job 7 in its destination's queue, got %+v more=%v %v", jobs, more, err)
	}
}

// Whatever bytes the file holds, Open refuses or opens; it never panics or faults.
func TestOpenNeverCrashesOnGarbage(t *testing.T) {
	dir := filled(t, 500)
	path := filepath.Join(dir, FileName)
	orig, _ := os.ReadFile(path)
	r := rand.New(rand.NewPCG(1, 2))
	for trial := range 200 {
		b := bytes.Clone(orig)
		for range 1 + r.IntN(8) {
			b[r.IntN(len(b))] = byte(r.IntN(256))
		}
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		s, err := Open(dir, Options{})
		if err == nil {
			if _, err := s.Pending(); err != nil {
				t.Fatalf("trial %d: opened, then Pending failed: %v", trial, err)
			}
			s.Close()
		}
		_ = os.WriteFile(path, orig, 0o600)
		_ = os.Remove(filepath.Join(dir, MarkerName))
	}
}

func FuzzCheck(f *testing.F) {
	dir := filled(&testing.T{}, 50)
	seed, _ := os.ReadFile(filepath.Join(dir, FileName))
	f.Add(seed)
	f.Fuzz(func(t *testing.T, b []byte) {
		path := filepath.Join(t.TempDir(), FileName)
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		_, _ = Check(path)
	})
}

// reachable finds the jobs bucket's leaf pages and where each job's value starts in the file.
func reachable(t *testing.T, raw []byte) (leaves []uint64, values []int) {
	t.Helper()
	f, err := readRaw(raw)
	if err != nil {
		t.Fatal(err)
	}
	w := &walker{f: f, visited: map[uint64]bool{}}
	root, inline, found := w.bucket(w.pageEntries(f.meta.root), string(jobsBucket))
	if !found || root == 0 || inline != nil {
		t.Fatal("expected the jobs bucket on pages of its own")
	}
	w.visited = map[uint64]bool{}
	w.each(root, nil, func(e entry) { values = append(values, cap(raw)-cap(e.value)) })
	for id := range w.visited {
		if p, _ := f.page(id); binary.LittleEndian.Uint16(p[8:]) == leafPage {
			leaves = append(leaves, id)
		}
	}
	slices.Sort(leaves)
	return leaves, values
}

// An outbox read to be moved into a shared one gives its jobs oldest first with what each holds, the uploads in
// doubt, the dead letters and the event ids with when they were seen; once marked as moved no relay starts on it
// and it is not moved again.
func TestAnOutboxIsReadToMoveOnce(t *testing.T) {
	dir := t.TempDir()
	at := time.Date(2026, 12, 1, 9, 30, 0, 0, time.UTC)
	s, err := Open(dir, Options{Now: func() time.Time { return at }})
	if err != nil {
		t.Fatal(err)
	}
	for i, id := range []string{"e-1", "e-2", "e-3", "e-4"} {
		j := job(fmt.Sprintf(`{"identity":"user-%d"}`, i+1))
		j.EventID = id
		if _, err := s.Accept("revenuecat", id, []Job{j}); err != nil {
			t.Fatal(err)
		}
	}
	pending, _ := s.Pending()
	if err := s.Kill([]DeadLetter{{Job: pending[0], Status: 401, Reason: "Account ID is not valid"}}); err != nil {
		t.Fatal(err)
	}
	if err := s.MarkSending([]uint64{pending[1].ID}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := ReadToMove(dir); err == nil || !strings.Contains(err.Error(), "in use by another relay process") {
		t.Fatalf("expected an outbox a relay has open refused, got %v", err)
	}
	s.Close()

	mv, rep, err := ReadToMove(dir)
	if err != nil || !rep.OK() {
		t.Fatalf("expected the outbox read whole, got %v %v", rep, err)
	}
	jobs, dead, seen := readMoving(t, mv, 2) // chunks of 2: the last one short
	var got []string
	for _, j := range jobs {
		got = append(got, fmt.Sprintf("%d %s %s %s", j.ID, j.EventID, j.Destination, j.Payload))
	}
	want := []string{`2 e-2 d {"identity":"user-2"}`, `3 e-3 d {"identity":"user-3"}`, `4 e-4 d {"identity":"user-4"}`}
	if !slices.Equal(got, want) {
		t.Fatalf("expected the jobs oldest first\n%q, got\n%q", want, got)
	}
	if len(mv.InDoubt) != 1 || !mv.InDoubt[2] {
		t.Fatalf("expected job 2 in doubt, got %v", mv.InDoubt)
	}
	if len(dead) != 1 || dead[0].ID != 1 || dead[0].EventID != "e-1" || dead[0].Status != 401 {
		t.Fatalf("expected the dead letter of job 1, got %+v", dead)
	}
	want = []string{"revenuecat e-1 2026-12-01T09:30:00Z", "revenuecat e-2 2026-12-01T09:30:00Z",
		"revenuecat e-3 2026-12-01T09:30:00Z", "revenuecat e-4 2026-12-01T09:30:00Z"}
	got = nil
	for _, e := range seen {
		got = append(got, e.Source+" "+e.EventID+" "+e.At.Format(time.RFC3339))
	}
	if !slices.Equal(got, want) {
		t.Fatalf("expected the event ids with when they were seen\n%q, got\n%q", want, got)
	}
	if !strings.HasPrefix(mv.Outbox, filepath.Join(dir, FileName)+" (made ") {
		t.Fatalf("expected the outbox named by its file and when it was made, got %q", mv.Outbox)
	}

	if err := mv.Close(); err != nil {
		t.Fatal(err)
	}
	if err := MarkMoved(dir, "postgres 127.0.0.1:5432/relay", at); err != nil {
		t.Fatal(err)
	}
	says := "was moved into postgres 127.0.0.1:5432/relay at 2026-12-01T09:30:00Z"
	if _, err := Open(dir, Options{}); err == nil || !strings.Contains(err.Error(), says) ||
		!strings.Contains(err.Error(), "would send them a second time") {
		t.Fatalf("expected a relay refused on a moved outbox, got %v", err)
	}
	if _, _, err := ReadToMove(dir); err == nil || !strings.Contains(err.Error(), says) {
		t.Fatalf("expected a moved outbox not moved again, got %v", err)
	}
	if _, err := Salvage(filepath.Join(dir, FileName), t.TempDir()); err == nil || !strings.Contains(err.Error(), says) {
		t.Fatalf("expected a moved outbox not salvaged into one a relay could start on, got %v", err)
	}
}

// readMoving collects what a Moving holds, n at a time.
func readMoving(t *testing.T, mv *Moving, n int) (jobs []Job, dead []DeadLetter, seen []SeenEvent) {
	t.Helper()
	err := errors.Join(
		mv.Jobs(n, func(c []Job) error { jobs = append(jobs, c...); return nil }),
		mv.Dead(n, func(c []DeadLetter) error { dead = append(dead, c...); return nil }),
		mv.Seen(n, func(c []SeenEvent) error { seen = append(seen, c...); return nil }))
	if err != nil {
		t.Fatal(err)
	}
	return jobs, dead, seen
}

// A damaged outbox is moved for what is readable, with the damage reported.
func TestADamagedOutboxIsMovedForWhatIsReadable(t *testing.T) {
	dir := filled(t, 50)
	path := filepath.Join(dir, FileName)
	raw, _ := os.ReadFile(path)
	at := bytes.Index(raw, []byte(`"identity":"user-7"`))
	if at < 0 {
		t.Fatal("no job of user-7 in the file")
	}
	raw[at+len(`"identity":"user-`)] = '8' // its seal no longer holds
	if err := os.WriteFile(path, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	mv, rep, err := ReadToMove(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer mv.Close()
	jobs, _, seen := readMoving(t, mv, 16)
	if rep.OK() || len(jobs) != 49 || len(seen) != 50 || !strings.Contains(strings.Join(rep.Damage, "\n"), "seal") {
		t.Fatalf("expected 49 jobs and 50 event ids with the damaged job reported, got %d, %d: %v", len(jobs),
			len(seen), rep)
	}
	for _, j := range jobs {
		if strings.Contains(string(j.Payload), `"identity":"user-8","evtData":{"n":7}`) {
			t.Fatalf("expected the damaged job left out, got %s", j.Payload)
		}
	}
}

// The indexes are matched against what they index both ways: each edit below leaves every page whole, so only the
// matching can tell. (The check looks keys up in the other index instead of holding one in memory.)
func TestIndexesThatDisagreeAreReported(t *testing.T) {
	stamp := func(tx *bolt.Tx, key []byte) []byte { return tx.Bucket(seenBucket).Get(key) }
	for _, c := range []struct {
		name string
		edit func(tx *bolt.Tx) error
		says string
	}{
		{"a job missing from its queue", func(tx *bolt.Tx) error {
			return tx.Bucket(queueBucket).Delete(queueKey("d", 3))
		}, "job 3: missing from its destination's queue"},
		{"a job queued for another destination", func(tx *bolt.Tx) error {
			if err := tx.Bucket(queueBucket).Delete(queueKey("d", 4)); err != nil {
				return err
			}
			return tx.Bucket(queueBucket).Put(queueKey("elsewhere", 4), nil)
		}, "job 4: missing from its destination's queue"},
		{"a queue entry without its job", func(tx *bolt.Tx) error {
			return tx.Bucket(queueBucket).Put(queueKey("d", 99999), nil)
		}, "queue: job 99999 is queued but not stored"},
		{"an event id without its time", func(tx *bolt.Tx) error {
			k := seenKey("revenuecat", "e5")
			return tx.Bucket(seenByTimeBucket).Delete(append(bytes.Clone(stamp(tx, k)), k...))
		}, `seen: event id "revenuecat\x00e5" has no matching entry in seen_by_time`},
		{"a time without its event id", func(tx *bolt.Tx) error {
			return tx.Bucket(seenByTimeBucket).Put(append(itob(7), seenKey("revenuecat", "gone")...), nil)
		}, "seen_by_time: 1 entries have no matching event id in seen"},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := filled(t, 2000) // trees of branch pages, where a lookup descends by the separators
			path := filepath.Join(dir, FileName)
			if rep, err := Check(path); err != nil || !rep.OK() || rep.Pending != 2000 || rep.Seen != 2000 {
				t.Fatalf("expected the outbox whole before the edit, got %v %v", rep, err)
			}
			db, err := bolt.Open(path, 0o600, nil)
			if err != nil {
				t.Fatal(err)
			}
			if err := db.Update(c.edit); err != nil {
				t.Fatal(err)
			}
			db.Close()
			rep, err := Check(path)
			if err != nil || rep.OK() || !slices.ContainsFunc(rep.Damage, func(d string) bool {
				return strings.Contains(d, c.says)
			}) {
				t.Fatalf("expected the check to say %q, got %v %v", c.says, rep, err)
			}
		})
	}
	// an upload in doubt is counted once its job is stored
	dir := filled(t, 5)
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.MarkSending([]uint64{2, 4}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if rep, err := Check(filepath.Join(dir, FileName)); err != nil || !rep.OK() || rep.InDoubt != 2 {
		t.Fatalf("expected 2 uploads in doubt and no damage, got %v %v", rep, err)
	}
}

// A file cut short while it is mapped faults where it is read: the read ends with an error, the process lives on.
// Any other panic is not the mapping's and is not turned into an error.
func TestAFileCutShortWhileMappedIsAnError(t *testing.T) {
	path := filepath.Join(t.TempDir(), FileName)
	if err := os.WriteFile(path, make([]byte, 3*4096), 0o600); err != nil {
		t.Fatal(err)
	}
	data, release, err := mapFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	if err := os.Truncate(path, 0); err != nil {
		t.Fatal(err)
	}
	err = whileMapped(path, func() error {
		if data[2*4096] != 0 {
			return errors.New("expected a fault, read a byte")
		}
		return errors.New("expected a fault, read a zero")
	})
	if err == nil || !strings.Contains(err.Error(), "changed while it was read") {
		t.Fatalf("expected the fault as an error, got %v", err)
	}
	defer func() {
		if p := recover(); p != "not the mapping's" {
			t.Fatalf("expected the other panic to pass through, got %v", p)
		}
	}()
	_ = whileMapped(path, func() error { panic("not the mapping's") })
}
