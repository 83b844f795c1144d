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
		// the check's shortcut reads the destination encoding/json reads, or declines
		stored := j
		stored.ID = 0
		if d, ok := destinationOf(seal(id, encodeJob(&stored))); ok && d != want.Destination {
			t.Fatalf("destinationOf read %q, encoding/json %q", d, want.Destination)
		}
	})
}

// The check reads a sealed job's destination without decoding it; any layout it does not expect, and an escaped
// destination, it leaves to the decoder.
func TestDestinationOfASealedJob(t *testing.T) {
	job := func(source, eventID, dest string) []byte {
		return seal(9, encodeJob(&Job{Source: source, EventID: eventID, EventType: "RENEWAL",
			Message: relay.Message{Destination: dest, Kind: relay.KindUpload, Payload: []byte(`{"d":"x"}`)}}))
	}
	for _, c := range []struct {
		name string
		raw  []byte
		dest string
		ok   bool
	}{
		{"plain", job("revenuecat", "e-1", "revenuecat/clevertap"), "revenuecat/clevertap", true},
		{"quotes and backslashes before it", job(`re"ve\nue`, `"e"\`, "d-1"), "d-1", true},
		{"an escaped destination", job("s", "e", `a"b`), "", false},
		{"an HTML-escaped destination", job("s", "e", "a<b"), "", false},
		{"another layout", []byte(`{"event_id":"e","source":"s","destination":"d"}`), "", false},
		{"cut short", job("s", "e", "d")[:30], "", false},
		{"an unterminated string", []byte(`{"source":"s,"event_id":"e"`), "", false},
	} {
		if dest, ok := destinationOf(c.raw); dest != c.dest || ok != c.ok {
			t.Errorf("%s: expected %q %v, got %q %v", c.name, c.dest, c.ok, dest, ok)
		}
	}
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
