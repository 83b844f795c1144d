package fake

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ctharness/ctharness/simulator/clevertap"
)

// dec2 is 2025-12-02T00:00:00Z.
const dec2 = 1764633600

func uploadRaw(t *testing.T, c *clevertap.Client, region clevertap.Region, creds clevertap.Credentials,
	records ...string) {
	t.Helper()
	res, err := c.UploadRaw(context.Background(), region, creds, []byte(`{"d":[`+strings.Join(records, ",")+`]}`), "")
	if err != nil || res.StatusCode != 200 || !strings.Contains(string(res.Body), `"unprocessed":[]`) {
		t.Fatalf("upload: %v %s", err, res.Body)
	}
}

// renewals uploads 24 "Renewal" events on 2025-12-02 (n = 0..23, one an hour, users u0..u4), one just before
// the day, one at midnight after it, and an "Other" event inside it.
func renewals(t *testing.T, c *clevertap.Client) {
	t.Helper()
	var records []string
	for n := 0; n <= 24; n++ {
		records = append(records, fmt.Sprintf(`{"type":"event","identity":"u%d","ts":%d,"evtName":"Renewal",`+
			`"evtData":{"n":%d}}`, n%5, dec2+n*3600, n))
	}
	records = append(records,
		fmt.Sprintf(`{"type":"event","identity":"u9","ts":%d,"evtName":"Renewal","evtData":{"n":-1}}`, dec2-1),
		fmt.Sprintf(`{"type":"event","identity":"u0","ts":%d,"evtName":"Other","evtData":{"n":99}}`, dec2+60))
	uploadRaw(t, c, "eu1", eu1Creds, records...)
}

func send(t *testing.T, c *clevertap.Client, method, path string, creds clevertap.Credentials,
	body string) *clevertap.APIResult {
	t.Helper()
	req, _ := http.NewRequest(method, c.BaseURL+path, strings.NewReader(body))
	req.Header.Set("X-CleverTap-Account-Id", creds.AccountID)
	req.Header.Set("X-CleverTap-Passcode", creds.Passcode)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// page is a page answer as it comes.
type page struct {
	Status         string            `json:"status"`
	Cursor         string            `json:"cursor"`
	PreviousCursor *string           `json:"previous_cursor"`
	NextCursor     *string           `json:"next_cursor"`
	Records        []json.RawMessage `json:"records"`
	Error          string            `json:"error"`
	Code           int               `json:"code"`
}

func decodePage(t *testing.T, res *clevertap.APIResult) page {
	t.Helper()
	var p page
	if err := json.Unmarshal(res.Body, &p); err != nil {
		t.Fatalf("not JSON: %s", res.Body)
	}
	return p
}

// cursorShape is a cursor as CleverTap sends it: base64, percent-encoded, ending in the encoded padding.
var cursorShape = regexp.MustCompile(`^[A-Za-z0-9%]+%3D%3D$`)

// pages follows a first call's cursor to the end and returns the pages that hold records. As live chains come,
// every page of records has a next_cursor and none a previous_cursor, and the chain ends with one more page,
// exactly {"status":"success"}.
func pages(t *testing.T, c *clevertap.Client, path string, creds clevertap.Credentials,
	first *clevertap.APIResult) []page {
	t.Helper()
	start := decodePage(t, first)
	if start.Status != "success" || !cursorShape.MatchString(start.Cursor) {
		t.Fatalf("first call: expected success and a percent-encoded cursor, got %s", first.Body)
	}
	var out []page
	for cursor := start.Cursor; ; {
		res := send(t, c, http.MethodGet, path+"?cursor="+cursor, creds, "")
		p := decodePage(t, res)
		if p.Status != "success" || p.PreviousCursor != nil {
			t.Fatalf("page: expected success and no previous_cursor, got %s", res.Body)
		}
		if len(p.Records) == 0 {
			if string(res.Body) != `{"status":"success"}` {
				t.Fatalf(`the end of a chain: expected {"status":"success"} alone, got %s`, res.Body)
			}
			return out
		}
		if p.NextCursor == nil || !cursorShape.MatchString(*p.NextCursor) {
			t.Fatalf("a page of records: expected a percent-encoded next_cursor, got %v", p.NextCursor)
		}
		out = append(out, p)
		cursor = *p.NextCursor
		if len(out) > 100 {
			t.Fatal("more than 100 pages")
		}
	}
}

func TestGetEventsPagesEveryEventOfTheRangeOnce(t *testing.T) {
	_, c := newTestServer(t, Options{PageMultiple: 1})
	renewals(t, c)
	first := send(t, c, http.MethodPost, "/eu1/1/events.json?batch_size=10", eu1Creds,
		`{"event_name":"Renewal","from":20251202,"to":20251202}`)
	// uploads after the first call are not in its result
	uploadRaw(t, c, "eu1", eu1Creds, fmt.Sprintf(
		`{"type":"event","identity":"u1","ts":%d,"evtName":"Renewal","evtData":{"n":100}}`, dec2+7200))
	got := pages(t, c, "/eu1/1/events.json", eu1Creds, first)
	if sizes := []int{len(got[0].Records), len(got[1].Records), len(got[2].Records)}; len(got) != 3 ||
		!reflect.DeepEqual(sizes, []int{10, 10, 4}) {
		t.Fatalf("expected pages of 10, 10 and 4 records, got %d pages", len(got))
	}
	var order []int
	for _, p := range got {
		for _, raw := range p.Records {
			var rec struct {
				TS         int64 `json:"ts"`
				EventProps struct {
					N int `json:"n"`
				} `json:"event_props"`
			}
			_ = json.Unmarshal(raw, &rec)
			if want := int64(20251202000000 + rec.EventProps.N*10000); rec.TS != want {
				t.Errorf("event n=%d: expected ts %d, got %d", rec.EventProps.N, want, rec.TS)
			}
			order = append(order, rec.EventProps.N)
		}
	}
	want := []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23}
	if !reflect.DeepEqual(order, want) {
		t.Fatalf("expected events n=0..23 once each, oldest first; got %v", order)
	}
	exact := send(t, c, http.MethodPost, "/eu1/1/events.json?batch_size=12", eu1Creds,
		`{"event_name":"Renewal","from":20251202,"to":20251202}`)
	if got := pages(t, c, "/eu1/1/events.json", eu1Creds, exact); len(got) != 3 || len(got[2].Records) != 1 {
		// 25 now: the upload after the first call is in this later result
		t.Fatalf("25 records in pages of 12: expected pages of 12, 12 and 1, got %d pages", len(got))
	}
	fives := send(t, c, http.MethodPost, "/eu1/1/events.json?batch_size=5", eu1Creds,
		`{"event_name":"Renewal","from":20251202,"to":20251202}`)
	if got := pages(t, c, "/eu1/1/events.json", eu1Creds, fives); len(got) != 5 || len(got[4].Records) != 5 {
		t.Fatalf("25 records in pages of 5: expected five full pages and no empty one, got %d pages", len(got))
	}
}

