// Package adminclient reads and drives a running relay's admin API (/admin/*, behind its bearer token) and its
// health routes: what scenario runs, the harness, the health command and the inspector's relay view ask a relay.
package adminclient

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/ctharness/ctharness/internal/clip"
	"github.com/ctharness/ctharness/relay/outbox"
)

// ErrNotFound is a 404: a relay without the route (not the reference relay), or no such dead letter.
var ErrNotFound = errors.New("not found")

// maxAnswer bounds what is read of one answer: a relay's dead letters can be many, but not without end.
const maxAnswer = 8 << 20

// Client talks to one relay.
type Client struct {
	// URL is the relay's root, e.g. http://127.0.0.1:8080.
	URL string
	// Token is the admin token (sent as "Authorization: Bearer"); empty sends no Authorization.
	Token string
	HTTP  *http.Client
}

// New returns a client for the relay at url with its admin token.
func New(url, token string) *Client {
	return &Client{URL: strings.TrimSuffix(url, "/"), Token: token,
		HTTP: &http.Client{Timeout: 30 * time.Second, CheckRedirect: refuseRedirects}}
}

// refuseRedirects keeps the admin token from following a redirect to another host.
func refuseRedirects(req *http.Request, _ []*http.Request) error {
	return fmt.Errorf("the relay redirected to %s; admin calls do not follow redirects", req.URL.Redacted())
}

// Raw makes one call and returns the status and body as the relay sent them (at most 8 MiB).
func (c *Client) Raw(ctx context.Context, method, path string) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.URL+path, nil)
	if err != nil {
		return 0, nil, err
	}
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	if method != http.MethodGet {
		req.Header.Set("Content-Type", "application/json") // admin state changes are JSON (internal/adminguard)
	}
	client := c.HTTP
	if client == nil {
		client = New(c.URL, "").HTTP
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	return resp.StatusCode, body, err
}

// Call makes one call and decodes a 200's JSON into out (nil: the body is dropped). A 404 is ErrNotFound; any
// other status is an error naming it and the relay's words.
func (c *Client) Call(ctx context.Context, method, path string, out any) error {
	status, body, err := c.Raw(ctx, method, path)
	switch {
	case err != nil:
		return err
	case status == http.StatusNotFound:
		return fmt.Errorf("%s %s: %w (HTTP 404 %s)", method, path, ErrNotFound, clip.Text(string(body), 300))
	case status != http.StatusOK:
		return fmt.Errorf("%s %s: HTTP %d %s", method, path, status, clip.Text(string(body), 300))
	case out == nil:
		return nil
	}
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("%s %s: the answer is not the expected JSON: %w", method, path, err)
	}
	return nil
}

// Status is GET /admin/status: each destination's queue, the outbox's counts and the destinations.
type Status struct {
	Queues       map[string]int  `json:"queues"`
	Outbox       outbox.Counts   `json:"outbox"`
	Destinations json.RawMessage `json:"destinations"`
	// Store is where the outbox is; for a shared one, this replica and which replica delivers each destination.
	Store struct {
		Where   string                  `json:"where"`
		Replica string                  `json:"replica,omitempty"`
		Leases  map[string]outbox.Lease `json:"leases,omitempty"`
	} `json:"store"`
}

// Status reads GET /admin/status.
func (c *Client) Status(ctx context.Context) (Status, error) {
	var s Status
	return s, c.Call(ctx, http.MethodGet, "/admin/status", &s)
}

// Pending is how many jobs of these webhooks (the event_id of each answer) are still to deliver.
func (c *Client) Pending(ctx context.Context, source string, eventIDs []string) (int, error) {
	var out struct {
		Pending int `json:"pending"`
	}
	q := url.Values{"source": {source}, "event_id": eventIDs}
	return out.Pending, c.Call(ctx, http.MethodGet, "/admin/pending?"+q.Encode(), &out)
}

// DeadLetters lists the dead letters, of one source when source is not empty.
func (c *Client) DeadLetters(ctx context.Context, source string) ([]outbox.DeadLetter, error) {
	var out struct {
		DeadLetters []outbox.DeadLetter `json:"deadletters"`
	}
	path := "/admin/deadletters"
	if source != "" {
		path += "?source=" + url.QueryEscape(source)
	}
	return out.DeadLetters, c.Call(ctx, http.MethodGet, path, &out)
}

// Retry puts a dead letter back in its queue.
func (c *Client) Retry(ctx context.Context, id uint64) error {
	return c.Call(ctx, http.MethodPost, "/admin/deadletters/"+strconv.FormatUint(id, 10)+"/retry", nil)
}

// Ready is nil when the relay answers /readyz with 200, else an error with its reason.
func (c *Client) Ready(ctx context.Context) error {
	status, body, err := c.Raw(ctx, http.MethodGet, "/readyz")
	if err != nil {
		return err
	}
	if status != http.StatusOK {
		return fmt.Errorf("not ready: HTTP %d %s", status, clip.Text(string(body), 300))
	}
	return nil
}
