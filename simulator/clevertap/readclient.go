package clevertap

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/ctharness/ctharness/internal/clip"
)

// The read calls of Client, written against CleverTap's documented protocol so that the same code reads the fake
// and a real account: build the client on https://<region>.api.clevertap.com and pass region "" (or on the
// simulator's root and pass the region, or on <root>/<region> and pass "").

// Query is the body of the read API's first calls and of the counts
// (https://developer.clevertap.com/docs/get-events-api).
type Query struct {
	EventName string `json:"event_name"`
	// From and To are dates as integers YYYYMMDD, in the account's time zone; To is included.
	From                    int                    `json:"from"`
	To                      int                    `json:"to"`
	EventProperties         []Condition            `json:"event_properties,omitempty"`
	SessionProperties       []Condition            `json:"session_properties,omitempty"`
	CommonProfileProperties map[string][]Condition `json:"common_profile_properties,omitempty"`
}

// Condition is one filter of the query language: Operator defaults to equals; Value is one value or a list.
type Condition struct {
	Name     string `json:"name"`
	Operator string `json:"operator,omitempty"`
	Value    any    `json:"value"`
}

// Day is a date as the read API wants it: the integer YYYYMMDD of t in its location.
func Day(t time.Time) int {
	n, _ := strconv.Atoi(t.Format("20060102"))
	return n
}

// PageOptions are a download's URL switches; the zero value is CleverTap's defaults and 10 records a page.
type PageOptions struct {
	BatchSize int
	// App asks for app fields; NoEvents and NoProfile leave out the event summary and custom profile properties.
	App, NoEvents, NoProfile bool
}

func (o PageOptions) values() url.Values {
	v := url.Values{}
	if o.BatchSize > 0 {
		v.Set("batch_size", strconv.Itoa(o.BatchSize))
	}
	if o.App {
		v.Set("app", "true")
	}
	if o.NoEvents {
		v.Set("events", "false")
	}
	if o.NoProfile {
		v.Set("profile", "false")
	}
	return v
}

// EventRecord is one Get Events record.
type EventRecord struct {
	Profile EventProfile `json:"profile"`
	// TS is the event's time as the integer yyyyMMddHHmmss in the account's time zone.
	TS           int64          `json:"ts"`
	EventProps   map[string]any `json:"event_props"`
	SessionProps map[string]any `json:"session_props"`
}

// EventProfile is the profile inside a Get Events record.
type EventProfile struct {
	ID          int64                 `json:"id,omitempty"`
	Identity    string                `json:"identity,omitempty"`
	ObjectID    string                `json:"objectId,omitempty"`
	Platform    string                `json:"platform,omitempty"`
	Email       string                `json:"email,omitempty"`
	ProfileData map[string]any        `json:"profileData,omitempty"`
	Events      map[string]EventStats `json:"events,omitempty"`
}

// EventStats is a profile's summary of one event, in epoch seconds.
type EventStats struct {
	Count     int   `json:"count"`
	FirstSeen int64 `json:"first_seen"`
	LastSeen  int64 `json:"last_seen"`
}

// ProfileRecord is a profile as Get User Profiles and profile.json return it.
type ProfileRecord struct {
	Identity     string                `json:"identity,omitempty"`
	Email        string                `json:"email,omitempty"`
	ProfileData  map[string]any        `json:"profileData,omitempty"`
	Events       map[string]EventStats `json:"events,omitempty"`
	PlatformInfo []PlatformInfo        `json:"platformInfo"`
}

// PlatformInfo is one device of a profile.
type PlatformInfo struct {
	Platform   string `json:"platform"`
	ObjectID   string `json:"objectId"`
	PushToken  string `json:"push_token,omitempty"`
	OSVersion  string `json:"os_version,omitempty"`
	AppVersion string `json:"app_version,omitempty"`
	Make       string `json:"make,omitempty"`
	Model      string `json:"model,omitempty"`
}

// APIError is CleverTap's {"status":"fail"} answer, whatever the HTTP status it came with.
type APIError struct {
	HTTPStatus int
	Code       int
	Message    string
	// RequestID and Diagnosis are the simulator's headers (empty against CleverTap).
	RequestID string
	Diagnosis string
}

func (e *APIError) Error() string {
	msg := fmt.Sprintf("CleverTap answered HTTP %d, code %d: %s", e.HTTPStatus, e.Code, e.Message)
	if e.Diagnosis != "" {
		msg += " (simulator: " + e.Diagnosis + ")"
	}
	return msg
}