func TestGetEventsRecordShapeInTheAccountsTimeZone(t *testing.T) {
	s, c := newTestServer(t, Options{PageMultiple: 1})
	if err := s.PutAccount(clevertap.Account{ID: "IN-TZ", Passcodes: []string{"p"}, Region: "in1",
		Timezone: "Asia/Kolkata"}); err != nil {
		t.Fatal(err)
	}
	creds := clevertap.Credentials{AccountID: "IN-TZ", Passcode: "p"}
	uploadRaw(t, c, "in1", creds,
		`{"type":"profile","identity":"5555555555","objectId":"a8ffcbc9-a747-4ee3-a791-c5e58ad03097",`+
			`"profileData":{"Email":"peter@foo.com","favoriteColor":"blue"}}`,
		`{"type":"event","identity":"5555555555","ts":1668817177,"evtName":"choseNewFavoriteFood",`+
			`"evtData":{ "value" : "pizza" }}`)
	// 2022-11-19T00:19:37Z is 05:49:37 in India: CleverTap's ts 20221119054937 for an in1 account
	wantRecord := `{"profile":{"objectId":"a8ffcbc9-a747-4ee3-a791-c5e58ad03097","platform":"Web",` +
		`"email":"peter@foo.com","profileData":{"Email":"peter@foo.com","favoriteColor":"blue"},` +
		`"identity":"5555555555","id":1,"events":{"choseNewFavoriteFood":{"count":1,"first_seen":1668817177,` +
		`"last_seen":1668817177}}},"ts":20221119054937,"event_props":{"value":"pizza"},"session_props":{}}`
	first := send(t, c, http.MethodPost, "/in1/1/events.json?batch_size=50", creds,
		`{"event_name":"choseNewFavoriteFood","from":20221119,"to":20221119}`)
	got := pages(t, c, "/in1/1/events.json", creds, first)
	if len(got) != 1 || len(got[0].Records) != 1 {
		t.Fatalf("expected one page of one record, got %+v", got)
	}
	assertJSONEqual(t, got[0].Records[0], wantRecord)

	lean := send(t, c, http.MethodPost, "/in1/1/events.json?batch_size=50&profile=false&events=false", creds,
		`{"event_name":"choseNewFavoriteFood","from":20221119,"to":20221119}`)
	rec := pages(t, c, "/in1/1/events.json", creds, lean)[0].Records[0]
	assertJSONEqual(t, rec, `{"profile":{"objectId":"a8ffcbc9-a747-4ee3-a791-c5e58ad03097","platform":"Web",`+
		`"email":"peter@foo.com","identity":"5555555555","id":1},"ts":20221119054937,"event_props":{"value":"pizza"},`+
		`"session_props":{}}`)

	// the same instant is still 2022-11-18 nowhere in India: a range of the 18th holds nothing
	empty := send(t, c, http.MethodPost, "/in1/1/events.json", creds,
		`{"event_name":"choseNewFavoriteFood","from":20221118,"to":20221118}`)
	if p := pages(t, c, "/in1/1/events.json", creds, empty); len(p) != 0 {
		t.Fatalf(`expected the chain's end at once ({"status":"success"}), got %+v`, p)
	}
}

