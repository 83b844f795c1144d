package redact

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

func TestURLsLoseTheirCredentials(t *testing.T) {
	for raw, want := range map[string]string{
		"http://alice:PW@host/hook":             "http://alice:REDACTED@host/hook",
		"http://alice@host/hook":                "http://alice@host/hook",
		"https://h/hook?token=PW&user=u1":       "https://h/hook?token=REDACTED&user=u1",
		"https://h/a?account_passcode=PW&b=1":   "https://h/a?account_passcode=REDACTED&b=1",
		"https://h/a?Access_Token=PW":           "https://h/a?Access_Token=REDACTED",
		"https://h/a?key=PW":                    "https://h/a?key=REDACTED",
		"https://h/a?keyword=kept&z=1&a=2":      "https://h/a?keyword=kept&z=1&a=2",
		"https://h/a?b=%zz":                     "https://h/a?REDACTED",
		"http://u:PW@h:8080/p?api_key=PW#frag":  "http://u:REDACTED@h:8080/p?api_key=REDACTED#frag",
		"ht!tp://u:PW@h/%%":                     "ht!tp://REDACTED@h/%%",
		"http://127.0.0.1:8080/webhooks/appsfl": "http://127.0.0.1:8080/webhooks/appsfl",
		"(not sent)":                            "(not sent)",
	} {
		if got := URL(raw); got != want {
			t.Errorf("URL(%q): expected %q, got %q", raw, want, got)
		}
		if strings.Contains(URL(raw), "PW") {
			t.Errorf("URL(%q) still shows the password: %q", raw, URL(raw))
		}
	}
}

func TestHeadersAndTextLoseTheirCredentials(t *testing.T) {
	h := http.Header{"Authorization": {"Bearer PW"}, "Proxy-Authorization": {"Basic PW"}, "X-Api-Key": {"PW"},
		"X-Clevertap-Passcode": {"PW"}, "Cookie": {"s=PW"}, "X-Auth-Token": {"PW"},
		"X-Clevertap-Account-Id": {"ACME"}, "Content-Type": {"application/json"}}
	got := Headers(h)
	for k, v := range got {
		if strings.Contains(v, "PW") {
			t.Errorf("header %s kept its credential: %q", k, v)
		}
	}
	if got["X-Clevertap-Account-Id"] != "ACME" || got["Content-Type"] != "application/json" {
		t.Errorf("expected the other headers kept, got %v", got)
	}
	if q := Query(url.Values{"account_token": {"PW"}, "partner_name": {"AppsFlyer"}}); q !=
		"account_token=REDACTED&partner_name=AppsFlyer" {
		t.Errorf("Query: got %q", q)
	}
	msg := `Post "http://alice:***@h/hook?token=PW": dial tcp: refused; then https://x/y?passcode=PW.`
	if got := Text(msg); strings.Contains(got, "PW") || !strings.Contains(got, "http://alice:REDACTED@h/hook") {
		t.Errorf("Text: got %q", got)
	}
}
