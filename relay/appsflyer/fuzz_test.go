package appsflyer

import (
	"errors"
	"net/http"
	"testing"

	"github.com/ctharness/ctharness/relay"
)

// FuzzMap: no Push API body crashes the mapping; refusals are 400s or skips.
func FuzzMap(f *testing.F) {
	f.Add([]byte(subscribe))
	f.Add([]byte(
		`{"event_name":"af_subscribe","event_time":"2026-01-01 00:00:00.000","appsflyer_id":"1","customer_user_id":"c",` +
			`"event_value":"[1,2"}`))
	in, err := New("f", Settings{CleverTap: CleverTap{Region: "EU1", AccountID: "A"}})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		_, err := in.Map(relay.Request{Method: http.MethodPost, Body: body})
		var bad *relay.Error
		var skip *relay.Skip
		if err != nil && !errors.As(err, &skip) && (!errors.As(err, &bad) || bad.Status != 400) {
			t.Fatalf("unexpected refusal %v", err)
		}
	})
}