func assertJSONEqual(t *testing.T, got json.RawMessage, want string) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("not JSON: %s", got)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("the expected value is not JSON: %s", want)
	}
	if !reflect.DeepEqual(g, w) {
		t.Fatalf("expected %s\ngot      %s", want, got)
	}
}

func TestReadQueryErrors(t *testing.T) {
	cases := []struct{ name, query, body, want string }{
		{"no event", "", `{"from":20251202,"to":20251202}`,
			`{"status":"fail","error":"Event Name is missing","code":400}`},
		{"no from", "", `{"event_name":"Renewal","to":20251202}`,
			`{"status":"fail","error":"'From' is missing","code":400}`},
		{"no to", "", `{"event_name":"Renewal","from":20251202}`,
			`{"status":"fail","error":"'To' is missing","code":400}`},
		{"date as string", "", `{"event_name":"Renewal","from":"20251202","to":20251202}`,
			`{"status":"fail","error":"Invalid date. Dates should be integers in YYYYMMDD format","code":400}`},
		{"no such day", "", `{"event_name":"Renewal","from":20251131,"to":20251202}`,
			`{"status":"fail","error":"Invalid date. Dates should be integers in YYYYMMDD format","code":400}`},
		{"epoch seconds", "", `{"event_name":"Renewal","from":1764633600,"to":20251202}`,
			`{"status":"fail","error":"Invalid date. Dates should be integers in YYYYMMDD format","code":400}`},
		{"from after to", "", `{"event_name":"Renewal","from":20251203,"to":20251202}`,
			`{"status":"fail","error":"Invalid date range: 'from' greater than 'to'","code":400}`},
		{"unknown event", "", `{"event_name":"renewal","from":20251202,"to":20251202}`,
			`{"status":"fail","error":"[\"Invalid event : renewal\"]","code":400}`},
		{"unknown operator", "", `{"event_name":"Renewal","from":20251202,"to":20251202,` +
			`"event_properties":[{"name":"n","operator":"like","value":1}]}`,
			`{"status":"fail","error":"Invalid operator : like","code":400}`},
		{"batch size 0", "?batch_size=0", `{"event_name":"Renewal","from":20251202,"to":20251202}`,
			`{"status":"fail","error":"Invalid batch_size. It should be an integer between 1 and 5000","code":400}`},
		{"not JSON", "", `event_name=Renewal`, `{"status":"fail","error":"Malformed request","code":400}`},
		{"51 conditions", "", `{"event_name":"Renewal","from":20251202,"to":20251202,"event_properties":[` +
			strings.TrimSuffix(strings.Repeat(`{"name":"n","value":1},`, 51), ",") + `]}`,
			`{"status":"fail","error":"Malformed request","code":400}`},
		{"501 values", "", `{"event_name":"Renewal","from":20251202,"to":20251202,"event_properties":[` +
			`{"name":"n","value":[` + strings.TrimSuffix(strings.Repeat(`1,`, 501), ",") + `]}]}`,
			`{"status":"fail","error":"Malformed request","code":400}`},
	}
	for _, strict := range []bool{false, true} {
		_, c := newTestServer(t, Options{ReadErrorsWithHTTPStatus: strict})
		renewals(t, c)
		for _, tc := range cases {
			res := send(t, c, http.MethodPost, "/eu1/1/events.json"+tc.query, eu1Creds, tc.body)
			wantStatus := map[bool]int{false: 200, true: 400}[strict]
			if res.StatusCode != wantStatus || string(res.Body) != tc.want {
				t.Errorf("%s (HTTP status for errors: %v): expected HTTP %d %s, got %d %s", tc.name, strict, wantStatus,
					tc.want, res.StatusCode, res.Body)
			}
			if res.Diagnosis == "" {
				t.Errorf("%s: expected a diagnosis saying what was wrong", tc.name)
			}
		}
	}
}

