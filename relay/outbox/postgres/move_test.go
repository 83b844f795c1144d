package postgres

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ctharness/ctharness/relay"
	"github.com/ctharness/ctharness/relay/outbox"
)

func webhookJob(eventID, payload string) outbox.Job {
	return outbox.Job{Source: "revenuecat", EventID: eventID, EventType: "RENEWAL", Message: relay.Message{
		Destination: "revenuecat/clevertap", Kind: relay.KindUpload, Payload: []byte(payload)}}
}

// bboltOutbox makes a stopped relay's outbox: webhooks e-1 to e-4, e-1 a dead letter (401), e-2 in an upload when
// the relay stopped.
func bboltOutbox(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	s, err := outbox.Open(dir, outbox.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 4; i++ {
		id := fmt.Sprintf("e-%d", i)
		if _, err := s.Accept("revenuecat", id, []outbox.Job{webhookJob(id, fmt.Sprintf(`{"n":%d}`, i))}); err != nil {
			t.Fatal(err)
		}
	}
	pending, _ := s.Pending()
	if err := s.Kill([]outbox.DeadLetter{{Job: pending[0], Status: 401, Reason: "Account ID is not valid"}}); err != nil {
		t.Fatal(err)
	}
	if err := s.MarkSending([]uint64{pending[1].ID}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return dir
}

// A bbolt outbox moved into a Postgres one keeps its queue's order after what was there, its upload in doubt
// (settled before anything after it), its dead letters and its event ids; a webhook both had accepted is not
// moved twice; the same outbox is moved once.
func TestABboltOutboxMovesIntoPostgresOnce(t *testing.T) {
	dsn := database(t)
	s := open(t, dsn)
	defer s.Close()
	// the Postgres relays took two webhooks before the move, one of them a redelivery of e-3
	for _, id := range []string{"e-0", "e-3"} {
		if _, err := s.Accept("revenuecat", id, []outbox.Job{webhookJob(id, `{"postgres":true}`)}); err != nil {
			t.Fatal(err)
		}
	}
	dir := bboltOutbox(t)
	// a copy taken before the move (a backup): it is another file, so only the event ids can tell it was moved
	backup := t.TempDir()
	for _, name := range []string{outbox.FileName, outbox.MarkerName} {
		raw, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(backup, name), raw, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	from, rep, err := outbox.ReadToMove(dir)
	if err != nil || !rep.OK() {
		t.Fatalf("reading the bbolt outbox: %v %v", rep, err)
	}
	defer from.Close()
	moved, err := s.Move(context.Background(), from)
	if err != nil {
		t.Fatal(err)
	}
	if want := (Moved{Jobs: 2, InDoubt: 1, Dead: 1, Seen: 4, Waiting: 2, Duplicates: 1}); moved != want {
		t.Fatalf("expected %+v, got %+v", want, moved)
	}

	pending, err := s.Pending()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, j := range pending {
		got = append(got, j.EventID+" "+string(j.Payload))
	}
	want := []string{`e-0 {"postgres":true}`, `e-3 {"postgres":true}`, `e-2 {"n":2}`, `e-4 {"n":4}`}
	if !slices.Equal(got, want) {
		t.Fatalf("expected the moved jobs after those waiting, in their order\n%q, got\n%q", want, got)
	}
	// e-2 was out when the bbolt relay stopped: its destination waits until it is settled by after_crash
	if _, _, err := s.Next("revenuecat/clevertap", func(uint64) bool { return false }, 10); !errors.Is(err,
		outbox.ErrInDoubt) {
		t.Fatalf("expected the destination held for its upload in doubt, got %v", err)
	}
	doubt, err := s.InDoubt()
	if err != nil || len(doubt) != 1 || doubt[0].EventID != "e-2" {
		t.Fatalf("expected e-2 in doubt, got %+v %v", doubt, err)
	}
	dead, err := s.DeadLetters()
	if err != nil || len(dead) != 1 || dead[0].EventID != "e-1" || dead[0].Status != 401 ||
		dead[0].Reason != "Account ID is not valid" {
		t.Fatalf("expected e-1's dead letter, got %+v %v", dead, err)
	}
	if revived, err := s.Revive(dead[0].ID); err != nil || revived.EventID != "e-1" ||
		string(revived.Payload) != `{"n":1}` {
		t.Fatalf("expected the moved dead letter revived with its payload, got %+v %v", revived, err)
	}
	for _, id := range []string{"e-1", "e-2", "e-4"} {
		if dup, err := s.Accept("revenuecat", id, []outbox.Job{webhookJob(id, `{}`)}); err != nil || !dup {
			t.Fatalf("expected a redelivery of %s a duplicate after the move, got %v %v", id, dup, err)
		}
	}

	var recorded Moved
	if err := s.pool.QueryRow(context.Background(), "SELECT jobs, dead, seen FROM relay_moves WHERE outbox = $1",
		from.Outbox).Scan(&recorded.Jobs, &recorded.Dead, &recorded.Seen); err != nil ||
		recorded != (Moved{Jobs: 2, Dead: 1, Seen: 4}) {
		t.Fatalf("expected the move recorded with what it moved, got %+v %v", recorded, err)
	}
	if _, err := s.Move(context.Background(), from); err == nil ||
		!strings.Contains(err.Error(), "was already moved into "+s.Where()) {
		t.Fatalf("expected a second move refused, got %v", err)
	}
	if again, err := s.Pending(); err != nil || len(again) != 5 { // the four and e-1, revived
		t.Fatalf("expected nothing queued by the refused move, got %d jobs: %v", len(again), err)
	}
	fromBackup, _, err := outbox.ReadToMove(backup)
	if err != nil {
		t.Fatal(err)
	}
	defer fromBackup.Close()
	if moved, err := s.Move(context.Background(), fromBackup); err != nil || moved.Jobs != 0 || moved.Duplicates != 3 ||
		moved.Dead != 0 {
		t.Fatalf("expected every job and dead letter of the backup left out, got %+v %v", moved, err)
	}
	if again, err := s.Pending(); err != nil || len(again) != 5 {
		t.Fatalf("expected nothing queued from the backup, got %d jobs: %v", len(again), err)
	}
}
