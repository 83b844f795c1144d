package postgres

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/ctharness/ctharness/relay"
	"github.com/ctharness/ctharness/relay/outbox"
)

func jobFor(dest, payload string) outbox.Job {
	return outbox.Job{Source: "revenuecat", EventType: "RENEWAL", Message: relay.Message{Destination: dest,
		Kind: relay.KindUpload, Payload: []byte(payload)}}
}

// acceptAll sends n webhooks at once from as many goroutines, so that writers store several per statement.
func acceptAll(n int, accept func(i int) error) []error {
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			errs[i] = accept(i)
		}()
	}
	close(start)
	wg.Wait()
	return errs
}

func TestWebhooksStoredTogetherKeepEachOnesJobsInOrder(t *testing.T) {
	s := open(t, database(t))
	defer s.Close()
	const webhooks = 200
	stored := make([][]outbox.Job, webhooks)
	errs := acceptAll(webhooks, func(i int) error {
		jobs := []outbox.Job{jobFor("d", fmt.Sprintf(`{"w":%d,"j":0}`, i)), jobFor("d", fmt.Sprintf(`{"w":%d,"j":1}`, i)),
			jobFor("other", fmt.Sprintf(`{"w":%d,"j":2}`, i))}
		for k := range jobs {
			jobs[k].EventID = fmt.Sprint("ordered-", i) // as the intake gives every job its webhook's
		}
		dup, err := s.Accept("revenuecat", fmt.Sprint("ordered-", i), jobs)
		if dup {
			return fmt.Errorf("webhook %d: a new event id reported as a duplicate", i)
		}
		stored[i] = jobs
		return err
	})
	ids := map[uint64]bool{}
	for i, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
		jobs := stored[i]
		if jobs[0].ID == 0 || jobs[0].ID >= jobs[1].ID || jobs[1].ID >= jobs[2].ID {
			t.Fatalf("webhook %d: expected its three jobs numbered in their order, got %d, %d, %d", i, jobs[0].ID,
				jobs[1].ID, jobs[2].ID)
		}
		for _, j := range jobs {
			ids[j.ID] = true
		}
	}
	pending, err := s.Pending()
	if err != nil {
		t.Fatal(err)
	}
	if len(pending) != 3*webhooks || len(ids) != 3*webhooks {
		t.Fatalf("expected %d jobs with as many ids, got %d pending and %d ids", 3*webhooks, len(pending), len(ids))
	}
	for _, j := range pending {
		var w, k int
		if _, err := fmt.Sscanf(string(j.Payload), `{"w":%d,"j":%d}`, &w, &k); err != nil {
			t.Fatalf("job %d: %v", j.ID, err)
		}
		if stored[w][k].ID != j.ID || j.EventID != fmt.Sprint("ordered-", w) {
			t.Fatalf("job %d holds webhook %d's job %d, which was given id %d", j.ID, w, k, stored[w][k].ID)
		}
	}
}

func TestTheSameEventIDSentAtOnceIsStoredOnce(t *testing.T) {
	s := open(t, database(t))
	defer s.Close()
	var mu sync.Mutex
	firsts := 0
	errs := acceptAll(100, func(i int) error {
		dup, err := s.Accept("revenuecat", "the-same", []outbox.Job{jobFor("d", fmt.Sprintf(`{"n":%d}`, i))})
		if err == nil && !dup {
			mu.Lock()
			firsts++
			mu.Unlock()
		}
		return err
	})
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	pending, err := s.Pending()
	if err != nil {
		t.Fatal(err)
	}
	if firsts != 1 || len(pending) != 1 {
		t.Fatalf("expected one webhook stored and 99 duplicates, got %d stored and %d jobs", firsts, len(pending))
	}
}

// A webhook the database refuses (PostgreSQL's text cannot hold a NUL) fails alone, not the others stored with it.
func TestAWebhookTheDatabaseRefusesFailsAlone(t *testing.T) {
	s := open(t, database(t))
	defer s.Close()
	const webhooks, poisoned = 120, 60
	errs := acceptAll(webhooks, func(i int) error {
		id := fmt.Sprint("e-", i)
		if i == poisoned {
			id = "bad\x00id"
		}
		_, err := s.Accept("revenuecat", id, []outbox.Job{jobFor("d", fmt.Sprintf(`{"n":%d}`, i))})
		return err
	})
	for i, err := range errs {
		if i == poisoned {
			if err == nil || !strings.Contains(err.Error(), "0x00") {
				t.Fatalf("the event id with a NUL: expected PostgreSQL's refusal naming 0x00, got %v", err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("webhook %d failed with the refused one: %v", i, err)
		}
	}
	if pending, err := s.Pending(); err != nil || len(pending) != webhooks-1 {
		t.Fatalf("expected %d jobs stored, got %d (%v)", webhooks-1, len(pending), err)
	}
}

func TestAcceptAfterCloseIsRefused(t *testing.T) {
	s := open(t, database(t))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Accept("revenuecat", "late", nil); err == nil || !strings.Contains(err.Error(), "closed") {
		t.Fatalf("expected the closed outbox to refuse, got %v", err)
	}
}

func TestOnlyARefusedValueIsTriedAgainAlone(t *testing.T) {
	for _, c := range []struct {
		err  error
		want bool
	}{
		{&pgconn.PgError{Code: "22021"}, true}, // a NUL in text
		{&pgconn.PgError{Code: "23505"}, true},
		{&pgconn.PgError{Code: "54000"}, true},
		{&pgconn.PgError{Code: "57014"}, false}, // statement timeout: the others would wait for theirs too
		{&pgconn.PgError{Code: "57P01"}, false},
		{fmt.Errorf("wrapped: %w", &pgconn.PgError{Code: "22P05"}), true},
		{context.DeadlineExceeded, false},
		{nil, false},
	} {
		if got := refusedForItsData(c.err); got != c.want {
			t.Errorf("%v: expected %v, got %v", c.err, c.want, got)
		}
	}
}