func TestBatchSizeOver5000IsTaken5000(t *testing.T) {
	_, c := newTestServer(t, Options{PageMultiple: 1})
	renewals(t, c)
	res := send(t, c, http.MethodPost, "/eu1/1/events.json?batch_size=50000", eu1Creds,
		`{"event_name":"Renewal","from":20251202,"to":20251202}`)
	if got := pages(t, c, "/eu1/1/events.json", eu1Creds, res); len(got) != 1 || len(got[0].Records) != 24 {
		t.Fatalf("expected one page of 24, got %d pages", len(got))
	}
	if !strings.Contains(res.Diagnosis, "pages of 5000") {
		t.Fatalf("expected the diagnosis to say the batch size was lowered, got %q", res.Diagnosis)
	}
}

// fakeClock is a clock a test moves by hand.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (f *fakeClock) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

func (f *fakeClock) Advance(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.now = f.now.Add(d)
}

func TestCursorsAreOpaqueRepeatableAndExpire(t *testing.T) {
	clock := &fakeClock{now: time.Date(2025, 12, 3, 9, 0, 0, 0, time.UTC)}
	_, c := newTestServer(t, Options{Now: clock.Now, CursorIdleTTL: time.Minute, CursorTTL: time.Hour})
	renewals(t, c)
	first := decodePage(t, send(t, c, http.MethodPost, "/eu1/1/events.json?batch_size=5", eu1Creds,
		`{"event_name":"Renewal","from":20251202,"to":20251202}`))
	path := "/eu1/1/events.json?cursor=" + first.Cursor

	a := send(t, c, http.MethodGet, path, eu1Creds, "")
	b := send(t, c, http.MethodGet, path, eu1Creds, "")
	if string(a.Body) != string(b.Body) {
		t.Fatal("the same cursor twice must give the same page")
	}
	viaPost := send(t, c, http.MethodPost, path, eu1Creds, "")
	if string(viaPost.Body) != string(a.Body) {
		t.Fatalf("POST ?cursor= (as some clients send it) must give the same page, got %s", viaPost.Body)
	}

	// what live captures show for a double-encoded cursor (mmirzafahmi/quickhouse, bruin-data/ingestr)
	incorrect := `{"status":"fail","error":"Incorrect Usage","code":3}`
	twice := send(t, c, http.MethodGet, "/eu1/1/events.json?cursor="+url.QueryEscape(first.Cursor), eu1Creds, "")
	if string(twice.Body) != incorrect || !strings.Contains(twice.Diagnosis, "percent-encoded twice") {
		t.Fatalf("a cursor encoded again: expected %s and a diagnosis, got %s (%s)", incorrect, twice.Body,
			twice.Diagnosis)
	}
	other := send(t, c, http.MethodGet, strings.Replace(path, "/eu1/", "/in1/", 1), in1Creds, "")
	if string(other.Body) != incorrect {
		t.Fatalf("another account's cursor: expected %s, got %s", incorrect, other.Body)
	}

	clock.Advance(2 * time.Minute)
	expired := send(t, c, http.MethodGet, path, eu1Creds, "")
	if string(expired.Body) != incorrect || !strings.Contains(expired.Diagnosis, "expired") {
		t.Fatalf("an idle cursor: expected %s saying expired, got %s (%s)", incorrect, expired.Body, expired.Diagnosis)
	}
}

