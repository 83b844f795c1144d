package inspector

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/ctharness/ctharness/internal/clip"
	"github.com/ctharness/ctharness/simulator/clevertap"
	"github.com/ctharness/ctharness/simulator/piano"
)

// StreamEvent is one event of /_sim/stream as a Go reader gets it: a CleverTap request (CleverTap set), a Piano
// call (Piano set), a note from the simulator (Kind "dropped" or "gap", Note set), or one this reader could not
// read (Kind Unreadable, Note["reason"] says why; the stream goes on). Data is the event's JSON.
type StreamEvent struct {
	Kind      string
	ID        string
	CleverTap *clevertap.JournalEntry
	Piano     *piano.Activity
	Note      map[string]any
	Data      json.RawMessage
}

// Unreadable is the Kind of an event Follow skipped: beyond MaxStreamLine, or not the JSON a simulator sends.
const Unreadable = "unreadable"

// MaxStreamLine is the longest line of the stream Follow reads; the simulator sends none longer (maxEventBytes).
const MaxStreamLine = 4 << 20

// ErrStreamEnded is returned by Follow when the simulator closed the stream (it stopped, or dropped the reader).
var ErrStreamEnded = errors.New("the simulator ended the stream")

// Follow reads the live stream of the simulator at baseURL with the query's filters (account, outcome, region,
// endpoint, q, kinds, since) and calls fn with each event until ctx ends, fn returns an error, or the stream
// ends. It reconnects to nothing by itself: a caller that wants to go on calls it again with since set to the
// last event's ID, and gets what it missed. connected is called once the stream is open.
func Follow(ctx context.Context, client *http.Client, baseURL string, query url.Values, connected func(),
	fn func(StreamEvent) error) error {
	u := strings.TrimSuffix(baseURL, "/") + "/_sim/stream"
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "text/event-stream")
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
		return fmt.Errorf("GET %s: %s: %s", u, resp.Status, strings.TrimSpace(string(body)))
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") {
		return fmt.Errorf("GET %s: expected text/event-stream, got %q (is this a simulator?)", u, ct)
	}
	if connected != nil {
		connected()
	}
	rd := bufio.NewReaderSize(resp.Body, 64<<10)
	var name, id string
	var data strings.Builder
	skipped := 0 // bytes of an over-long line of the current event
	for {
		line, long, err := readLine(rd, MaxStreamLine)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if errors.Is(err, io.EOF) {
				return ErrStreamEnded
			}
			return fmt.Errorf("%w: %v", ErrStreamEnded, err)
		}
		if long > 0 {
			skipped += long
			continue
		}
		switch {
		case line == "":
			if name != "" && name != "hello" {
				ev := decodeEvent(name, id, data.String(), skipped)
				if err := fn(ev); err != nil {
					return err
				}
			}
			name, id, skipped = "", "", 0
			data.Reset()
		case strings.HasPrefix(line, ":"): // a keep-alive comment
		case strings.HasPrefix(line, "event:"):
			name = strings.TrimSpace(strings.TrimPrefix(line, "event:"))
		case strings.HasPrefix(line, "id:"):
			id = strings.TrimSpace(strings.TrimPrefix(line, "id:"))
		case strings.HasPrefix(line, "data:"):
			if data.Len() > 0 {
				data.WriteByte('\n')
			}
			data.WriteString(strings.TrimPrefix(strings.TrimPrefix(line, "data:"), " "))
		}
	}
}

// readLine reads one line without its end; a line longer than max is read to its end and dropped, and long says
// how many bytes it had (a reader must not stop for good at one event it cannot hold).
func readLine(rd *bufio.Reader, max int) (line string, long int, err error) {
	var b []byte
	for {
		chunk, err := rd.ReadSlice('\n')
		if long == 0 && len(b)+len(chunk) <= max {
			b = append(b, chunk...)
		} else {
			long += len(b) + len(chunk)
			b = nil
		}
		switch {
		case err == nil:
			if long > 0 {
				return "", long, nil
			}
			return strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r"), 0, nil
		case !errors.Is(err, bufio.ErrBufferFull):
			return "", 0, err
		}
	}
}

// decodeEvent reads an event's JSON; one skipped for its size, or not readable, becomes an Unreadable event.
func decodeEvent(name, id, data string, skipped int) StreamEvent {
	if skipped > 0 {
		return StreamEvent{Kind: Unreadable, ID: id, Note: map[string]any{"reason": fmt.Sprintf(
			"a %q event of %d bytes, beyond the %d this reader takes, was skipped", name, skipped, MaxStreamLine)}}
	}
	ev := StreamEvent{Kind: name, ID: id, Data: json.RawMessage(data)}
	var err error
	switch name {
	case "clevertap":
		ev.CleverTap = &clevertap.JournalEntry{}
		err = json.Unmarshal(ev.Data, ev.CleverTap)
	case "piano":
		ev.Piano = &piano.Activity{}
		err = json.Unmarshal(ev.Data, ev.Piano)
	default:
		err = json.Unmarshal(ev.Data, &ev.Note)
	}
	if err != nil {
		return StreamEvent{Kind: Unreadable, ID: id, Note: map[string]any{"reason": fmt.Sprintf(
			"a %q event was skipped: not what a simulator sends (%v)", clip.Text(name, 40), err)}}
	}
	return ev
}

// FollowClient is an HTTP client for Follow: no overall timeout (a stream lasts), a bounded wait to connect.
func FollowClient() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.ResponseHeaderTimeout = 10 * time.Second
	return &http.Client{Transport: t}
}
