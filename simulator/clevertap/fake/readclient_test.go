package fake

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/ctharness/ctharness/simulator/clevertap"
	"github.com/ctharness/ctharness/simulator/clevertap/fake/store"
)

func TestClientReadCalls(t *testing.T) {
	s, c := newTestServer(t, Options{CursorNotReadyPolls: 2, CountDelay: 20 * time.Millisecond})
	c.PollInterval = time.Millisecond
	renewals(t, c)
	ctx := context.Background()
	q := clevertap.Query{EventName: "Renewal", From: 20251202,
		To: clevertap.Day(time.Date(2025, 12, 2, 23, 0, 0, 0, time.UTC))}

	var seen []int
	err := c.GetEvents(ctx, "eu1", eu1Creds, q, clevertap.PageOptions{BatchSize: 7}, func(r clevertap.EventRecord) error {
		n, _ := store.Number(r.EventProps["n"])
		seen = append(seen, int(n))
		return nil
	})
	want := []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23}
	if err != nil || !reflect.DeepEqual(seen, want) {
		t.Fatalf("GetEvents: expected n=0..23, got %v %v", seen, err)
	}
	pending := 0
	for _, e := range s.Requests(clevertap.JournalFilter{Outcome: clevertap.OutcomePending}) {
		if e.Endpoint == "events" {
			pending++
		}
	}
	if pending != 2 {
		t.Fatalf("expected the client to retry the two not-ready pages, saw %d", pending)
	}

	// the same client code on a base URL that names the region, as it would name a real account's host
	regional := &clevertap.Client{BaseURL: c.BaseURL + "/eu1", HTTP: c.HTTP, PollInterval: time.Millisecond}
	var identities []string
	collect := func(r clevertap.ProfileRecord) error {
		identities = append(identities, r.Identity)
		return nil
	}
	err = regional.GetProfiles(ctx, "", eu1Creds, q, clevertap.PageOptions{BatchSize: 23}, collect)
	if err != nil || !reflect.DeepEqual(identities, []string{"u0", "u1", "u2", "u3", "u4"}) {
		t.Fatalf("GetProfiles: expected u0..u4, got %v %v", identities, err)
	}

	if n, err := c.CountEvents(ctx, "eu1", eu1Creds, q); err != nil || n != 24 {
		t.Fatalf("CountEvents: expected 24, got %d %v", n, err)
	}
	if n, err := c.CountProfiles(ctx, "eu1", eu1Creds, q); err != nil || n != 5 {
		t.Fatalf("CountProfiles: expected 5, got %d %v", n, err)
	}
	trends, err := c.Trends(ctx, "eu1", eu1Creds, q, map[string]string{"day": "daily"}, false)
	if err != nil || !reflect.DeepEqual(trends, map[string]map[string]float64{"day": {"20251202": 24}}) {
		t.Fatalf("Trends: expected 24 on 20251202, got %v %v", trends, err)
	}
	top, err := c.TopCounts(ctx, "eu1", eu1Creds, q, map[string]clevertap.TopGroup{
		"n": {PropertyType: "event_properties", Name: "n"}})
	if err != nil || !reflect.DeepEqual(top, map[string]map[string]map[string]float64{
		"n": {"NUMBER": {"0-10": 10, "10-20": 10, "20-30": 4}}}) {
		t.Fatalf("TopCounts: expected n in 0-10, 10-20, 20-30, got %v %v", top, err)
	}
	if p, err := c.Profile(ctx, "eu1", eu1Creds, "identity", "u3"); err != nil || p.Events["Renewal"].Count != 5 {
		t.Fatalf("Profile: expected u3 with 5 renewals, got %+v %v", p, err)
	}

	if n, err := c.RealTimeCount(ctx, "eu1", eu1Creds); err != nil || n != 6 {
		t.Fatalf("RealTimeCount: expected u0..u4 and u9 active, got %d %v", n, err)
	}

	var apiErr *clevertap.APIError
	err = c.GetEvents(ctx, "eu1", eu1Creds, clevertap.Query{EventName: "Renewals", From: 20251202, To: 20251202},
		clevertap.PageOptions{}, func(clevertap.EventRecord) error { return nil })
	if !errors.As(err, &apiErr) || apiErr.Code != 400 || apiErr.Message != `["Invalid event : Renewals"]` ||
		apiErr.HTTPStatus != 200 {
		t.Fatalf("an unknown event: expected CleverTap's failure as an *APIError, got %v", err)
	}
}