func TestLegacyFirstCallWithQueryInTheURL(t *testing.T) {
	_, c := newTestServer(t, Options{PageMultiple: 1})
	renewals(t, c)
	q := url.QueryEscape(`{"event_name":"Renewal","from":20251202,"to":20251202}`)
	first := send(t, c, http.MethodGet, "/eu1/1/events.json?batch_size=100&query="+q, eu1Creds, "")
	if got := pages(t, c, "/eu1/1/events.json", eu1Creds, first); len(got) != 1 || len(got[0].Records) != 24 {
		t.Fatalf("expected one page of 24 records, got %+v", got)
	}
	bare := send(t, c, http.MethodGet, "/eu1/1/events.json", eu1Creds, "")
	if string(bare.Body) != `{"status":"fail","error":"Incorrect Usage","code":400}` {
		t.Fatalf("a GET with neither cursor nor query: expected Incorrect Usage, got %s", bare.Body)
	}
}

// count runs a query and counts the records of all its pages.
func countRecords(t *testing.T, c *clevertap.Client, path, body string) int {
	t.Helper()
	n := 0
	for _, p := range pages(t, c, path, eu1Creds, send(t, c, http.MethodPost, path+"?batch_size=100", eu1Creds,
		body)) {
		n += len(p.Records)
	}
	return n
}

func TestQueryLanguageFilters(t *testing.T) {
	_, c := newTestServer(t, Options{PageMultiple: 1})
	uploadRaw(t, c, "eu1", eu1Creds,
		`{"type":"profile","identity":"a","profileData":{"language":"en","Gender":"F","Tags":["x","y"]}}`,
		`{"type":"profile","identity":"b","profileData":{"language":"fr","Gender":"M"}}`,
		`{"type":"token","objectId":"__b1","tokenData":{"id":"tok","type":"fcm"}}`,
		`{"type":"profile","identity":"b","objectId":"__b1","profileData":{}}`,
		fmt.Sprintf(`{"type":"event","identity":"a","ts":%d,"evtName":"Food","evtData":{"value":"pizza","n":3}}`, dec2),
		fmt.Sprintf(`{"type":"event","identity":"b","ts":%d,"evtName":"Food","evtData":{"value":"pasta","n":7}}`, dec2),
		fmt.Sprintf(`{"type":"event","identity":"b","ts":%d,"evtName":"Food","evtData":{"value":"pizza","n":"9"}}`,
			dec2))
	base := `"event_name":"Food","from":20251202,"to":20251202`
	cases := []struct {
		filter string
		want   int
	}{
		{``, 3},
		{`,"event_properties":[{"name":"value","operator":"contains","value":"piz"}]`, 2},
		{`,"props":[{"name":"value","value":"pasta"}]`, 1},
		{`,"event_properties":[{"name":"value","value":["pasta","pizza"]}]`, 3},
		{`,"event_properties":[{"name":"n","operator":"greater_than","value":5}]`, 2},
		{`,"event_properties":[{"name":"n","operator":"less_than_equals","value":3}]`, 1},
		{`,"event_properties":[{"name":"missing","value":"x"}]`, 0},
		{`,"common_profile_properties":{"profile_fields":[{"name":"language","operator":"equals","value":"en"}]}`, 1},
		{`,"common_profile_properties":{"profile_fields":[{"name":"Tags","value":"y"}]}`, 1},
		{`,"common_profile_properties":{"demographics":[{"name":"Gender","value":"Female"}]}`, 1},
		{`,"common_profile_properties":{"reachability":[{"name":"has_token","value":"True"}]}`, 2},
		{`,"common_profile_properties":{"geo_fields":[{"name":"Country","value":"India"}]}`, 0},
		{`,"session_properties":[{"name":"first_time","value":"True"}]`, 0},
	}
	for _, tc := range cases {
		body := "{" + base + tc.filter + "}"
		if n := countRecords(t, c, "/eu1/1/events.json", body); n != tc.want {
			t.Errorf("filter %s: expected %d events, got %d", tc.filter, tc.want, n)
		}
	}
}

