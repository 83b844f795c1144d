package purchasely

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ctharness/ctharness/relay"
)

// FuzzVerifySignature: no header or body crashes the check; only the right signature for the body passes.
func FuzzVerifySignature(f *testing.F) {
	f.Add("s3cret", "1735689600", []byte(`{"event_name":"TRIAL_STARTED"}`), "", false)
	f.Add("foobar", "1698322022", []byte(`{"a_random_key":"a_random_value_ad"}`),
		"f3c2a452e9ea72f41107321aeaf7999f1054148866a710c9b23f9f501785e2a4", false)
	f.Add("s", "-1", []byte{}, "zz", true)
	f.Fuzz(func(t *testing.T, secret, ts string, body []byte, sig string, deprecated bool) {
		h := http.Header{}
		h.Set(HeaderTimestamp, ts)
		h.Set(HeaderSignature, sig)
		r := relay.Request{Header: h, Body: body, Now: time.Unix(1735689600, 0)}
		err := VerifySignature(secret, 0, deprecated, r)
		var e *relay.Error
		if err != nil && (!errors.As(err, &e) || e.Status != 401) {
			t.Fatalf("a refusal must be a 401, got %v", err)
		}
		if err == nil && secret != "" && !strings.EqualFold(sig, Signature(secret, ts, body)) {
			t.Fatalf("a wrong signature passed: secret %q ts %q sig %q", secret, ts, sig)
		}
		if secret != "" && isUnixSeconds(ts) {
			h.Set(HeaderSignature, Signature(secret, ts, body))
			if err := VerifySignature(secret, 0, deprecated, r); err != nil {
				t.Fatalf("the right signature was refused: %v", err)
			}
		}
	})
}

func isUnixSeconds(s string) bool {
	if s == "" || len(s) > 18 {
		return false
	}
	for i, c := range s {
		if c < '0' || c > '9' {
			if !(i == 0 && (c == '-' || c == '+') && len(s) > 1) {
				return false
			}
		}
	}
	return true
}

// FuzzMap: no body crashes the mapping; refusals are 400s.
func FuzzMap(f *testing.F) {
	f.Add([]byte(renewal))
	f.Add([]byte(`{"event_name":"TRIAL_STARTED","event_id":"1","event_created_at_ms":1e400}`))
	in, err := New("f", Settings{CleverTap: &CleverTap{CleverTapAccount: relay.CleverTapAccount{Region: "EU1",
		AccountID: "A", Passcode: "p"},
		UserProperties: UserPropertiesSetting{Enabled: true}}, Piano: &Piano{CollectDomain: "c.test", CollectPath: "e",
		SiteID: "1"}})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		_, err := in.Map(relay.Request{Body: body})
		var bad *relay.Error
		var skip *relay.Skip
		if err != nil && !errors.As(err, &skip) && (!errors.As(err, &bad) || bad.Status != 400) {
			t.Fatalf("unexpected refusal %v", err)
		}
	})
}
