package inspector

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/ctharness/ctharness/internal/httpjson"
	"github.com/ctharness/ctharness/simulator/clevertap"
	"github.com/ctharness/ctharness/simulator/piano"
)

// The live stream, GET /_sim/stream: Server-Sent Events, one "clevertap" event per journal entry and one "piano"
// event per collector call, from the moment of the connection, filtered like /_sim/requests (account, outcome,
// region, endpoint, q) and by kind (?kinds=clevertap,piano). A reader that falls 256 events behind, or does not
// take an event within 10 s, is dropped (a last "dropped" event says so when it can): nothing is buffered without
// bound.
//
// A "clevertap" event's id is "<instance>.<seq>": a reader that reconnects with it (EventSource sends it as
// Last-Event-ID; `simulator tail` as ?since=) first gets the journal entries it missed, up to 1000 (a "gap" event
// says when more were missed), then the live ones. The instance tells a restarted simulator, whose journal starts
// again, from the one the reader left: after a restart the reader gets the new simulator's entries from the first.
const (
	streamBuffer       = 256
	streamWriteTimeout = 10 * time.Second
	streamKeepAlive    = 15 * time.Second
	streamBacklog      = 1000
)

// resumeAfter reads where a reconnecting reader left off ("<instance>.<seq>", or a bare seq of this instance): the
// seq after which to replay the journal; replay is false for a new reader.
func (i *Inspector) resumeAfter(lastEventID string) (after uint64, replay bool, err error) {
	if lastEventID == "" {
		return 0, false, nil
	}
	instance, seq, found := strings.Cut(lastEventID, ".")
	if !found {
		instance, seq = i.instance, lastEventID
	}
	n, err := strconv.ParseUint(seq, 10, 64)
	if err != nil {
		return 0, false, fmt.Errorf("expected since (or Last-Event-ID) as <instance>.<seq> or a seq, got %q",
			lastEventID)
	}
	if instance != i.instance {
		return 0, true, nil // another simulator's seq: this one's journal is all new to the reader
	}
	return n, true, nil
}

// streamRequest is what a reader of the live stream asks for: where to resume, the journal filter, and which
// sources' requests.
type streamRequest struct {
	since               uint64
	resume              bool
	filter              clevertap.JournalFilter
	cleverTap, pianoHit bool
}

func (i *Inspector) parseStreamRequest(r *http.Request) (streamRequest, error) {
	q := r.URL.Query()
	if err := httpjson.Params(q, "account", "outcome", "region", "endpoint", "q", "kinds", "since"); err != nil {
		return streamRequest{}, err
	}
	last := q.Get("since")
	if last == "" {
		last = r.Header.Get("Last-Event-ID")
	}
	var sr streamRequest
	var err error
	if sr.since, sr.resume, err = i.resumeAfter(last); err != nil {
		return sr, err
	}
	if sr.filter, err = clevertap.ParseJournalFilter(q); err != nil {
		return sr, err
	}
	kinds := q.Get("kinds")
	if kinds == "" {
		kinds = "clevertap,piano"
	}
	// Piano's calls have no account, outcome or region: a filter on those is for CleverTap's alone
	f := sr.filter
	sr.cleverTap = strings.Contains(kinds, "clevertap")
	sr.pianoHit = strings.Contains(kinds, "piano") && f.Account == "" && f.Outcome == "" && f.Region == "" &&
		f.Endpoint == ""
	return sr, nil
}

// eventStream writes server-sent events, each within the write deadline, flushed at once.
type eventStream struct {
	w  http.ResponseWriter
	rc *http.ResponseController
}

func (s eventStream) send(event, id string, v any) bool {
	_ = s.rc.SetWriteDeadline(time.Now().Add(streamWriteTimeout))
	data := encodeEvent(v)
	if id != "" {
		if _, err := fmt.Fprintf(s.w, "id: %s\n", id); err != nil {
			return false
		}
	}
	if _, err := fmt.Fprintf(s.w, "event: %s\ndata: %s\n\n", event, data); err != nil {
		return false
	}
	return s.rc.Flush() == nil
}

// maxEventBytes bounds one event of the stream: an entry or a Piano call can quote a megabyte body many times
// over, and a reader (simulator tail, a browser) must be able to hold every event.
const maxEventBytes = 1 << 20

