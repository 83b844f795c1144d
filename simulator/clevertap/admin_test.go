package clevertap

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
)

func adminGet(t *testing.T, c *Client, path string) (int, map[string]json.RawMessage) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, c.BaseURL+path, nil)
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]json.RawMessage
	if err := json.Unmarshal(res.Body, &out); err != nil {
		t.Fatalf("%s: not JSON: %s", path, res.Body)
	}
	return res.StatusCode, out
}

// /_sim/events and /_sim/requests answer in pages; next_since leads to the next one, and the client follows.
func TestAdminPages(t *testing.T) {
	_, c := newTestServer(t, Options{})
	var records []string
	for i := 0; i < 25; i++ {
		records = append(records, fmt.Sprintf(`{"type":"event","identity":"p%d","evtName":"e","evtData":{}}`, i))
	}
	uploadRaw(t, c, "eu1", eu1Creds, records...)
	uploadRaw(t, c, "eu1", eu1Creds, records[0])

	status, first := adminGet(t, c, "/_sim/events?name=e&limit=10")
	var events []Event
	_ = json.Unmarshal(first["events"], &events)
	if status != 200 || len(events) != 10 || string(first["next_since"]) != "10" {
		t.Fatalf("first page: expected 10 events and next_since 10, got %d %d %s", status, len(events),
			first["next_since"])
	}
	_, last := adminGet(t, c, "/_sim/events?name=e&limit=10&since=20")
	_ = json.Unmarshal(last["events"], &events)
	if len(events) != 6 || events[0].Seq != 21 || last["next_since"] != nil {
		t.Fatalf("last page: expected seq 21..26 and no next_since, got %d %v", len(events), last["next_since"])
	}
	all, err := c.Events(context.Background(), EventFilter{Name: "e"})
	if err != nil || len(all) != 26 {
		t.Fatalf("the client follows the pages: expected 26 events, got %d %v", len(all), err)
	}
	_, reqs := adminGet(t, c, "/_sim/requests?limit=1")
	if string(reqs["next_since"]) != "1" {
		t.Fatalf("requests: expected next_since 1 after one of two, got %s", reqs["next_since"])
	}
	if journal, err := c.Requests(context.Background(), JournalFilter{}); err != nil || len(journal) != 2 {
		t.Fatalf("the client follows the journal's pages: expected 2 entries, got %d %v", len(journal), err)
	}
}

func TestAdminRefusesUnknownParameters(t *testing.T) {
	_, c := newTestServer(t, Options{})
	for path, want := range map[string]string{
		"/_sim/events?acount=SIM-EU1-0001": `unknown query parameter "acount" (did you mean "account"?); expected ` +
			`account, region, identity, objectId, name, type, since, limit`,
		"/_sim/requests?outcom=rejected": `unknown query parameter "outcom" (did you mean "outcome"?)`,
		"/_sim/profiles?identiy=u":       `unknown query parameter "identiy" (did you mean "identity"?)`,
		"/_sim/events?limit=0":           "limit: expected a number from 1 to 10000",
		"/_sim/events?limit=100000":      "limit: expected a number from 1 to 10000",
	} {
		req, _ := http.NewRequest(http.MethodGet, c.BaseURL+path, nil)
		res, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var answer struct {
			Error string `json:"error"`
		}
		_ = json.Unmarshal(res.Body, &answer)
		if res.StatusCode != 400 || !strings.Contains(answer.Error, want) {
			t.Errorf("%s: expected 400 saying %q, got %d %s", path, want, res.StatusCode, res.Body)
		}
	}
}

// A wait that times out names the record that came closest and how it differs.
func TestWaitNamesTheNearestMiss(t *testing.T) {
	_, c := newTestServer(t, Options{})
	uploadRaw(t, c, "eu1", eu1Creds,
		`{"type":"event","identity":"jane","evtName":"rc_trial_started_event","evtData":{}}`,
		`{"type":"event","identity":"john","evtName":"rc_renewal_event","evtData":{}}`)
	_, err := c.Wait(context.Background(), WaitRequest{Identity: "jane", Name: "rc_renewal_event",
		Account: "SIM-EU1-0001", Count: 1, TimeoutMS: 10})
	if !errors.Is(err, ErrWaitTimeout) || !strings.Contains(err.Error(),
		`nearest miss: seq 1 (name: expected "rc_renewal_event", got "rc_trial_started_event")`) {
		t.Fatalf("expected the nearest miss named, got %v", err)
	}
}
