package fake

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"testing"
	"time"

	"github.com/ctharness/ctharness/simulator/clevertap"
)

var partialShape = regexp.MustCompile(`^\{"req_id":([1-9][0-9]{14}),"status":"partial"\}$`)

// startCount posts a count and returns its req_id from the partial answer.
func startCount(t *testing.T, c *clevertap.Client, path, body string) string {
	t.Helper()
	res := send(t, c, http.MethodPost, path, eu1Creds, body)
	m := partialShape.FindStringSubmatch(string(res.Body))
	if res.StatusCode != 200 || m == nil {
		t.Fatalf("%s: expected {\"req_id\":<15 digits>,\"status\":\"partial\"}, got %d %s", path, res.StatusCode, res.Body)
	}
	return m[1]
}

const renewalsOfDec2 = `{"event_name":"Renewal","from":20251202,"to":20251202}`

func TestCountsArePartialThenPolled(t *testing.T) {
	clock := &fakeClock{now: time.Date(2025, 12, 3, 9, 0, 0, 0, time.UTC)}
	_, c := newTestServer(t, Options{Now: clock.Now, CountDelay: 10 * time.Second})
	renewals(t, c)
	id := startCount(t, c, "/eu1/1/counts/events.json", renewalsOfDec2)
	poll := "/eu1/1/counts/events.json?req_id=" + id
	if res := send(t, c, http.MethodGet, poll, eu1Creds, ""); !partialShape.Match(res.Body) {
		t.Fatalf("before CountDelay: expected partial again, got %s", res.Body)
	}
	clock.Advance(11 * time.Second)
	if res := send(t, c, http.MethodGet, poll, eu1Creds, ""); string(res.Body) != `{"count":24,"status":"success"}` {
		t.Fatalf("after CountDelay: expected the count of 24, got %s", res.Body)
	}
	profiles := startCount(t, c, "/eu1/1/counts/profiles.json", renewalsOfDec2)
	clock.Advance(11 * time.Second)
	res := send(t, c, http.MethodGet, "/eu1/1/counts/profiles.json?req_id="+profiles, eu1Creds, "")
	// 5 profiles (u0..u4) did 24 renewals; the extra fields as recorded answers carry them
	if want := `{"count":5,"nQCount":0,"status":"success","tcount":24,"userDeviceCount":{"devices":5,"users":5}}`; string(
		res.Body) != want {
		t.Fatalf("profile count: expected %s, got %s", want, res.Body)
	}

	invalid := `{"status":"fail","error":"Invalid request id","code":400}`
	for name, path := range map[string]string{
		"unknown":       "/eu1/1/counts/events.json?req_id=123456789012345",
		"not a number":  "/eu1/1/counts/events.json?req_id=abc",
		"another route": "/eu1/1/counts/trends.json?req_id=" + id,
	} {
		if res := send(t, c, http.MethodGet, path, eu1Creds, ""); string(res.Body) != invalid {
			t.Errorf("%s req_id: expected %s, got %s", name, invalid, res.Body)
		}
	}
	clock.Advance(5 * time.Hour)
	if res := send(t, c, http.MethodGet, poll, eu1Creds, ""); string(res.Body) != invalid {
		t.Errorf("a req_id older than CursorTTL: expected %s, got %s", invalid, res.Body)
	}
}

func TestCountImmediateAnswersAtOnce(t *testing.T) {
	_, c := newTestServer(t, Options{CountImmediate: true})
	renewals(t, c)
	res := send(t, c, http.MethodPost, "/eu1/1/counts/events.json", eu1Creds, renewalsOfDec2)
	if string(res.Body) != `{"count":24,"status":"success"}` {
		t.Fatalf("expected the count at once, got %s", res.Body)
	}
}

// poll posts a count and polls it once (CountDelay 0: ready on the first poll).
func poll(t *testing.T, c *clevertap.Client, path, body string) string {
	t.Helper()
	id := startCount(t, c, path, body)
	return string(send(t, c, http.MethodGet, path+"?req_id="+id, eu1Creds, "").Body)
}

func TestTopPropertyCounts(t *testing.T) {
	_, c := newTestServer(t, Options{})
	uploadRaw(t, c, "eu1", eu1Creds,
		`{"type":"profile","identity":"a","profileData":{"Customer Type":"Gold"}}`,
		`{"type":"profile","identity":"b","profileData":{"Customer Type":"Gold"}}`,
		`{"type":"profile","identity":"c","profileData":{"Customer Type":"Silver"}}`)
	for i, e := range []struct {
		who    string
		amount float64
	}{{"a", 5}, {"a", 15}, {"b", 25}, {"c", 150}} {
		uploadRaw(t, c, "eu1", eu1Creds, fmt.Sprintf(`{"type":"event","identity":%q,"ts":%d,"evtName":"Charged",`+
			`"evtData":{"Amount":%v,"Items":[{"Category":"books"}]}}`, e.who, dec2+i, e.amount))
	}
	got := poll(t, c, "/eu1/1/counts/top.json", `{"event_name":"Charged","from":20251202,"to":20251202,"groups":{`+
		`"foo":{"property_type":"event_properties","name":"Amount"},`+
		`"bar":{"property_type":"profile_fields","name":"Customer Type"},`+
		`"top1":{"property_type":"profile_fields","name":"Customer Type","top_n":1},`+
		`"asc1":{"property_type":"profile_fields","name":"Customer Type","top_n":1,"order":"asc"}}}`)
	want := `{"status":"success","asc1":{"STR":{"Silver":1}},"bar":{"STR":{"Gold":2,"Silver":1}},` +
		`"foo":{"NUMBER":{"0-100":3,"100-200":1}},"top1":{"STR":{"Gold":2}}}`
	if got != want {
		t.Fatalf("expected %s\ngot      %s", want, got)
	}
	bad := string(send(t, c, http.MethodPost, "/eu1/1/counts/top.json", eu1Creds,
		`{"event_name":"Charged","from":20251202,"to":20251202,`+
			`"groups":{"x":{"property_type":"nope","name":"Amount"}}}`).Body)
	if bad != `{"status":"fail","error":"Invalid group : x","code":400}` {
		t.Fatalf("an unknown property_type: expected Invalid group, got %s", bad)
	}
}

