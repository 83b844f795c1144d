package clevertap

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/ctharness/ctharness/internal/clip"
)

// Client talks to a fake CleverTap, in-process (Server.Client) or over HTTP (NewClient): it uploads and reads
// (readclient.go) as a CleverTap client would, against the fake or a real account, and reads the fake's admin API
// for assertions.
type Client struct {
	// BaseURL is the simulator's root, e.g. http://127.0.0.1:8081; uploads go below /<region>/.
	BaseURL string
	HTTP    *http.Client
	// PollInterval is how long the read calls wait before polling a partial count or retrying a busy answer
	// (default 1 s).
	PollInterval time.Duration
}

// NewClient returns a client for a simulator listening at baseURL.
func NewClient(baseURL string) *Client {
	return &Client{BaseURL: strings.TrimSuffix(baseURL, "/"), HTTP: &http.Client{Timeout: 2 * time.Minute}}
}

// UploadResponse is CleverTap's answer to /1/upload.
type UploadResponse struct {
	Status      string              `json:"status"`
	Processed   int                 `json:"processed"`
	Unprocessed []UnprocessedRecord `json:"unprocessed"`
	// Code and Error are set on request-level failures (401, 400, 429...).
	Code  int    `json:"code,omitempty"`
	Error string `json:"error,omitempty"`
}

// UnprocessedRecord is one entry of unprocessed[].
type UnprocessedRecord struct {
	Status string          `json:"status"`
	Code   int             `json:"code"`
	Error  string          `json:"error"`
	Record json.RawMessage `json:"record"`
}

// Credentials are what a CleverTap client sends in its headers.
type Credentials struct {
	AccountID string
	Passcode  string
}

// APIResult is an HTTP answer of the CleverTap API with the simulator's diagnosis headers.
type APIResult struct {
	StatusCode int
	Body       []byte
	RequestID  string
	Diagnosis  string
}

// Upload posts {"d": records} to /<region>/1/upload and decodes the answer.
func (c *Client) Upload(ctx context.Context, region Region, creds Credentials, records ...any) (*UploadResponse,
	*APIResult, error) {
	body, err := json.Marshal(map[string]any{"d": records})
	if err != nil {
		return nil, nil, err
	}
	res, err := c.UploadRaw(ctx, region, creds, body, "")
	if err != nil {
		return nil, nil, err
	}
	var out UploadResponse
	if err := json.Unmarshal(res.Body, &out); err != nil {
		return nil, res, fmt.Errorf("upload answer is not CleverTap JSON (HTTP %d): %w: %s", res.StatusCode, err,
			clip.Text(string(res.Body), 200))
	}
	return &out, res, nil
}