// encodeEvent is an event's JSON, at most maxEventBytes: a bigger one is sent clipped, saying so and where the
// whole of it is.
func encodeEvent(v any) []byte {
	data := marshal(v)
	if len(data) <= maxEventBytes {
		return data
	}
	switch x := v.(type) {
	case clevertap.JournalEntry:
		x.RequestBody, x.Response, x.RequestHeaders = "", nil, nil
		if x.Records != nil {
			r := *x.Records
			r.Unprocessed, r.Warnings = r.Unprocessed[:min(len(r.Unprocessed), 100)], r.Warnings[:min(len(r.Warnings), 20)]
			x.Records = &r
		}
		x.Diagnosis = append(x.Diagnosis[:min(len(x.Diagnosis), 8):min(len(x.Diagnosis), 8)],
			fmt.Sprintf("the stream clipped this entry (%d bytes); /_sim/requests has it whole", len(data)))
		data = marshal(x)
	case piano.Activity:
		size, kept := len(marshal(x.Request))+256, 0
		for _, h := range x.Hits {
			if size += len(marshal(h)) + 1; size > maxEventBytes {
				break
			}
			kept++
		}
		x.HitsOmitted, x.Hits = len(x.Hits)-kept, x.Hits[:kept]
		data = marshal(x)
	}
	if len(data) > maxEventBytes { // nothing of the kind should come this far; a reader still gets an event
		data = marshal(map[string]string{"error": fmt.Sprintf("an event of %d bytes, beyond the stream's %d, "+
			"was left out", len(data), maxEventBytes)})
	}
	return data
}

// marshal is JSON without HTML escaping: '<' is 1 byte on the stream, not 6.
func marshal(v any) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}

func (s eventStream) keepAlive() bool {
	_ = s.rc.SetWriteDeadline(time.Now().Add(streamWriteTimeout))
	_, err := fmt.Fprint(s.w, ": keep-alive\n\n")
	return err == nil && s.rc.Flush() == nil
}

func (i *Inspector) handleStream(w http.ResponseWriter, r *http.Request) {
	sr, err := i.parseStreamRequest(r)
	if err != nil {
		httpjson.Error(w, http.StatusBadRequest, "%v", err)
		return
	}
	ct, stopCT, ok1 := i.ct.Subscribe(streamBuffer)
	defer stopCT()
	pn, stopPiano, ok2 := i.piano.Subscribe(streamBuffer)
	defer stopPiano()
	if !ok1 || !ok2 {
		httpjson.Error(w, http.StatusServiceUnavailable, "the simulator serves its limit of live streams; close one")
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	out := eventStream{w: w, rc: http.NewResponseController(w)}
	if !out.send("hello", "", map[string]string{"version": i.version, "instance": i.instance}) {
		return
	}
	// the missed entries, after the subscription so that none falls between them and the live ones
	sent, ok := i.replayMissed(out, sr)
	if !ok {
		return
	}
	keepAlive := time.NewTicker(streamKeepAlive)
	defer keepAlive.Stop()
	f := sr.filter
	for {
		select {
		case <-r.Context().Done():
			return
		case <-i.stopping:
			return
		case e, open := <-ct:
			if !open {
				out.send("dropped", "", map[string]string{"reason": "the reader fell behind"})
				return
			}
			if e.Seq > sent && sr.cleverTap && f.Matches(&e) && !out.send("clevertap", i.eventID(e.Seq), e) {
				return
			}
		case a, open := <-pn:
			if !open {
				out.send("dropped", "", map[string]string{"reason": "the reader fell behind"})
				return
			}
			if sr.pianoHit && (f.Text == "" || strings.Contains(a.Request.Path, f.Text)) && !out.send("piano", "", a) {
				return
			}
		case <-keepAlive.C:
			if !out.keepAlive() {
				return
			}
		}
	}
}

// replayMissed sends what a resuming reader missed (at most streamBacklog entries, else a gap first); it returns
// the last seq sent, and false when the reader is gone.
func (i *Inspector) replayMissed(out eventStream, sr streamRequest) (uint64, bool) {
	sent := sr.since
	if !sr.resume || !sr.cleverTap {
		return sent, true
	}
	replay := sr.filter
	replay.SinceSeq, replay.Limit = sr.since, streamBacklog+1
	missed := i.ct.Requests(replay)
	if len(missed) > streamBacklog {
		if !out.send("gap", "", map[string]any{"after": sr.since, "before": missed[len(missed)-streamBacklog].Seq,
			"reason": "more requests were missed than the stream replays; /_sim/requests has them"}) {
			return sent, false
		}
		missed = missed[len(missed)-streamBacklog:]
	}
	for k := range missed {
		if !out.send("clevertap", i.eventID(missed[k].Seq), missed[k]) {
			return sent, false
		}
		sent = missed[k].Seq
	}
	return sent, true
}

func (i *Inspector) eventID(seq uint64) string { return i.instance + "." + strconv.FormatUint(seq, 10) }