func TestTrends(t *testing.T) {
	_, c := newTestServer(t, Options{})
	renewals(t, c) // Renewal: one on Dec 1 (u9), 24 on Dec 2 (u0..u4), one at midnight on Dec 3 (u4)
	got := poll(t, c, "/eu1/1/counts/trends.json", `{"event_name":"Renewal","from":20251201,"to":20251203,`+
		`"groups":{"foo":{"trend_type":"daily"},"bar":{"trend_type":"weekly"},"foobar":{"trend_type":"monthly"}}}`)
	want := `{"status":"success","bar":{"202549":26},"foo":{"20251201":1,"20251202":24,"20251203":1},` +
		`"foobar":{"202512":26}}`
	if got != want {
		t.Fatalf("expected %s\ngot      %s", want, got)
	}
	unique := poll(t, c, "/eu1/1/counts/trends.json", `{"event_name":"Renewal","from":20251130,"to":20251203,`+
		`"unique":true,"groups":{"foo":{"trend_type":"daily"},"bar":{"trend_type":"weekly"}}}`)
	// Nov 30 2025 is a Sunday, the last day of ISO week 48
	want = `{"status":"success","bar":{"202548":0,"202549":6},` +
		`"foo":{"20251130":0,"20251201":1,"20251202":5,"20251203":1}}`
	if unique != want {
		t.Fatalf("unique: expected %s\ngot      %s", want, unique)
	}
	sum := poll(t, c, "/eu1/1/counts/trends.json", `{"event_name":"Renewal","from":20251202,"to":20251202,`+
		`"sum_event_prop":"n","groups":{"foo":{"trend_type":"daily"}}}`)
	if sum != `{"status":"success","foo":{"20251202":276}}` { // 0 + 1 + ... + 23
		t.Fatalf("sum_event_prop: expected 276, got %s", sum)
	}
}

func TestRealTimeCounts(t *testing.T) {
	clock := &fakeClock{now: time.Date(2025, 12, 3, 9, 0, 0, 0, time.UTC)}
	_, c := newTestServer(t, Options{Now: clock.Now})
	uploadRaw(t, c, "eu1", eu1Creds, `{"type":"event","identity":"old","evtName":"Open","evtData":{}}`)
	clock.Advance(10 * time.Minute)
	uploadRaw(t, c, "eu1", eu1Creds,
		`{"type":"profile","identity":"buyer","objectId":"__a1","profileData":{"Email":"b@example.com"}}`,
		`{"type":"event","identity":"buyer","evtName":"Charged","evtData":{"Amount":1}}`,
		`{"type":"event","identity":"old","evtName":"Open","evtData":{}}`)
	clock.Advance(time.Minute)
	basic := send(t, c, http.MethodPost, "/eu1/1/now.json", eu1Creds, "")
	if want := `{"status":"success","count":2,"last_processed_ts":1764753060}`; string(basic.Body) != want {
		t.Fatalf("expected %s, got %s", want, basic.Body)
	}
	full := send(t, c, http.MethodPost, "/eu1/1/now.json", eu1Creds, `{"user_type":true,"os":true,"new":true}`)
	var got map[string]json.RawMessage
	_ = json.Unmarshal(full.Body, &got)
	assertJSONEqual(t, got["user_type"], `{"new":1,"repeat":1,"addressable":1,"customer":1}`)
	assertJSONEqual(t, got["os"], `{"others":0,"android":1,"ios":0,"windows":0,"mac":0,"linux":0}`)
	assertJSONEqual(t, got["new"], `{"session_source":{"direct":0,"others":0,"search":0,"social":0,"email":0,`+
		`"unavailable":1},"browser":{"others":0,"firefox":0,"chrome":0,"ie":0,"mobileapp":1},`+
		`"os":{"others":0,"android":1,"ios":0,"windows":0,"mac":0,"linux":0},"device":{"desktop":0,"mobile":1,"tablet":0}}`)
	if bad := send(t, c, http.MethodPost, "/eu1/1/now.json", eu1Creds, `{"users":true}`); string(bad.Body) !=
		`{"status":"fail","error":"Malformed request","code":400}` {
		t.Fatalf("an unknown switch: expected Malformed request, got %s", bad.Body)
	}
}