func TestGetProfilesByEvent(t *testing.T) {
	_, c := newTestServer(t, Options{PageMultiple: 1})
	renewals(t, c)
	uploadRaw(t, c, "eu1", eu1Creds,
		`{"type":"profile","identity":"u1","profileData":{"Email":"u1@example.com","Plan":"gold"}}`,
		`{"type":"token","objectId":"-1a063854f83a4c6484285039ecff87cb","tokenData":{"id":"95f9","type":"apns"}}`,
		`{"type":"profile","identity":"u2","objectId":"-1a063854f83a4c6484285039ecff87cb","profileData":{}}`)
	first := send(t, c, http.MethodPost, "/eu1/1/profiles.json?batch_size=2", eu1Creds,
		`{"event_name":"Renewal","from":20251202,"to":20251202}`)
	got := pages(t, c, "/eu1/1/profiles.json", eu1Creds, first)
	if len(got) != 3 || len(got[0].Records) != 2 || len(got[2].Records) != 1 {
		t.Fatalf("expected u0..u4 once each in pages of 2, 2 and 1, got %d pages", len(got))
	}
	assertJSONEqual(t, got[0].Records[1], `{"identity":"u1","email":"u1@example.com","profileData":`+
		`{"Email":"u1@example.com","Plan":"gold"},"events":{"Renewal":{"count":5,"first_seen":1764637200,`+
		`"last_seen":1764709200}},"platformInfo":[]}`)
	assertJSONEqual(t, got[1].Records[0], `{"identity":"u2","profileData":{},"events":{"Renewal":{"count":5,`+
		`"first_seen":1764640800,"last_seen":1764712800}},"platformInfo":[{"platform":"iOS",`+
		`"objectId":"-1a063854f83a4c6484285039ecff87cb","push_token":"95f9"}]}`)
}

// Open results are bounded by the records they hold: past the bound the oldest goes, its cursor with it.
func TestOpenResultsAreBounded(t *testing.T) {
	s, c := newTestServer(t, Options{PageMultiple: 1})
	s.cursors.maxHeld = 50 // two results of 24 fit, a third pushes the first out
	renewals(t, c)
	var cursors []string
	for i := 0; i < 3; i++ {
		first := decodePage(t, send(t, c, http.MethodPost, "/eu1/1/events.json", eu1Creds,
			`{"event_name":"Renewal","from":20251202,"to":20251202}`))
		cursors = append(cursors, first.Cursor)
	}
	for i, want := range []string{"fail", "success", "success"} {
		page := send(t, c, http.MethodGet, "/eu1/1/events.json?cursor="+cursors[i], eu1Creds, "")
		if p := decodePage(t, page); p.Status != want {
			t.Errorf("result %d: expected %s, got %+v", i, want, p)
		}
	}
}

// Pages as live chains come by default (github.com/mmirzafahmi/quickhouse fixtures, a live sg1 chain): a
// multiple of 23 records (4,991 for batch_size 5000), 989 for a batch_size under 23, no previous_cursor, and
// one more page {"status":"success"} at the end.
func TestPagesHoldMultiplesOf23ByDefault(t *testing.T) {
	_, c := newTestServer(t, Options{})
	var records []string
	for i := 0; i < 1200; i++ {
		records = append(records, fmt.Sprintf(`{"type":"event","identity":"u%d","ts":%d,"evtName":"Renewal",`+
			`"evtData":{"n":%d}}`, i%7, dec2+i, i))
	}
	for i := 0; i < len(records); i += 600 {
		uploadRaw(t, c, "eu1", eu1Creds, records[i:i+600]...)
	}
	query := `{"event_name":"Renewal","from":20251202,"to":20251202}`
	for _, tc := range []struct {
		batch string
		sizes []int
	}{
		{"100", []int{92, 92, 92, 92, 92, 92, 92, 92, 92, 92, 92, 92, 92, 4}}, // 23 × 4
		{"50", nil}, // 46 a page: checked by count below
		{"5", []int{989, 211}},
		{"5000", []int{1200}},
	} {
		first := send(t, c, http.MethodPost, "/eu1/1/events.json?batch_size="+tc.batch, eu1Creds, query)
		var sizes []int
		for _, p := range pages(t, c, "/eu1/1/events.json", eu1Creds, first) {
			sizes = append(sizes, len(p.Records))
		}
		if tc.sizes == nil {
			if len(sizes) != 27 || sizes[0] != 46 || sizes[26] != 1200-26*46 {
				t.Errorf("batch_size %s: expected 26 pages of 46 and one of 4, got %v", tc.batch, sizes)
			}
			continue
		}
		if !reflect.DeepEqual(sizes, tc.sizes) {
			t.Errorf("batch_size %s: expected pages of %v, got %v", tc.batch, tc.sizes, sizes)
		}
		if tc.batch == "100" && !strings.Contains(first.Diagnosis, "pages of 92 records") {
			t.Errorf("expected the diagnosis to say the page size, got %q", first.Diagnosis)
		}
	}
}
