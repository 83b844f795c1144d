package fake

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ctharness/ctharness/simulator/clevertap"
)

// FuzzUpload feeds arbitrary bodies to the upload validator: it must never panic, must answer either a
// request-level error or one outcome per record, and its answer must be valid JSON whose counts add up.
// Its seed corpus (the vendor's upload samples and hand-made edge cases) runs in every `go test`.
func FuzzUpload(f *testing.F) {
	samples, _ := filepath.Glob(filepath.Join("..", "..", "fixtures", "vendor-samples", "revenuecat", "clevertap-uploads",
		"*.json"))
	for _, p := range samples {
		if body, err := os.ReadFile(p); err == nil {
			f.Add(body)
		}
	}
	for _, seed := range []string{
		``, `{}`, `[]`, `null`, `{"d":null}`, `{"d":[]}`, `{"d":[null,1,"x",[],{}]}`,
		`{"d":[{"type":"event","identity":"u","ts":1e20,"evtName":"x","evtData":{}}]}`,
		`{"d":[{"type":"event","identity":"u","ts":-0,"evtName":"x","evtData":{"a":{"b":{"c":[1,{"d":2}]}}}}]}`,
		`{"d":[{"type":"profile","identity":"u","profileData":{"Age":1e400,"Phone":"+","Email":"@."}}]}`,
		`{"d":[{"type":"token","objectId":"","tokenData":{"id":"","type":"chrome","keys":null}}]}`,
		`{"d":[{"type":"event","identity":"\u0000\ud800","evtName":"\u00e9","evtData":{"\u0000":"\ud83d\ude00"}}]}`,
		`{"d":[{"type":"event","type":"profile","identity":"u","evtName":"x"}]}`,
		"{\"d\":[{\"type\":\"event\",\"identity\":\"\xff\xfe\"}]}",
	} {
		f.Add([]byte(seed))
	}
	acct := testAccount()
	f.Fuzz(func(t *testing.T, body []byte) {
		batch, reqErr := validateUpload(body, acct, testLimits)
		if reqErr != nil {
			if reqErr.status != 400 || reqErr.text == "" {
				t.Fatalf("request error must be a 400 with a text, got %+v", reqErr)
			}
			return
		}
		if len(batch.accepted)+len(batch.rejected) != batch.total {
			t.Fatalf("%d records but %d accepted + %d rejected", batch.total, len(batch.accepted), len(batch.rejected))
		}
		resp := appendUploadResponse(nil, batch)
		var decoded clevertap.UploadResponse
		if err := json.Unmarshal(resp, &decoded); err != nil {
			t.Fatalf("answer is not JSON: %v\n%s", err, resp)
		}
		if decoded.Processed != len(batch.accepted) || len(decoded.Unprocessed) != len(batch.rejected) {
			t.Fatalf("answer counts %d/%d differ from the batch %d/%d", decoded.Processed, len(decoded.Unprocessed),
				len(batch.accepted), len(batch.rejected))
		}
		for _, rec := range batch.accepted {
			if !json.Valid(rec.Raw) {
				t.Fatalf("stored record is not valid JSON: %q", rec.Raw)
			}
		}
	})
}

// FuzzReadQuery feeds arbitrary query bodies to the read side (the Get Events and count parsers, then the matching
// over a small store, then rendering): it must never panic; a query it takes has an event, a range that is not
// empty and records that are JSON; one it refuses has CleverTap's 400 and a text.
func FuzzReadQuery(f *testing.F) {
	for _, seed := range []string{
		``, `{}`, `null`, `[]`, `{"event_name":null}`,
		`{"event_name":"Renewal","from":20251202,"to":20251202}`,
		`{"event_name":"choseNewFavoriteFood","event_properties":[{"name":"value","operator":"contains",` +
			`"value":"piz"}],"from":20150810,"to":20151025}`,
		`{"event_name":"Renewal","from":20251201,"to":20251203,"common_profile_properties":{"demographics":` +
			`[{"name":"Education","operator":"equals","value":["College","Graduate"]},{"name":"Gender","value":"Female"}]}}`,
		`{"event_name":"Renewal","from":20251201,"to":20251203,"session_properties":[{"name":"time_of_day",` +
			`"value":["22:30","22:35"]}]}`,
		`{"event_name":"Renewal","from":20251201,"to":20251203,"common_profile_properties":{"reachability":` +
			`[{"name":"has_token","value":"True"}],"geo_fields":[{"name":"Country","value":"India"}]}}`,
		`{"event_name":"Renewal","from":20251202,"to":20251202,"groups":{"a":{"trend_type":"weekly"}},"unique":true}`,
		`{"event_name":"Renewal","from":20251202,"to":20251202,"groups":{"b":{"property_type":"event_properties",` +
			`"name":"n","top_n":-1}},"sum_event_prop":"n"}`,
		`{"event_name":"Renewal","from":1e400,"to":-0}`, `{"event_name":"Renewal","from":99991231,"to":99991231}`,
		`{"event_name":"Renewal","from":20251202,"to":20251202,"event_properties":[{"name":"n","operator":` +
			`"greater_than","value":{"x":[1]}}]}`,
	} {
		f.Add([]byte(seed))
	}
	s, err := New(Options{})
	if err != nil {
		f.Fatal(err)
	}
	c := s.Client()
	var records []string
	for n := 0; n < 30; n++ {
		records = append(records, fmt.Sprintf(`{"type":"event","identity":"u%d","ts":%d,"evtName":"Renewal",`+
			`"evtData":{"n":%d,"plan":["a","b"]}}`, n%4, dec2-86400+n*7200, n))
	}
	records = append(records, `{"type":"profile","identity":"u1","profileData":{"Gender":"F","Tags":["x"]}}`)
	if _, err := c.UploadRaw(context.Background(), "eu1", eu1Creds, []byte(`{"d":[`+strings.Join(records, ",")+`]}`),
		""); err != nil {
		f.Fatal(err)
	}
	acct, _ := s.accounts.get(eu1Creds.AccountID)
	f.Fuzz(func(t *testing.T, body []byte) {
		q, rerr := s.readQuery(acct, body)
		if rerr != nil {
			if rerr.code != 400 || rerr.text == "" {
				t.Fatalf("a refused query must be a 400 with a text, got %+v", rerr)
			}
			return
		}
		if q.EventName == "" || !q.Start.Before(q.End) || q.FromDay > q.ToDay {
			t.Fatalf("an accepted query needs an event and a range, got %+v", q)
		}
		for _, e := range s.store.MatchEvents(acct.ID, q) {
			if e.At.Before(q.Start) || !e.At.Before(q.End) {
				t.Fatalf("event at %s is outside the range %s to %s", e.At, q.Start, q.End)
			}
			out, err := json.Marshal(s.eventRecord(e, nil, recordFlags{events: true, profile: true}, acct.Location()))
			if err != nil || !json.Valid(out) {
				t.Fatalf("a record that is not JSON: %v %s", err, out)
			}
		}
		for _, count := range []counter{(*Server).topCounts, (*Server).trends} {
			if answer, err := count(s, acct, q); err == nil && !json.Valid(answer) {
				t.Fatalf("a count that is not JSON: %s", answer)
			}
		}
	})
}
