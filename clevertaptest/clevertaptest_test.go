package clevertaptest_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/ctharness/ctharness/clevertaptest"
	"github.com/ctharness/ctharness/simulator/clevertap"
)

func TestAFakeTakesUploadsAtItsRegionURLAndAtCleverTapsHostnames(t *testing.T) {
	ct := clevertaptest.New(t)
	acct := ct.Account(t, "in1")
	if acct.ID != "SIM-IN1-0001" {
		t.Fatalf("the in1 account is %q, want the default SIM-IN1-0001", acct.ID)
	}
	upload := func(client *http.Client, url string) int {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(
			`{"d":[{"type":"event","identity":"ct-1","ts":1764000000,"evtName":"Trial Started","evtData":{}}]}`))
		req.Header.Set("X-CleverTap-Account-Id", acct.ID)
		req.Header.Set("X-CleverTap-Passcode", acct.Passcodes[0])
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		return resp.StatusCode
	}
	if code := upload(http.DefaultClient, ct.RegionURL("in1")+"/1/upload"); code != 200 {
		t.Fatalf("an upload to RegionURL got %d, want 200", code)
	}
	// a service that keeps CleverTap's real URL, given the fake's transport
	if code := upload(&http.Client{Transport: ct.Transport()}, "https://in1.api.clevertap.com/1/upload"); code != 200 {
		t.Fatalf("an upload to https://in1.api.clevertap.com through Transport got %d, want 200", code)
	}
	// the wrong region's host: CleverTap's 401, as in production
	if code := upload(&http.Client{Transport: ct.Transport()}, "https://eu1.api.clevertap.com/1/upload"); code != 401 {
		t.Fatalf("an in1 account at eu1's host got %d, want 401", code)
	}
	events := ct.Wait(t, clevertap.WaitRequest{Identity: "ct-1", Count: 2})
	if len(events) != 2 || events[0].Account != "SIM-IN1-0001" {
		t.Fatalf("the fake holds %+v, want the two uploads of SIM-IN1-0001", events)
	}
}

func TestSendDrivesAServiceWithARealVendorWebhook(t *testing.T) {
	st := clevertaptest.NewStack(t)
	url, secret := st.Webhook("revenuecat")
	st.Send(t, "revenuecat", "INITIAL_PURCHASE", url, secret, clevertaptest.User("ct-send"))
	events := st.Wait(t, clevertap.WaitRequest{Identity: "ct-send", Name: "rc_initial_purchase_event", Count: 1})
	if !strings.Contains(string(events[0].Record), `"currency"`) {
		t.Errorf("the relay uploaded %s, want a purchase with its currency", events[0].Record)
	}
	accepted, err := st.Client.Requests(context.Background(),
		clevertap.JournalFilter{Outcome: clevertap.OutcomeAccepted})
	if err != nil || len(accepted) == 0 {
		t.Errorf("the journal holds no accepted request (%v)", err)
	}
}

func TestPlayBuiltInPlaysThroughTheReferenceRelay(t *testing.T) {
	st := clevertaptest.NewStack(t)
	results := st.PlayBuiltIn(t, "refund")
	if len(results) < 2 {
		t.Fatalf("%d runs of the refund scenarios, want at least 2", len(results))
	}
	for _, r := range results {
		if !r.Passed || !strings.HasPrefix(r.SystemUnderTest, "the reference relay at ") || r.Expectations != "built-in" {
			t.Errorf("%s × %s: passed %v, %s, expectations %s", r.Scenario, r.Source, r.Passed, r.SystemUnderTest,
				r.Expectations)
		}
	}
}
