package load_test

import (
	"context"
	"encoding/json"
	"net/http"
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
		var body struct {
			Event struct {
				ID string `json:"id"`
			} `json:"event"`
		}
		_ = json.NewDecoder(r.Body).Decode(&body)
		mu.Lock()
		calls[body.Event.ID]++
		n := calls[body.Event.ID]
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
