// Package outboxtest is the outbox's conformance suite: everything the relay relies on from its durable queue
// that is not about how one driver keeps it (outbox.Outbox). Each driver runs it with a way to open an empty
// outbox and to reopen it after a clean close.
package outboxtest

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/ctharness/ctharness/relay"
	"github.com/ctharness/ctharness/relay/outbox"
)

// Driver opens a new, empty outbox; reopen opens the same one again after Close (a restart).
type Driver func(t *testing.T) (o outbox.Outbox, reopen func() outbox.Outbox)

// Run runs every conformance test against the driver.
func Run(t *testing.T, open Driver) {
	for _, c := range []struct {
		name string
		test func(*testing.T, Driver)
	}{
		{"an accepted webhook is stored once, a redelivery is a duplicate", acceptOnce},
		{"each destination's jobs come oldest first, a window at a time", windows},
		{"done, updated and killed jobs leave the queue as asked", settle},
		{"a dead letter comes back with its attempts reset", revive},
		{"marks of uploads in flight survive a restart", inDoubt},
		{"event ids are forgotten after the window, not before", prune},
		{"concurrent redeliveries store one copy", concurrent},
		{"what was accepted survives a restart", restart},
	} {
		t.Run(c.name, func(t *testing.T) { c.test(t, open) })
	}
}

// Job is a job for a destination with a payload that names it.
func Job(destination, payload string) outbox.Job {
	return outbox.Job{Source: "revenuecat", EventType: "RENEWAL", Message: relay.Message{Destination: destination,
		Kind: relay.KindUpload, Payload: []byte(payload)}}
}

func accept(t *testing.T, o outbox.Outbox, eventID string, jobs ...outbox.Job) []outbox.Job {
	t.Helper()
	for i := range jobs {
		jobs[i].EventID = eventID
	}
	dup, err := o.Accept("revenuecat", eventID, jobs)
	if err != nil || dup {
		t.Fatalf("accept %s: expected stored, got duplicate=%v %v", eventID, dup, err)
	}
	return jobs
}

func next(t *testing.T, o outbox.Outbox, destination string, limit int) ([]outbox.Job, bool) {
	t.Helper()
	jobs, more, err := o.Next(destination, func(uint64) bool { return false }, limit)
	if err != nil {
		t.Fatalf("next %s: %v", destination, err)
	}
	return jobs, more
}

func payloads(jobs []outbox.Job) []string {
	out := make([]string, len(jobs))
	for i, j := range jobs {
		out[i] = string(j.Payload)
	}
	return out
}

func acceptOnce(t *testing.T, open Driver) {
	o, _ := open(t)
	defer o.Close()
	stored := accept(t, o, "e1", Job("a", `{"n":1}`), Job("b", `{"n":2}`))
	if stored[0].ID == 0 || stored[1].ID <= stored[0].ID {
		t.Fatalf("expected increasing ids, got %d, %d", stored[0].ID, stored[1].ID)
	}
	again := []outbox.Job{Job("a", `{"n":3}`)}
	if dup, err := o.Accept("revenuecat", "e1", again); err != nil || !dup {
		t.Fatalf("expected the redelivery to be a duplicate, got %v %v", dup, err)
	}
	if dup, err := o.Accept("purchasely", "e1", []outbox.Job{Job("a", `{"n":4}`)}); err != nil || dup {
		t.Fatalf("the same event id from another source is another webhook, got duplicate=%v %v", dup, err)
	}
	if n := o.PendingCount(); n != 3 {
		t.Fatalf("expected 3 jobs pending, got %d", n)
	}
	if by := o.PendingByDestination(); by["a"] != 2 || by["b"] != 1 {
		t.Fatalf("expected a: 2, b: 1, got %v", by)
	}
	if n, err := o.PendingFor("revenuecat", []string{"e1", "nope"}); err != nil || n != 2 {
		t.Fatalf("expected 2 jobs pending for revenuecat e1, got %d %v", n, err)
	}
}

