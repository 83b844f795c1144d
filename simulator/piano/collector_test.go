package piano

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

func collect(t *testing.T, c *Collector, method, target, host, body string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, target, strings.NewReader(body))
	req.Host = host
	w := httptest.NewRecorder()
	if !c.Owns(req) {
		t.Fatalf("collector should own %s %s on %s", method, target, host)
	}
	c.ServeHTTP(w, req)
	return w
}

func TestDeclaredEventsAreKeptUndeclaredIgnored(t *testing.T) {
	c, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	body := `{"events":[{"name":"TRIAL_STARTED","data":{"plan":"monthly"}},{"name":"page.display","data":{}},` +
		`{"name":"MY_CUSTOM","data":{"x":1}}]}`
	w := collect(t, c, http.MethodPost, "/subscription?s=100001&idclient=at-1", "collect.piano.test", body)
	if w.Code != http.StatusNoContent || w.Body.Len() != 0 {
		t.Fatalf("expected 204 with no body, got %d %q", w.Code, w.Body.String())
	}
	if diag := w.Header().Get("X-Simulator-Diagnosis"); !strings.Contains(diag,
		`event "MY_CUSTOM" is neither a Piano standard event nor declared`) {
		t.Fatalf("expected a diagnosis for the ignored event, got %q", diag)
	}
	kept := c.Hits("100001", false)
	if len(kept) != 2 || kept[0].Name != "TRIAL_STARTED" || kept[0].IDClient != "at-1" ||
		kept[0].Path != "/subscription" || kept[1].Name != "page.display" {
		t.Fatalf("expected TRIAL_STARTED and page.display kept, got %+v", kept)
	}
	all := c.Hits("", true)
	if len(all) != 3 || !all[2].Ignored {
		t.Fatalf("expected the ignored event listed with include_ignored, got %+v", all)
	}
}

func TestPathPrefixGETAndBadRequests(t *testing.T) {
	c, _ := New(Options{Sites: []Site{{ID: "7", Domain: "x.pa-cd.com", Events: []string{"a.b"},
		Properties: []string{"p"}}}})
	events := url.QueryEscape(`[{"name":"a.b","data":{"p":1,"q":2}}]`)
	w := collect(t, c, http.MethodGet, "/piano/event?s=7&idclient=v&events="+events, "127.0.0.1:8081", "")
	if w.Code != http.StatusNoContent {
		t.Fatalf("expected 204, got %d %s", w.Code, w.Body.String())
	}
	hits := c.Hits("7", false)
	if len(hits) != 1 || hits[0].Path != "/event" || len(hits[0].Unexpected) != 1 || hits[0].Unexpected[0] != "q" {
		t.Fatalf("expected one hit on /event with q unexpected, got %+v", hits)
	}
	for _, tc := range []struct{ target, body, want string }{
		{"/piano/event?s=abc", `{"events":[]}`, `expected a numeric site id in ?s=, got "abc"`},
		{"/piano/?s=7", `{"events":[]}`, "expected a collect path"},
		{"/piano/event?s=7", `{"events":{}}`, `expected "events" to be an array`},
		{"/piano/event?s=7", `not json`, "expected a body"},
	} {
		w := collect(t, c, http.MethodPost, tc.target, "127.0.0.1", tc.body)
		if w.Code != http.StatusBadRequest || !strings.Contains(w.Body.String(), tc.want) {
			t.Errorf("%s %s: expected 400 containing %q, got %d %s", tc.target, tc.body, tc.want, w.Code, w.Body.String())
		}
	}
}

func TestOwnsOnlyItsDomainsAndPrefix(t *testing.T) {
	c, _ := New(Options{})
	for _, tc := range []struct {
		host, path string
		owns       bool
	}{
		{"collect.piano.test", "/event", true},
		{"COLLECT.PIANO.TEST:443", "/event", true},
		{"api.clevertap.com", "/1/upload", false},
		{"127.0.0.1:8081", "/piano/event", true},
		{"127.0.0.1:8081", "/pianola", false},
	} {
		req := httptest.NewRequest(http.MethodPost, tc.path, nil)
		req.Host = tc.host
		if got := c.Owns(req); got != tc.owns {
			t.Errorf("%s%s: expected owns=%v, got %v", tc.host, tc.path, tc.owns, got)
		}
	}
}

func TestSiteValidation(t *testing.T) {
	if _, err := New(Options{Sites: []Site{{ID: "site-1", Domain: "d"}}}); err == nil || !strings.Contains(err.Error(),
		`piano.sites[0]: id: expected a numeric site id such as 100001, got "site-1"`) {
		t.Fatalf("expected a site id error, got %v", err)
	}
}

func TestAdminRefusesUnknownParameters(t *testing.T) {
	c, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	w := httptest.NewRecorder()
	c.adminRoutes().ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/_sim/piano/events?sites=100001", nil))
	if w.Code != http.StatusBadRequest || !strings.Contains(w.Body.String(),
		`unknown query parameter \"sites\" (did you mean \"site\"?); expected site, include_ignored`) {
		t.Fatalf("expected 400 naming the parameter, got %d %s", w.Code, w.Body.String())
	}
}

// A 1 MiB body of 1,000 events named with 1,000 '<' each gives a diagnosis header of a few KiB and a journal entry
// of a few dozen notes, not a megabyte of each.
func TestAHugeBodyGetsABoundedDiagnosis(t *testing.T) {
	c, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	name := strings.Repeat("<", 1000)
	events := make([]string, 1000)
	for i := range events {
		events[i] = `{"name":"` + name + `","data":{}}`
	}
	w := collect(t, c, http.MethodPost, "/event?s=100001&idclient=x", "collect.piano.test",
		`{"events":[`+strings.Join(events, ",")+`]}`)
	if w.Code != http.StatusNoContent {
		t.Fatalf("expected 204, got %d %s", w.Code, w.Body)
	}
	if n := len(w.Header().Get("X-Simulator-Diagnosis")); n == 0 || n > 4<<10+8 {
		t.Fatalf("expected a diagnosis header of at most 4 KiB, got %d bytes", n)
	}
	reqs := c.Requests()
	d := reqs[len(reqs)-1].Diagnosis
	size := 0
	for _, note := range d {
		size += len(note)
	}
	if len(d) > 40 || size > 40<<10 || reqs[len(reqs)-1].Ignored != 1000 {
		t.Fatalf("expected at most 40 notes and 40 KiB (and 1000 ignored counted), got %d notes, %d bytes, %d",
			len(d), size, reqs[len(reqs)-1].Ignored)
	}
}
