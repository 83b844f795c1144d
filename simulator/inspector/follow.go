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

	"github.com/ctharness/ctharness/simulator/clevertap"
	"github.com/ctharness/ctharness/simulator/piano"
)

// StreamEvent is one event of /_sim/stream as a Go reader gets it: a CleverTap request (CleverTap set), a Piano
// call (Piano set), or a note from the simulator (Kind "dropped" or "gap", Note set). Data is the event's JSON.
type StreamEvent struct {
	Kind      string
	ID        string
	CleverTap *clevertap.JournalEntry
	Piano     *piano.Activity
	Note      map[string]any
	Data      json.RawMessage
}

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
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 4<<20) // an entry holds up to 16 KiB of request and 64 KiB of response
	var name, id string
	var data strings.Builder
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			if name != "" && name != "hello" {
				ev, err := decodeEvent(name, id, data.String())
				if err != nil {
					return err
				}
				if err := fn(ev); err != nil {
					return err
				}
			}
			name, id = "", ""
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
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("%w: %v", ErrStreamEnded, err)
	}
	return ErrStreamEnded
}

func decodeEvent(name, id, data string) (StreamEvent, error) {
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
		return ev, fmt.Errorf("a %q event of the stream is not what a simulator sends: %v", name, err)
	}
	return ev, nil
}

// FollowClient is an HTTP client for Follow: no overall timeout (a stream lasts), a bounded wait to connect.
func FollowClient() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.ResponseHeaderTimeout = 10 * time.Second
	return &http.Client{Transport: t}
}
