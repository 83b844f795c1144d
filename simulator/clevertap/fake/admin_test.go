package fake

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/ctharness/ctharness/simulator/clevertap"
)

func adminGet(t *testing.T, c *clevertap.Client, path string) (int, map[string]json.RawMessage) {
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
	var events []clevertap.Event
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
	all, err := c.Events(context.Background(), clevertap.EventFilter{Name: "e"})
	if err != nil || len(all) != 26 {
		t.Fatalf("the client follows the pages: expected 26 events, got %d %v", len(all), err)
	}
	_, reqs := adminGet(t, c, "/_sim/requests?limit=1")
	if string(reqs["next_since"]) != "1" {
		t.Fatalf("requests: expected next_since 1 after one of two, got %s", reqs["next_since"])
	}
	if journal, err := c.Requests(context.Background(), clevertap.JournalFilter{}); err != nil || len(journal) != 2 {
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
	_, err := c.Wait(context.Background(), clevertap.WaitRequest{Identity: "jane", Name: "rc_renewal_event",
		Account: "SIM-EU1-0001", Count: 1, TimeoutMS: 10})
	if !errors.Is(err, clevertap.ErrWaitTimeout) || !strings.Contains(err.Error(),
		`nearest miss: seq 1 (name: expected "rc_renewal_event", got "rc_trial_started_event")`) {
		t.Fatalf("expected the nearest miss named, got %v", err)
	}
}

// The journal as the inspector reads it: newest first with next_before, filtered by region, endpoint and text,
// with the request's headers (credentials redacted) and body; and live, entry by entry.
func TestJournalForTheInspector(t *testing.T) {
	s, c := newTestServer(t, Options{})
	live, cancel, ok := s.Subscribe(10)
	if !ok {
		t.Fatal("expected a stream")
	}
	defer cancel()
	uploadRaw(t, c, "eu1", eu1Creds, `{"type":"event","identity":"needle-user","evtName":"e","evtData":{}}`)
	uploadRaw(t, c, "in1", in1Creds, `{"type":"event","identity":"other","evtName":"e","evtData":{}}`)
	uploadRaw(t, c, "eu1", eu1Creds, `{"type":"event","identity":"other","evtName":"e","evtData":{}}`)
	for _, want := range []uint64{1, 2, 3} {
		if e := <-live; e.Seq != want {
			t.Fatalf("the stream: expected seq %d, got %d", want, e.Seq)
		}
	}
	_, page := adminGet(t, c, "/_sim/requests?order=newest&limit=2")
	var entries []clevertap.JournalEntry
	_ = json.Unmarshal(page["requests"], &entries)
	if len(entries) != 2 || entries[0].Seq != 3 || entries[1].Seq != 2 || string(page["next_before"]) != "2" {
		t.Fatalf("newest first: expected seq 3, 2 and next_before 2, got %+v %s", entries, page["next_before"])
	}
	for path, want := range map[string][]uint64{
		"/_sim/requests?q=needle-user":                                 {1},
		"/_sim/requests?region=in1":                                    {2},
		"/_sim/requests?endpoint=upload&limit=1&order=newest&before=3": {2},
	} {
		_, page := adminGet(t, c, path)
		var got []clevertap.JournalEntry
		_ = json.Unmarshal(page["requests"], &got)
		var seqs []uint64
		for _, e := range got {
			seqs = append(seqs, e.Seq)
		}
		if fmt.Sprint(seqs) != fmt.Sprint(want) {
			t.Errorf("%s: expected %v, got %v", path, want, seqs)
		}
	}
	first := s.Requests(clevertap.JournalFilter{SinceSeq: 0, Limit: 1})[0]
	if first.RequestHeaders["X-Clevertap-Passcode"] != "REDACTED" || !strings.Contains(first.RequestBody,
		"needle-user") {
		t.Fatalf("expected the headers redacted and the body kept, got %v %q", first.RequestHeaders, first.RequestBody)
	}
}

func TestUsersIsEverythingAboutOneUser(t *testing.T) {
	_, c := newTestServer(t, Options{})
	uploadRaw(t, c, "eu1", eu1Creds,
		`{"type":"event","identity":"jane","ts":1700000200,"evtName":"second","evtData":{}}`,
		`{"type":"event","identity":"jane","ts":1700000100,"evtName":"first","evtData":{}}`,
		`{"type":"profile","identity":"jane","profileData":{"Email":"jane@example.com"}}`)
	status, out := adminGet(t, c, "/_sim/users?identity=jane")
	var events []struct {
		Record struct {
			EvtName string `json:"evtName"`
		} `json:"record"`
	}
	_ = json.Unmarshal(out["events"], &events)
	if status != 200 || len(events) != 3 || events[0].Record.EvtName != "first" || events[1].Record.EvtName != "second" {
		t.Fatalf("expected the events by their time, got %d %s", status, out["events"])
	}
	if !strings.Contains(string(out["profiles"]), `"email":"jane@example.com"`) {
		t.Fatalf("expected the profile as CleverTap renders it, got %s", out["profiles"])
	}
	if status, _ := adminGet(t, c, "/_sim/users"); status != 400 {
		t.Fatalf("no user: expected 400, got %d", status)
	}
}

// What a proxy or a gateway adds (Proxy-Authorization, X-Api-Key, a cookie) is a credential too: the journal
// keeps that the header came, never its value.
func TestTheJournalKeepsNoCredentialOfAnyKind(t *testing.T) {
	s, c := newTestServer(t, Options{})
	req := mustRequest(http.MethodPost, c.BaseURL+"/eu1/1/upload?api_key=K-3&token=T-3",
		`{"d":[{"type":"event","identity":"u","ts":1700000000,"evtName":"e","evtData":{}}]}`)
	for k, v := range map[string]string{"X-CleverTap-Account-Id": "SIM-EU1-0001", "X-CleverTap-Passcode": "sim-eu1-pass",
		"Content-Type": "application/json", "Proxy-Authorization": "Basic P-3", "X-Api-Key": "A-3",
		"Cookie": "session=C-3", "Authorization": "Bearer B-3", "X-Custom-Auth-Token": "X-3"} {
		req.Header.Set(k, v)
	}
	if _, err := c.Do(req); err != nil {
		t.Fatal(err)
	}
	e := s.Requests(clevertap.JournalFilter{})[0]
	raw, _ := json.Marshal(e)
	for _, secret := range []string{"sim-eu1-pass", "P-3", "A-3", "C-3", "B-3", "X-3", "K-3", "T-3"} {
		if strings.Contains(string(raw), secret) {
			t.Errorf("the journal entry shows %s: %s", secret, raw)
		}
	}
	if e.RequestHeaders["Proxy-Authorization"] != "REDACTED" || e.RequestHeaders["X-Clevertap-Account-Id"] !=
		"SIM-EU1-0001" {
		t.Errorf("expected the credential headers marked and the account kept, got %v", e.RequestHeaders)
	}
}

// What arrives can be huge; what the fake echoes of it is not: a 256 KiB property key gives a diagnosis header of
// a few KiB and a journal entry of tens of KiB, and the journal holds its byte budget whatever comes.
func TestEchoesAreBoundedAndTheJournalHoldsItsBudget(t *testing.T) {
	s, c := newTestServer(t, Options{JournalBytes: 256 << 10})
	key := strings.Repeat("k", 256<<10)
	body := `{"d":[{"type":"event","identity":"u","ts":1700000000,"evtName":"e","evtData":{"` + key + `":1}}]}`
	for i := 0; i < 40; i++ {
		req := mustRequest(http.MethodPost, c.BaseURL+"/eu1/1/upload", body)
		req.Header.Set("X-CleverTap-Account-Id", "SIM-EU1-0001")
		req.Header.Set("X-CleverTap-Passcode", "sim-eu1-pass")
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Padding", strings.Repeat("p", 60<<10))
		res, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Diagnosis) == 0 || len(res.Diagnosis) > 4<<10+8 {
			t.Fatalf("expected a diagnosis of at most 4 KiB, got %d bytes", len(res.Diagnosis))
		}
	}
	entries := s.Requests(clevertap.JournalFilter{})
	raw, _ := json.Marshal(entries[len(entries)-1])
	if len(raw) > 48<<10 {
		t.Errorf("expected a journal entry of tens of KiB, got %d bytes", len(raw))
	}
	if b := s.journal.entries.Bytes(); b > 256<<10 || len(entries) == 40 || len(entries) == 0 {
		t.Errorf("expected the journal within its 256 KiB budget by dropping the oldest, got %d bytes in %d entries",
			b, len(entries))
	}
}