// GetEvents downloads every event the query selects, page by page, calling each for every record in order.
func (c *Client) GetEvents(ctx context.Context, region Region, creds Credentials, q Query, o PageOptions,
	each func(EventRecord) error) error {
	return download(ctx, c, region, creds, "/1/events.json", q, o, each)
}

// GetProfiles downloads every profile that did the query's event, page by page.
func (c *Client) GetProfiles(ctx context.Context, region Region, creds Credentials, q Query, o PageOptions,
	each func(ProfileRecord) error) error {
	return download(ctx, c, region, creds, "/1/profiles.json", q, o, each)
}

func download[R any](ctx context.Context, c *Client, region Region, creds Credentials, path string, q Query,
	o PageOptions, each func(R) error) error {
	var first struct {
		Cursor string `json:"cursor"`
	}
	if err := c.call(ctx, http.MethodPost, region, creds, path, o.values().Encode(), q, &first); err != nil {
		return err
	}
	cursor := first.Cursor
	for cursor != "" {
		var page struct {
			NextCursor string `json:"next_cursor"`
			Records    []R    `json:"records"`
		}
		// the cursor comes percent-encoded and goes back as it came: encoding it again breaks it
		if err := c.call(ctx, http.MethodGet, region, creds, path, "cursor="+cursor, nil, &page); err != nil {
			return err
		}
		for _, r := range page.Records {
			if err := each(r); err != nil {
				return err
			}
		}
		cursor = page.NextCursor
	}
	return nil
}

// CountEvents is Get Event Count: how many events the query selects, polling until the count is ready.
func (c *Client) CountEvents(ctx context.Context, region Region, creds Credentials, q Query) (int, error) {
	return c.countOf(ctx, region, creds, "/1/counts/events.json", q)
}

// CountProfiles is Get Profile Count: how many profiles did the query's event.
func (c *Client) CountProfiles(ctx context.Context, region Region, creds Credentials, q Query) (int, error) {
	return c.countOf(ctx, region, creds, "/1/counts/profiles.json", q)
}

func (c *Client) countOf(ctx context.Context, region Region, creds Credentials, path string, q Query) (int, error) {
	var out struct {
		Count int `json:"count"`
	}
	err := c.count(ctx, region, creds, path, q, &out)
	return out.Count, err
}

// TopGroup is one group of Top Property Counts.
type TopGroup struct {
	PropertyType string `json:"property_type"`
	Name         string `json:"name"`
	TopN         int    `json:"top_n,omitempty"`
	Order        string `json:"order,omitempty"`
}

// TopCounts is Top Property Counts: group → type ("STR", "NUMBER") → value or range → count.
func (c *Client) TopCounts(ctx context.Context, region Region, creds Credentials, q Query,
	groups map[string]TopGroup) (map[string]map[string]map[string]float64, error) {
	body := struct {
		Query
		Groups map[string]TopGroup `json:"groups"`
	}{q, groups}
	var out map[string]json.RawMessage
	if err := c.count(ctx, region, creds, "/1/counts/top.json", body, &out); err != nil {
		return nil, err
	}
	result := map[string]map[string]map[string]float64{}
	for name := range groups {
		var g map[string]map[string]float64
		if err := json.Unmarshal(out[name], &g); err != nil {
			return nil, fmt.Errorf("top counts: group %q is not {type: {value: count}}: %w", name, err)
		}
		result[name] = g
	}
	return result, nil
}

// Trends is the Trends API: group → period (YYYYMMDD, YYYYWW or YYYYMM) → count. trendTypes maps each group's
// name to daily, weekly or monthly; unique counts profiles instead of events.
func (c *Client) Trends(ctx context.Context, region Region, creds Credentials, q Query,
	trendTypes map[string]string, unique bool) (map[string]map[string]float64, error) {
	groups := map[string]map[string]string{}
	for name, t := range trendTypes {
		groups[name] = map[string]string{"trend_type": t}
	}
	body := struct {
		Query
		Unique bool                         `json:"unique"`
		Groups map[string]map[string]string `json:"groups"`
	}{q, unique, groups}
	var out map[string]json.RawMessage
	if err := c.count(ctx, region, creds, "/1/counts/trends.json", body, &out); err != nil {
		return nil, err
	}
	result := map[string]map[string]float64{}
	for name := range trendTypes {
		var g map[string]float64
		if err := json.Unmarshal(out[name], &g); err != nil {
			return nil, fmt.Errorf("trends: group %q is not {period: count}: %w", name, err)
		}
		result[name] = g
	}
	return result, nil
}

