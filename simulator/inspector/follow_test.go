package inspector

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/ctharness/ctharness/simulator/clevertap"
	"github.com/ctharness/ctharness/simulator/piano"
)

// One event a reader cannot hold, or cannot read, is skipped and said so; the stream goes on (before, a reader
// stopped at it for good and, reconnecting after the event before it, met it again forever).
func TestFollowSkipsWhatItCannotReadAndGoesOn(t *testing.T) {
	huge := strings.Repeat("x", MaxStreamLine+10)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprintf(w, "event: hello\ndata: {}\n\n")
		fmt.Fprintf(w, "id: i.1\nevent: clevertap\ndata: {\"seq\":1,\"path\":\"%s\"}\n\n", huge)
		fmt.Fprintf(w, "id: i.2\nevent: clevertap\ndata: {not json\n\n")
		fmt.Fprintf(w, "id: i.3\nevent: clevertap\ndata: {\"seq\":3,\"path\":\"/eu1/1/upload\"}\n\n")
	}))
	defer srv.Close()
	var got []string
	err := Follow(context.Background(), srv.Client(), srv.URL, nil, nil, func(ev StreamEvent) error {
		switch {
		case ev.Kind == Unreadable:
			got = append(got, ev.ID+" unreadable: "+fmt.Sprint(ev.Note["reason"]))
		case ev.CleverTap != nil:
			got = append(got, ev.ID+" "+ev.CleverTap.Path)
		}
		return nil
	})
	if err != ErrStreamEnded {
		t.Fatalf("expected the stream to end when the server closed it, got %v", err)
	}
	if len(got) != 3 || !strings.HasPrefix(got[0], "i.1 unreadable: a \"clevertap\" event of") ||
		!strings.Contains(got[0], "was skipped") || !strings.HasPrefix(got[1], "i.2 unreadable:") ||
		got[2] != "i.3 /eu1/1/upload" {
		t.Fatalf("expected i.1 and i.2 skipped with reasons and i.3 read, got %q", got)
	}
}

// An event the stream would send beyond its bound is clipped, saying so: a Piano call of 1,000 hits named with
// 10,000 '<' each keeps the hits that fit and counts the others.
func TestStreamEventsAreBounded(t *testing.T) {
	name := strings.Repeat("<", 10000)
	a := piano.Activity{Request: piano.Request{RequestID: "piano-1"}}
	for i := 0; i < 1000; i++ {
		a.Hits = append(a.Hits, piano.Hit{Name: name, Data: []byte("{}")})
	}
	data := encodeEvent(a)
	if len(data) > maxEventBytes || !strings.Contains(string(data), `"hits_omitted":`) ||
		!strings.Contains(string(data), `"name":"<<<`) {
		t.Fatalf("expected at most %d bytes with hits_omitted and names unescaped, got %d bytes", maxEventBytes,
			len(data))
	}
	e := clevertap.JournalEntry{Seq: 7, RequestBody: strings.Repeat("b", 2<<20), Diagnosis: []string{"d"}}
	data = encodeEvent(e)
	if len(data) > maxEventBytes || !strings.Contains(string(data), "/_sim/requests has it whole") ||
		!strings.Contains(string(data), `"seq":7`) {
		t.Fatalf("expected a clipped entry that says so, got %d bytes", len(data))
	}
	small := encodeEvent(clevertap.JournalEntry{Seq: 8, Path: "/a<b"})
	if !strings.Contains(string(small), `"path":"/a<b"`) {
		t.Fatalf("a small entry goes whole: %s", small)
	}
}
