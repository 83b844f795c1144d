package outbox

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/ctharness/ctharness/relay"
)

// FuzzEncodeJob: whatever the strings, the hand-written encoding reads back as the job encoding/json would give.
func FuzzEncodeJob(f *testing.F) {
	f.Add(uint64(0), "revenuecat", "e-1", "RENEWAL", "revenuecat/clevertap", "", `{"type":"event"}`, 0, "")
	f.Add(uint64(7), "purchasely", "\"quoted\" \\ \n\t\x00", "é 🙂 \u2028", "d", "visitor<&>", `{"a":[1,2,{"b":null}]}`,
		3, "HTTP 503: \xff\xfe bad")
	f.Add(uint64(1<<63), "", "", "", "", "", ``, -1, "\x7f\u0080")
	f.Fuzz(func(t *testing.T, id uint64, source, eventID, eventType, dest, group, payload string, attempts int,
		lastError string) {
		j := Job{ID: id, Source: source, EventID: eventID, EventType: eventType, Attempts: attempts,
			LastError: lastError, CreatedAt: time.Date(2026, 11, 22, 10, 30, 0, 123456789, time.UTC),
			Message: relay.Message{Destination: dest, Kind: relay.KindUpload, Group: group}}
		if json.Valid([]byte(payload)) {
			j.Payload = json.RawMessage(payload)
		}
		var got, want Job
		if err := json.Unmarshal(encodeJob(&j), &got); err != nil {
			t.Fatalf("encodeJob wrote invalid JSON for %+v: %v\n%s", j, err, encodeJob(&j))
		}
		std, _ := json.Marshal(j)
		if err := json.Unmarshal(std, &want); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(normal(got), normal(want)) {
			t.Fatalf("expected %+v (encoding/json), got %+v", want, got)
		}
	})
}

// normal compacts the payload so whitespace differences in a valid payload do not count.
func normal(j Job) Job {
	if len(j.Payload) > 0 {
		var v any
		_ = json.Unmarshal(j.Payload, &v)
		j.Payload, _ = json.Marshal(v)
	}
	return j
}