func windows(t *testing.T, open Driver) {
	o, _ := open(t)
	defer o.Close()
	for i := range 5 {
		accept(t, o, fmt.Sprintf("w%d", i), Job("a", fmt.Sprintf(`{"n":%d}`, i)))
		accept(t, o, fmt.Sprintf("x%d", i), Job("b", fmt.Sprintf(`{"m":%d}`, i)))
	}
	first, more := next(t, o, "a", 2)
	if got := payloads(first); !slices.Equal(got, []string{`{"n":0}`, `{"n":1}`}) || !more {
		t.Fatalf("expected a's two oldest and more, got %v more=%v", got, more)
	}
	held := map[uint64]bool{first[0].ID: true, first[1].ID: true}
	rest, more, err := o.Next("a", func(id uint64) bool { return held[id] }, 10)
	if got := payloads(rest); err != nil || !slices.Equal(got, []string{`{"n":2}`, `{"n":3}`, `{"n":4}`}) || more {
		t.Fatalf("expected a's other three past the held ones and no more, got %v more=%v %v", got, more, err)
	}
	if jobs, _ := next(t, o, "nowhere", 10); len(jobs) != 0 {
		t.Fatalf("expected nothing for an unknown destination, got %d", len(jobs))
	}
}

func settle(t *testing.T, open Driver) {
	o, _ := open(t)
	defer o.Close()
	jobs := accept(t, o, "s1", Job("a", `{"n":1}`), Job("a", `{"n":2}`), Job("a", `{"n":3}`))
	if err := o.Done(jobs[:1]); err != nil {
		t.Fatal(err)
	}
	jobs[1].Attempts, jobs[1].LastError = 2, "HTTP 503"
	if err := o.Update(jobs[1:2]); err != nil {
		t.Fatal(err)
	}
	if err := o.Kill([]outbox.DeadLetter{{Job: jobs[2], Status: 200, Code: 528, Reason: "Event discarded"}}); err != nil {
		t.Fatal(err)
	}
	left, _ := next(t, o, "a", 10)
	if len(left) != 1 || left[0].ID != jobs[1].ID || left[0].Attempts != 2 || left[0].LastError != "HTTP 503" {
		t.Fatalf("expected the updated job alone, with its attempts and error, got %+v", left)
	}
	dead, err := o.DeadLetters()
	if err != nil || len(dead) != 1 || dead[0].ID != jobs[2].ID || dead[0].Code != 528 ||
		dead[0].Reason != "Event discarded" || dead[0].DeadAt.IsZero() || string(dead[0].Payload) != `{"n":3}` {
		t.Fatalf("expected the killed job as a dead letter with its code, reason, time and payload, got %+v %v",
			dead, err)
	}
	c, err := o.Counts()
	if err != nil || c.Pending != 1 || c.Dead != 1 || c.Seen != 1 || o.PendingCount() != 1 {
		t.Fatalf("expected 1 pending, 1 dead, 1 seen, got %+v (%d counted) %v", c, o.PendingCount(), err)
	}
}

func revive(t *testing.T, open Driver) {
	o, _ := open(t)
	defer o.Close()
	jobs := accept(t, o, "r1", Job("a", `{"n":1}`))
	jobs[0].Attempts = 15
	if err := o.Kill([]outbox.DeadLetter{{Job: jobs[0], Status: 401, Reason: "Invalid Credentials"}}); err != nil {
		t.Fatal(err)
	}
	back, err := o.Revive(jobs[0].ID)
	if err != nil || back.ID != jobs[0].ID || back.Attempts != 0 || back.LastError != "" {
		t.Fatalf("expected the job back with its id and no attempts, got %+v %v", back, err)
	}
	if got, _ := next(t, o, "a", 10); len(got) != 1 || got[0].ID != jobs[0].ID {
		t.Fatalf("expected the revived job queued again, got %+v", got)
	}
	if dead, _ := o.DeadLetters(); len(dead) != 0 {
		t.Fatalf("expected no dead letter left, got %d", len(dead))
	}
	if _, err := o.Revive(999999); !errors.Is(err, outbox.ErrNotFound) {
		t.Fatalf("expected ErrNotFound for an unknown dead letter, got %v", err)
	}
}

