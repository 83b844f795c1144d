package fake

import (
	"context"
	"fmt"
	"net/http"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/ctharness/ctharness/simulator/clevertap"
)

// Operators and profile facts as /1/profile.json shows them
// (https://developer.clevertap.com/docs/upload-user-profiles-api).
func TestProfileJSONShowsTheResultOfOperators(t *testing.T) {
	s, c := newTestServer(t, Options{})
	uploadRaw(t, c, "eu1", eu1Creds,
		`{"type":"profile","identity":"jack","profileData":{"Score":300,"Tags":"vip"}}`,
		`{"type":"event","identity":"jack","ts":1457271567,"evtName":"Opened","evtData":{}}`,
		`{"type":"event","identity":"jack","ts":1458041215,"evtName":"Opened","evtData":{}}`,
		`{"type":"event","identity":"jack","ts":1457300000,"evtName":"Opened","evtData":{}}`)
	uploadRaw(t, c, "eu1", eu1Creds,
		`{"type":"profile","identity":"jack","profileData":{"Score":{"$incr":8},"Tags":{"$add":["new"]}}}`,
		`{"type":"token","objectId":"__g1a2b3","tokenData":{"id":"fcm-token","type":"fcm"}}`,
		`{"type":"profile","identity":"jack","objectId":"__g1a2b3","profileData":{}}`)
	res := get(t, c, "/eu1/1/profile.json?identity=jack", eu1Creds)
	want := `{"status":"success","record":{"identity":"jack","profileData":{"Score":308,"Tags":["vip","new"]},` +
		`"events":{"Opened":{"count":3,"first_seen":1457271567,"last_seen":1458041215}},` +
		`"platformInfo":[{"platform":"Android","objectId":"__g1a2b3","push_token":"fcm-token"}]}}`
	assertJSONEqual(t, res.Body, want)
	if strings.Contains(string(res.Body), `"email"`) {
		t.Fatalf("a profile without an email must not carry \"email\": %s", res.Body)
	}
	admin, err := c.Profiles(context.Background(), "SIM-EU1-0001", "jack")
	if err != nil || len(admin) != 1 || admin[0].ProfileData["Score"] != 308.0 {
		t.Fatalf("/_sim/profiles: expected Score 308, got %+v %v", admin, err)
	}
	if n := len(s.store.FindProfiles(clevertap.ProfileQuery{Account: "SIM-EU1-0001"})); n != 1 {
		t.Fatalf("the token's anonymous profile must merge into jack's, got %d profiles", n)
	}
}

func TestProfileOperatorMistakesAreWarned(t *testing.T) {
	_, c := newTestServer(t, Options{})
	res, err := c.UploadRaw(context.Background(), "eu1", eu1Creds, []byte(`{"d":[{"type":"profile","identity":"u",`+
		`"profileData":{"A":{"$incr":"3"},"B":{"$delete":1},"C":{"$push":1},"D":{"$decr":-2},"E":[1],`+
		`"F":{"$`+strings.Repeat("x", 300)+`":1},"G":{"$delete":"`+strings.Repeat("y", 300)+`"}}}]}`), "")
	if err != nil || !strings.Contains(string(res.Body), `"processed":1`) {
		t.Fatalf("operator mistakes are accepted, as CleverTap's handling is UNCONFIRMED: %v %s", err, res.Body)
	}
	entries, _ := c.Requests(context.Background(), clevertap.JournalFilter{Account: "SIM-EU1-0001"})
	warnings := fmt.Sprint(entries[len(entries)-1].Records.Warnings)
	for _, want := range []string{`$incr takes a number`, `deletes nothing`, `"$push" is not one of`,
		`only amounts greater than 0`, `stored as a string`} {
		if !strings.Contains(warnings, want) {
			t.Errorf("expected a warning containing %q in %s", want, warnings)
		}
	}
	// what the sender wrote is quoted cut: the operator at 60 bytes, the value at 40
	for _, want := range []string{`"$` + strings.Repeat("x", 59) + `…" is not one of`,
		`{"$delete": "` + strings.Repeat("y", 39) + `…} deletes nothing`} {
		if !strings.Contains(warnings, want) {
			t.Errorf("expected a warning containing %q in %s", want, warnings)
		}
	}
	if strings.Contains(warnings, strings.Repeat("x", 61)) || strings.Contains(warnings, strings.Repeat("y", 41)) {
		t.Errorf("a warning echoes the sender's text whole: %s", warnings)
	}
}