// RealTimeCount is Real-Time Counts: the users active in the past five minutes.
func (c *Client) RealTimeCount(ctx context.Context, region Region, creds Credentials) (int, error) {
	var out struct {
		Count int `json:"count"`
	}
	err := c.call(ctx, http.MethodPost, region, creds, "/1/now.json", "", map[string]any{}, &out)
	return out.Count, err
}

// Profile is GET /1/profile.json by one identifier: by is identity, email or objectId.
func (c *Client) Profile(ctx context.Context, region Region, creds Credentials, by, value string) (*ProfileRecord,
	error) {
	var out struct {
		Record ProfileRecord `json:"record"`
	}
	err := c.call(ctx, http.MethodGet, region, creds, "/1/profile.json", url.Values{by: {value}}.Encode(), nil, &out)
	if err != nil {
		return nil, err
	}
	return &out.Record, nil
}

// count posts a count's query and polls GET ?req_id= every PollInterval while the answer is partial.
func (c *Client) count(ctx context.Context, region Region, creds Credentials, path string, body, out any) error {
	var state struct {
		Status string          `json:"status"`
		ReqID  json.RawMessage `json:"req_id"`
	}
	raw := json.RawMessage{}
	if err := c.call(ctx, http.MethodPost, region, creds, path, "", body, &raw); err != nil {
		return err
	}
	for {
		if err := json.Unmarshal(raw, &state); err != nil {
			return fmt.Errorf("%s: answer is not JSON: %w", path, err)
		}
		if state.Status != "partial" {
			return json.Unmarshal(raw, out)
		}
		if err := c.wait(ctx); err != nil {
			return fmt.Errorf("%s: req_id %s still partial: %w", path, state.ReqID, err)
		}
		raw = json.RawMessage{}
		if err := c.call(ctx, http.MethodGet, region, creds, path, "req_id="+string(state.ReqID), nil, &raw); err != nil {
			return err
		}
	}
}

// maxBusyRetries bounds the retries of an answer that says "retry": 429 and a page not ready (code 2).
const maxBusyRetries = 30

// call sends one read request and decodes a success into out; CleverTap's failures become *APIError. A 429 or
// a page not ready yet is retried after PollInterval, a bounded number of times.
func (c *Client) call(ctx context.Context, method string, region Region, creds Credentials, path, query string,
	body, out any) error {
	u := c.BaseURL
	if region != "" {
		u += "/" + string(region)
	}
	u += path
	if query != "" {
		u += "?" + query
	}
	var payload []byte
	if body != nil {
		var err error
		if payload, err = json.Marshal(body); err != nil {
			return err
		}
	}
	for attempt := 0; ; attempt++ {
		req, err := http.NewRequestWithContext(ctx, method, u, bytes.NewReader(payload))
		if err != nil {
			return err
		}
		if body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		req.Header.Set("X-CleverTap-Account-Id", creds.AccountID)
		req.Header.Set("X-CleverTap-Passcode", creds.Passcode)
		res, err := c.Do(req)
		if err != nil {
			return err
		}
		var status struct {
			Status string `json:"status"`
			Error  string `json:"error"`
			Code   int    `json:"code"`
		}
		if err := json.Unmarshal(res.Body, &status); err != nil {
			return fmt.Errorf("%s %s: HTTP %d and not CleverTap JSON: %s", method, path, res.StatusCode,
				clip.Text(string(res.Body), 200))
		}
		busy := res.StatusCode == http.StatusTooManyRequests || (status.Status == "fail" && status.Code == CodeNotReady)
		if busy && attempt < maxBusyRetries {
			if err := c.wait(ctx); err != nil {
				return err
			}
			continue
		}
		if status.Status == "fail" || res.StatusCode != http.StatusOK {
			return &APIError{HTTPStatus: res.StatusCode, Code: status.Code, Message: status.Error,
				RequestID: res.RequestID, Diagnosis: res.Diagnosis}
		}
		return json.Unmarshal(res.Body, out)
	}
}

func (c *Client) wait(ctx context.Context) error {
	interval := c.PollInterval
	if interval <= 0 {
		interval = time.Second
	}
	t := time.NewTimer(interval)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
