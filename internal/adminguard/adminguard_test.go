package adminguard

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestHostsAdmittedAndRefused(t *testing.T) {
	g, err := New("simulator, .corp.example", "relay:8080")
	if err != nil {
		t.Fatal(err)
	}
	for host, want := range map[string]bool{
		"127.0.0.1:8081": true, "localhost:8081": true, "LOCALHOST.": true, "simulator.localhost": true,
		"[::1]:8081": true, "10.0.3.7:8081": true, "": true, "simulator:8081": true, "relay": true,
		"a.corp.example":        true,
		"attacker.example:8081": false, "localhost.attacker.example": false, "simulator.attacker.example": false,
		"corp.example.attacker.test": false, "127.0.0.1.nip.io": false,
	} {
		if got := g.AllowsHost(host); got != want {
			t.Errorf("Host %q: expected admitted=%v, got %v", host, want, got)
		}
	}
	var zero *Guard
	if zero.AllowsHost("attacker.example") || !zero.AllowsHost("127.0.0.1:1") {
		t.Error("a nil guard must admit loopback and addresses only")
	}
	if any, _ := New("*"); !any.AllowsHost("attacker.example") {
		t.Error(`"*" must admit any Host`)
	}
}

func TestBadEntriesAreNamed(t *testing.T) {
	for _, e := range []string{"http://simulator", "simulator/path", "user@simulator"} {
		_, err := New(e)
		if err == nil || !strings.Contains(err.Error(), "--allowed-hosts: expected host names") ||
			!strings.Contains(err.Error(), e) {
			t.Errorf("%q: expected an error naming the flag and the entry, got %v", e, err)
		}
	}
}

func TestRefusals(t *testing.T) {
	g := MustNew()
	handled := 0
	h := g.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { handled++ }))
	cases := []struct {
		name, method, host string
		header             map[string]string
		status             int
		says               string
	}{
		{"a read from loopback", "GET", "127.0.0.1:8081", nil, 200, ""},
		{"a read from a rebound name", "GET", "attacker.example:8081", nil, 403,
			`got \"attacker.example:8081\"`},
		{"the fix is named", "GET", "attacker.example:8081", nil, 403, "--allowed-hosts attacker.example"},
		{"JSON from a program", "POST", "127.0.0.1:8081", map[string]string{"Content-Type": "application/json"},
			200, ""},
		{"JSON with a charset from its own page", "POST", "localhost:8081", map[string]string{
			"Content-Type": "application/json; charset=utf-8", "Origin": "http://localhost:8081",
			"Sec-Fetch-Site": "same-origin"}, 200, ""},
		{"a form", "POST", "127.0.0.1:8081", map[string]string{"Content-Type": "text/plain"}, 415,
			`got \"text/plain\"`},
		{"no body, no type (a no-cors fetch)", "POST", "127.0.0.1:8081", nil, 415, "Content-Type: application/json"},
		{"a delete with no type", "DELETE", "127.0.0.1:8081", nil, 415, "Content-Type"},
		{"JSON from another origin", "POST", "127.0.0.1:8081", map[string]string{
			"Content-Type": "application/json", "Origin": "http://attacker.example"}, 403, "attacker.example"},
		{"an opaque origin", "POST", "127.0.0.1:8081", map[string]string{
			"Content-Type": "application/json", "Origin": "null"}, 403, `Origin \"null\"`},
		{"another port on the same host", "POST", "127.0.0.1:8081", map[string]string{
			"Content-Type": "application/json", "Origin": "http://127.0.0.1:3000"}, 403, "127.0.0.1:3000"},
		{"a browser's cross-site mark", "POST", "127.0.0.1:8081", map[string]string{
			"Content-Type": "application/json", "Sec-Fetch-Site": "cross-site"}, 403, "Sec-Fetch-Site: cross-site"},
		{"same-site is another site too", "POST", "127.0.0.1:8081", map[string]string{
			"Content-Type": "application/json", "Sec-Fetch-Site": "same-site"}, 403, "same-site"},
	}
	for _, tc := range cases {
		before := handled
		req := httptest.NewRequest(tc.method, "/_sim/faults", nil)
		req.Host = tc.host
		for k, v := range tc.header {
			req.Header.Set(k, v)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != tc.status || !strings.Contains(rec.Body.String(), tc.says) {
			t.Errorf("%s: expected %d saying %q, got %d %s", tc.name, tc.status, tc.says, rec.Code, rec.Body)
		}
		if reached := handled > before; reached != (tc.status == 200) {
			t.Errorf("%s: the handler reached=%v with status %d", tc.name, reached, tc.status)
		}
	}
}

func TestTheEchoedHostIsBounded(t *testing.T) {
	req := httptest.NewRequest("GET", "/_sim/requests", nil)
	req.Host = strings.Repeat("a", 5000) + ".example"
	_, reason := MustNew().Refusal(req)
	if len(reason) > 600 {
		t.Fatalf("expected the refusal to clip the Host, got %d bytes", len(reason))
	}
}
