package load_test

import (
	"context"
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ctharness/ctharness/harness"
	"github.com/ctharness/ctharness/simulator/load"
)

// events lists what the fake stored for account SIM-EU1-0001.
func events(t *testing.T, simulatorURL string) []map[string]any {
	t.Helper()
	resp, err := http.Get(simulatorURL + "/_sim/events?account=SIM-EU1-0001")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		Events []struct {
			Record map[string]any `json:"record"`
		} `json:"events"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	recs := make([]map[string]any, len(out.Events))
	for i, e := range out.Events {
		recs[i] = e.Record
	}
	return recs
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Every source's load reaches the fake through the relay: one record per webhook, each user as expected.
func TestLoadThroughTheRelay(t *testing.T) {
	st, err := harness.StartInProcess(context.Background(), harness.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for _, source := range []string{"revenuecat", "purchasely", "appsflyer"} {
		t.Run(source, func(t *testing.T) {
			if _, err := http.Post(st.SimulatorURL+"/_sim/reset", "application/json", nil); err != nil {
				t.Fatal(err)
			}
			var mu sync.Mutex
			acked := map[string]bool{}
			rep, err := load.Run(context.Background(), load.Options{Source: source, Target: st.RelayURL + "/webhooks/" + source,
				Credential: harness.DefaultCredential(source),
				Count:      150, Users: 0, Concurrency: 8, Duration: 30 * time.Second,
				OnResult: func(r load.Result) {
					mu.Lock()
					defer mu.Unlock()
					if r.Acked {
						acked[r.User] = true
					}
				}})
			if err != nil {
				t.Fatal(err)
			}
			if rep.Sent != 150 || rep.Acked != 150 || rep.Refused != 0 || rep.Statuses["200"] != 150 {
				t.Fatalf("expected 150 webhooks sent and acknowledged with 200, got %+v", rep)
			}
			if len(acked) != 150 {
				t.Fatalf("expected 150 distinct users acknowledged, got %d", len(acked))
			}
			var recs []map[string]any
			waitFor(t, "150 records at the fake", func() bool { recs = events(t, st.SimulatorURL); return len(recs) >= 150 })
			perUser := map[string]int{}
			for _, r := range recs {
				id, _ := r["identity"].(string)
				if id == "" {
					id, _ = r["objectId"].(string)
				}
				perUser[id]++
			}
			for u := range acked {
				if perUser[u] != 1 {
					t.Errorf("user %s: expected exactly 1 record, got %d", u, perUser[u])
				}
			}
			if rep.Latency.P50 <= 0 || rep.Latency.P99 < rep.Latency.P50 || rep.Throughput <= 0 {
				t.Errorf("expected positive latencies in order and a throughput, got %+v", rep)
			}
		})
	}
}

// A fixed rate is kept: 200 webhooks at 1000/s take about 0.2 s, not as fast as possible.
func TestLoadKeepsTheRate(t *testing.T) {
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) })
	start := time.Now()
	rep, err := load.Run(context.Background(), load.Options{Source: "revenuecat", Target: srv + "/hook",
		Rate: 1000, Duration: 200 * time.Millisecond, Concurrency: 16})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Sent != 200 || rep.Acked != 200 {
		t.Fatalf("expected rate × duration = 200 webhooks acknowledged, got %+v", rep)
	}
	if took := time.Since(start); took < 190*time.Millisecond {
		t.Fatalf("expected the schedule to spread 200 webhooks over about 200ms, all were done in %s", took)
	}
}

// Retry: a refused webhook is retried on the vendor's (compressed) schedule until acknowledged.
func TestLoadRetriesAsTheVendor(t *testing.T) {
	var mu sync.Mutex
	calls := map[string]int{}
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		id := revenueCatEventID(r)
		mu.Lock()
		calls[id]++
		n := calls[id]
		mu.Unlock()
		if n < 3 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusOK)
	})
	rep, err := load.Run(context.Background(), load.Options{Source: "revenuecat", Target: srv + "/hook", Count: 10,
		Retry: true, TimeScale: 0.00001, Concurrency: 4})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Acked != 10 || rep.Retried != 10 || rep.Attempts != 30 || rep.Statuses["503"] != 20 {
		t.Fatalf("expected 10 acknowledged on the third attempt (20 × 503), got %+v", rep)
	}
	// without retry, the same server's first answers are final
	calls = map[string]int{}
	rep, err = load.Run(context.Background(), load.Options{Source: "revenuecat", Target: srv + "/hook", Count: 10,
		Concurrency: 4})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Acked != 0 || rep.Refused != 10 || rep.Attempts != 10 {
		t.Fatalf("expected 10 refused after one attempt each, got %+v", rep)
	}
}

func TestLoadRefusesWhatItShouldNotDo(t *testing.T) {
	for _, c := range []struct {
		o    load.Options
		want string
	}{
		{load.Options{Source: "revenuecat", Target: "https://api.revenuecat.com/hook"},
			`expected a loopback host (127.0.0.1, ::1 or localhost), got "api.revenuecat.com"`},
		{load.Options{Source: "revenuecat", Target: "http://10.0.0.1:8080/"}, `got "10.0.0.1"`},
		{load.Options{Source: "stripe", Target: "http://127.0.0.1:8080/"},
			`source: unknown source "stripe": expected one of revenuecat, purchasely, appsflyer`},
		{load.Options{Source: "revenuecat", Target: "http://127.0.0.1:8080/", Duration: time.Hour},
			"duration: expected more than 0 and at most 10m0s, got 1h0m0s"},
		{load.Options{Source: "revenuecat", Target: "http://127.0.0.1:8080/", Count: 20_000_000},
			"count: expected 0 (rate × duration) to 10000000, got 20000000"},
		{load.Options{Source: "revenuecat", Target: "http://127.0.0.1:8080/", EventIDs: "random"},
			`event ids: expected ordered or uuid, got "random"`},
		{load.Options{Source: "appsflyer", Target: "http://127.0.0.1:8080/", EventIDs: load.IDsUUID},
			"event ids: expected ordered for appsflyer (the relay derives its id from appsflyer_id, not a UUID), got uuid"},
		{load.Options{Source: "appsflyer", Target: "http://[::1]:8080/", Events: []string{"install"}}, ""},
	} {
		o := c.o
		err := o.Validate()
		if c.want == "" {
			if err != nil {
				t.Errorf("%+v: expected valid options, got %v", c.o, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: expected an error containing %q, got %v", c.o, c.want, err)
		}
	}
}

func TestLoadNamesAnUnknownEventType(t *testing.T) {
	_, err := load.Run(context.Background(), load.Options{Source: "revenuecat", Target: "http://127.0.0.1:1/",
		Events: []string{"NOPE"}})
	if err == nil || !strings.Contains(err.Error(),
		`unknown RevenueCat event type "NOPE": expected one of TEST, INITIAL_PURCHASE`) {
		t.Fatalf("expected the unknown type named with the valid ones, got %v", err)
	}
}

// With --event-ids uuid each webhook carries an id shaped like RevenueCat's, in no order by sequence, the same
// for the same run id and different for another run.
func TestUUIDEventIDs(t *testing.T) {
	var mu sync.Mutex
	inBody := map[int]string{} // by sequence number, as the load reports it
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		id := revenueCatEventID(r)
		mu.Lock()
		inBody[len(inBody)] = id
		mu.Unlock()
	})
	run := func(runID string) []string {
		ids := make([]string, 200)
		rep, err := load.Run(context.Background(), load.Options{Source: "revenuecat", Target: srv,
			Count: len(ids), Concurrency: 1, Duration: 30 * time.Second, RunID: runID, EventIDs: load.IDsUUID,
			OnResult: func(r load.Result) { ids[r.Seq] = r.EventID }})
		if err != nil || rep.Acked != len(ids) || rep.EventIDs != load.IDsUUID {
			t.Fatalf("expected %d webhooks acknowledged, got %+v, %v", len(ids), rep, err)
		}
		return ids
	}
	ids := run("r1")
	shape := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
	seen, ascending := map[string]bool{}, 0
	for seq, id := range ids {
		if !shape.MatchString(id) || inBody[seq] != id {
			t.Fatalf("webhook %d: expected a UUID's shape, the one its body carries (%q), got %q", seq, inBody[seq], id)
		}
		seen[id] = true
		if seq > 0 && id > ids[seq-1] {
			ascending++
		}
	}
	if len(seen) != len(ids) {
		t.Fatalf("expected %d distinct ids, got %d", len(ids), len(seen))
	}
	// in sequence order, an ordered id would rise 199 times in 199; scattered ones about half as often
	if ascending < 60 || ascending > 140 {
		t.Fatalf("expected the ids in no order, got %d rises in %d", ascending, len(ids)-1)
	}
	again, other := run("r1"), run("r2")
	for seq := range ids {
		if again[seq] != ids[seq] || seen[other[seq]] {
			t.Fatalf("webhook %d: expected the same id for the same run and a new one for another, got %q, %q and %q",
				seq, ids[seq], again[seq], other[seq])
		}
	}
}

// revenueCatEventID is the event id a RevenueCat webhook carries.
func revenueCatEventID(r *http.Request) string {
	var body struct {
		Event struct {
			ID string `json:"id"`
		} `json:"event"`
	}
	_ = json.NewDecoder(r.Body).Decode(&body)
	return body.Event.ID
}