func inDoubt(t *testing.T, open Driver) {
	o, reopen := open(t)
	jobs := accept(t, o, "d1", Job("a", `{"n":1}`), Job("a", `{"n":2}`), Job("a", `{"n":3}`))
	next(t, o, "a", 10) // as delivery does: read the jobs, then mark those it sends
	if err := o.MarkSending([]uint64{jobs[0].ID, jobs[1].ID, jobs[2].ID}); err != nil {
		t.Fatal(err)
	}
	if err := o.Done(jobs[2:]); err != nil { // its answer came: the mark goes with the job
		t.Fatal(err)
	}
	if err := o.Close(); err != nil {
		t.Fatal(err)
	}
	o = reopen()
	defer o.Close()
	doubt, err := o.InDoubt()
	if err != nil || len(doubt) != 2 || doubt[0].ID != jobs[0].ID || doubt[1].ID != jobs[1].ID {
		t.Fatalf("expected the two jobs still marked in doubt after a restart, got %+v %v", doubt, err)
	}
	if err := o.ClearSending([]uint64{jobs[0].ID}); err != nil {
		t.Fatal(err)
	}
	jobs[1].Attempts = 1
	if err := o.Update(jobs[1:2]); err != nil { // a failed try clears the mark too
		t.Fatal(err)
	}
	if doubt, _ := o.InDoubt(); len(doubt) != 0 {
		t.Fatalf("expected no job in doubt once cleared, got %+v", doubt)
	}
}

func prune(t *testing.T, open Driver) {
	o, _ := open(t)
	defer o.Close()
	accept(t, o, "old", Job("a", `{}`))
	cutoff := time.Now().Add(time.Second)
	n, err := o.Prune(cutoff)
	if err != nil || n != 1 {
		t.Fatalf("expected the one event id forgotten, got %d %v", n, err)
	}
	if dup, err := o.Accept("revenuecat", "old", []outbox.Job{Job("a", `{}`)}); err != nil || dup {
		t.Fatalf("expected a forgotten event id stored again, got duplicate=%v %v", dup, err)
	}
	if n, err := o.Prune(time.Now().Add(-time.Hour)); err != nil || n != 0 {
		t.Fatalf("expected nothing forgotten before its time, got %d %v", n, err)
	}
}

func concurrent(t *testing.T, open Driver) {
	o, _ := open(t)
	defer o.Close()
	var wg sync.WaitGroup
	var mu sync.Mutex
	stored := map[string]int{}
	for w := range 16 {
		wg.Go(func() {
			for i := range 20 { // every event id sent by 4 workers at once, as a vendor's retries can
				id := fmt.Sprintf("c%d", (i*4+w/4)%80)
				dup, err := o.Accept("revenuecat", id, []outbox.Job{Job("a", `{"id":"`+id+`"}`)})
				if err != nil {
					t.Errorf("accept %s: %v", id, err)
					return
				}
				if !dup {
					mu.Lock()
					stored[id]++
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	for id, n := range stored {
		if n != 1 {
			t.Errorf("event id %s stored %d times", id, n)
		}
	}
	if len(stored) != 80 || o.PendingCount() != 80 {
		t.Fatalf("expected 80 webhooks stored once each, got %d ids and %d pending", len(stored), o.PendingCount())
	}
}

func restart(t *testing.T, open Driver) {
	o, reopen := open(t)
	jobs := accept(t, o, "p1", Job("a", `{"n":1}`), Job("b", `{"n":2}`))
	if err := o.Kill([]outbox.DeadLetter{{Job: jobs[1], Reason: "refused"}}); err != nil {
		t.Fatal(err)
	}
	if err := o.Close(); err != nil {
		t.Fatal(err)
	}
	o = reopen()
	defer o.Close()
	if got, _ := next(t, o, "a", 10); len(got) != 1 || string(got[0].Payload) != `{"n":1}` || o.PendingCount() != 1 {
		t.Fatalf("expected the pending job and its count after a restart, got %+v (%d)", got, o.PendingCount())
	}
	if dead, _ := o.DeadLetters(); len(dead) != 1 {
		t.Fatalf("expected the dead letter after a restart, got %d", len(dead))
	}
	if dup, _ := o.Accept("revenuecat", "p1", []outbox.Job{Job("a", `{}`)}); !dup {
		t.Fatal("expected the event id remembered after a restart")
	}
	fresh := accept(t, o, "p2", Job("a", `{}`))
	if fresh[0].ID <= jobs[1].ID {
		t.Fatalf("expected new ids past the old ones after a restart, got %d after %d", fresh[0].ID, jobs[1].ID)
	}
}