func TestIdentityEndpoints(t *testing.T) {
	s, c := newTestServer(t, Options{})
	uploadRaw(t, c, "eu1", eu1Creds,
		`{"type":"profile","identity":"+14155550100","objectId":"__p1","profileData":{"Phone":"+14155550100"}}`,
		`{"type":"profile","identity":"ana","objectId":"__a1","profileData":{"Email":"ana@example.com"}}`,
		`{"type":"profile","objectId":"__a2","identity":"ana","profileData":{}}`)

	ok := `{"status":"success"}`
	if res := post(t, c, "api.clevertap.com", "/1/disassociate", eu1Creds,
		`{"d":[{"type":"phone","value":"+14155550100"}]}`); string(res.Body) != ok {
		t.Fatalf("disassociate: expected %s, got %s", ok, res.Body)
	}
	if res := get(t, c, "/eu1/1/profile.json?identity=%2B14155550100", eu1Creds); res.StatusCode != 404 {
		t.Fatalf("a disassociated number names no profile: expected 404, got %d", res.StatusCode)
	}
	if res := get(t, c, "/eu1/1/profile.json?objectId=__p1", eu1Creds); res.StatusCode != 200 {
		t.Fatalf("the profile stays, found by its device: expected 200, got %d", res.StatusCode)
	}

	if res := post(t, c, "api.clevertap.com", "/1/subscribe", eu1Creds,
		`{"d":[{"type":"email","value":"ana@example.com","status":"Unsubscribe"}]}`); string(res.Body) != ok {
		t.Fatalf("subscribe: expected %s, got %s", ok, res.Body)
	}
	if p := s.store.FindProfiles(clevertap.ProfileQuery{Identity: "ana"}); len(p) != 1 || !reflect.DeepEqual(p[0].DND,
		[]string{"email"}) {
		t.Fatalf("expected ana's email marked DND, got %+v", p)
	}
	_ = post(t, c, "api.clevertap.com", "/1/subscribe", eu1Creds,
		`{"d":[{"type":"email","value":"ana@example.com","status":"Resubscribe"}]}`)
	if p := s.store.FindProfiles(clevertap.ProfileQuery{Identity: "ana"}); p[0].DND != nil {
		t.Fatalf("expected ana resubscribed, got %+v", p[0].DND)
	}

	if res := post(t, c, "api.clevertap.com", "/1/demerge/profiles.json", eu1Creds,
		`{"identities":["ana"]}`); string(res.Body) != ok {
		t.Fatalf("demerge: expected %s, got %s", ok, res.Body)
	}
	if p := s.store.FindProfiles(clevertap.ProfileQuery{Identity: "ana"}); len(p[0].ObjectIDs) != 0 {
		t.Fatalf("after demerge ana keeps no device, got %v", p[0].ObjectIDs)
	}
	for _, oid := range []string{"__a1", "__a2"} {
		if p := s.store.FindProfiles(clevertap.ProfileQuery{ObjectID: oid}); len(p) != 1 || p[0].Identity != "" {
			t.Fatalf("after demerge %s is an anonymous profile of its own, got %+v", oid, p)
		}
	}

	ids := make([]string, 101)
	for i := range ids {
		ids[i] = fmt.Sprintf("%q", fmt.Sprint("id", i))
	}
	tooMany := `{"status":"fail","error":"Max 100 are allowed","code":400}`
	for _, path := range []string{"/1/delete/profiles.json", "/1/demerge/profiles.json"} {
		key := map[string]string{"/1/delete/profiles.json": "identity", "/1/demerge/profiles.json": "identities"}[path]
		res := post(t, c, "api.clevertap.com", path, eu1Creds, `{"`+key+`":[`+strings.Join(ids, ",")+`]}`)
		if res.StatusCode != 400 || string(res.Body) != tooMany {
			t.Errorf("%s with 101 ids: expected 400 %s, got %d %s", path, tooMany, res.StatusCode, res.Body)
		}
	}
	bad := post(t, c, "api.clevertap.com", "/1/subscribe", eu1Creds,
		`{"d":[{"type":"email","value":"ana@example.com","status":"Stop"}]}`)
	if bad.StatusCode != 400 || !strings.Contains(bad.Diagnosis, "Unsubscribe or Resubscribe") {
		t.Fatalf("an unknown status: expected 400 naming the statuses, got %d %s", bad.StatusCode, bad.Diagnosis)
	}
}

// Three reads of an account may be in flight; the fourth gets CleverTap's 429.
func TestReadConcurrencyLimit(t *testing.T) {
	s, c := newTestServer(t, Options{})
	renewals(t, c)
	slow := clevertap.Fault{Action: clevertap.FaultDelay, DelayMS: 60000, Endpoint: "counts", Times: 3}
	if _, err := s.AddFault(slow); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan struct{}, 3)
	for i := 0; i < 3; i++ {
		go func() {
			req, _ := http.NewRequestWithContext(ctx, http.MethodPost, c.BaseURL+"/eu1/1/counts/events.json",
				strings.NewReader(renewalsOfDec2))
			req.Header.Set("X-CleverTap-Account-Id", eu1Creds.AccountID)
			req.Header.Set("X-CleverTap-Passcode", eu1Creds.Passcode)
			_, _ = c.Do(req)
			done <- struct{}{}
		}()
	}
	waitFor(t, func() bool {
		v, ok := s.readsInFlight.Load(eu1Creds.AccountID)
		return ok && v.(interface{ Load() int32 }).Load() == 3
	})
	res := send(t, c, http.MethodPost, "/eu1/1/events.json", eu1Creds, renewalsOfDec2)
	if res.StatusCode != 429 ||
		string(res.Body) != `{"status":"fail","error":"Too many concurrent requests","code":429}` {
		t.Fatalf("a fourth read: expected 429, got %d %s", res.StatusCode, res.Body)
	}
	if up, _, err := c.Upload(context.Background(), "eu1", eu1Creds, event("u", "e")); err != nil ||
		up.Status != "success" {
		t.Fatalf("uploads have their own limit: expected success, got %+v %v", up, err)
	}
	cancel()
	for i := 0; i < 3; i++ {
		<-done
	}
}

// waitFor polls cond until it holds, failing after 10 s.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 10 s")
		}
		runtime.Gosched()
		time.Sleep(time.Millisecond)
	}
}