// UploadRaw posts a raw body to /<region>/1/upload with the given query (e.g. "dryRun=1").
func (c *Client) UploadRaw(ctx context.Context, region Region, creds Credentials, body []byte,
	query string) (*APIResult, error) {
	u := c.BaseURL + "/" + string(region) + "/1/upload"
	if query != "" {
		u += "?" + query
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-CleverTap-Account-Id", creds.AccountID)
	req.Header.Set("X-CleverTap-Passcode", creds.Passcode)
	return c.Do(req)
}

// Do sends a request to the CleverTap API and reads the whole answer.
func (c *Client) Do(req *http.Request) (*APIResult, error) {
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	return &APIResult{StatusCode: resp.StatusCode, Body: body,
		RequestID: resp.Header.Get("X-Simulator-Request-Id"), Diagnosis: resp.Header.Get("X-Simulator-Diagnosis")}, nil
}

// Events lists stored records matching the filter, following the admin API's pages.
func (c *Client) Events(ctx context.Context, f EventFilter) ([]Event, error) {
	var all []Event
	for {
		var out struct {
			Events    []Event `json:"events"`
			NextSince uint64  `json:"next_since"`
		}
		q := eventQuery(f)
		q.Set("limit", "10000")
		if err := c.admin(ctx, http.MethodGet, "/_sim/events?"+q.Encode(), nil, &out, http.StatusOK); err != nil {
			return all, err
		}
		all = append(all, out.Events...)
		if out.NextSince == 0 {
			return all, nil
		}
		f.SinceSeq, f.SinceTime = out.NextSince, time.Time{}
	}
}

func eventQuery(f EventFilter) url.Values {
	q := url.Values{}
	set := func(k, v string) {
		if v != "" {
			q.Set(k, v)
		}
	}
	set("account", f.Account)
	set("region", string(f.Region))
	set("identity", f.Identity)
	set("objectId", f.ObjectID)
	set("name", f.Name)
	set("type", string(f.Type))
	if f.SinceSeq > 0 {
		q.Set("since", strconv.FormatUint(f.SinceSeq, 10))
	} else if !f.SinceTime.IsZero() {
		q.Set("since", f.SinceTime.Format(time.RFC3339Nano))
	}
	return q
}

// ErrWaitTimeout is returned by Wait when fewer records than asked arrived in time; the events are what there is.
var ErrWaitTimeout = fmt.Errorf("timed out waiting for records")

// Wait blocks on /_sim/wait until req.Count records match or its timeout passes.
func (c *Client) Wait(ctx context.Context, req WaitRequest) ([]Event, error) {
	var out struct {
		Events []Event `json:"events"`
		Error  string  `json:"error"`
	}
	status, err := c.adminStatus(ctx, http.MethodPost, "/_sim/wait", req, &out)
	if err != nil {
		return nil, err
	}
	if status == http.StatusRequestTimeout {
		return out.Events, fmt.Errorf("%w: %s", ErrWaitTimeout, out.Error)
	}
	return out.Events, nil
}

// Requests lists journal entries, following the admin API's pages.
func (c *Client) Requests(ctx context.Context, f JournalFilter) ([]JournalEntry, error) {
	var all []JournalEntry
	for {
		q := url.Values{}
		if f.Account != "" {
			q.Set("account", f.Account)
		}
		if f.Outcome != "" {
			q.Set("outcome", string(f.Outcome))
		}
		q.Set("since", strconv.FormatUint(f.SinceSeq, 10))
		q.Set("limit", "10000")
		var out struct {
			Requests  []JournalEntry `json:"requests"`
			NextSince uint64         `json:"next_since"`
		}
		if err := c.admin(ctx, http.MethodGet, "/_sim/requests?"+q.Encode(), nil, &out, http.StatusOK); err != nil {
			return all, err
		}
		all = append(all, out.Requests...)
		if out.NextSince == 0 {
			return all, nil
		}
		f.SinceSeq = out.NextSince
	}
}

// Profiles lists profiles of an account, optionally of one identity.
func (c *Client) Profiles(ctx context.Context, account, identity string) ([]Profile, error) {
	q := url.Values{}
	q.Set("account", account)
	if identity != "" {
		q.Set("identity", identity)
	}
	var out struct {
		Profiles []Profile `json:"profiles"`
	}
	err := c.admin(ctx, http.MethodGet, "/_sim/profiles?"+q.Encode(), nil, &out, http.StatusOK)
	return out.Profiles, err
}

// AddFault injects a fault.
func (c *Client) AddFault(ctx context.Context, f Fault) (Fault, error) {
	var out Fault
	err := c.admin(ctx, http.MethodPost, "/_sim/faults", f, &out, http.StatusCreated)
	return out, err
}

// ClearFaults removes every fault.
func (c *Client) ClearFaults(ctx context.Context) error {
	return c.admin(ctx, http.MethodDelete, "/_sim/faults", nil, nil, http.StatusOK)
}

// DeleteFault removes one fault; one that ran out of times or was never there is not an error (404 is taken as
// done), since removing is what the caller wanted.
func (c *Client) DeleteFault(ctx context.Context, id string) error {
	status, err := c.adminStatus(ctx, http.MethodDelete, "/_sim/faults/"+url.PathEscape(id), nil, nil)
	if status == http.StatusNotFound {
		return nil
	}
	return err
}

// PutAccount creates or replaces an account.
func (c *Client) PutAccount(ctx context.Context, a Account) error {
	return c.admin(ctx, http.MethodPost, "/_sim/accounts", a, nil, http.StatusOK)
}

// Accounts lists the accounts.
func (c *Client) Accounts(ctx context.Context) ([]Account, error) {
	var out struct {
		Accounts []Account `json:"accounts"`
	}
	err := c.admin(ctx, http.MethodGet, "/_sim/accounts", nil, &out, http.StatusOK)
	return out.Accounts, err
}

// Reset clears records, profiles, journal and faults.
func (c *Client) Reset(ctx context.Context) error {
	return c.admin(ctx, http.MethodPost, "/_sim/reset", nil, nil, http.StatusOK)
}

// Health returns nil once the simulator answers ready.
func (c *Client) Health(ctx context.Context) error {
	return c.admin(ctx, http.MethodGet, "/_sim/health", nil, nil, http.StatusOK)
}

func (c *Client) admin(ctx context.Context, method, path string, in, out any, want int) error {
	status, err := c.adminStatus(ctx, method, path, in, out)
	if err == nil && status != want {
		err = fmt.Errorf("%s %s: expected HTTP %d, got %d", method, path, want, status)
	}
	return err
}

func (c *Client) adminStatus(ctx context.Context, method, path string, in, out any) (int, error) {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return 0, err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.BaseURL+path, body)
	if err != nil {
		return 0, err
	}
	if in != nil || method != http.MethodGet {
		// the admin API changes state only for JSON (internal/adminguard), even with no body
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, err
	}
	if resp.StatusCode >= 400 && resp.StatusCode != http.StatusRequestTimeout {
		var e struct {
			Error string `json:"error"`
		}
		_ = json.Unmarshal(raw, &e)
		return resp.StatusCode, fmt.Errorf("%s %s: HTTP %d: %s", method, path, resp.StatusCode, cmp.Or(e.Error,
			clip.Text(string(raw), 200)))
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			return resp.StatusCode, fmt.Errorf("%s %s: answer is not the expected JSON: %w", method, path, err)
		}
	}
	return resp.StatusCode, nil
}
