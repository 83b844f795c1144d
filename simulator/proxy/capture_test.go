package proxy

import (
	"bytes"
	"strings"
	"testing"

	"github.com/ctharness/ctharness/simulator/clevertap/fake"
)

// The capture holds every exchange without credentials; pseudonymised, without identities either; replayed
// offline against the fake, it gives the drift the live proxy saw.
func TestTheCaptureReplaysOfflineToTheSameDrift(t *testing.T) {
	_, up := upstream(t)
	var capture, pseudonymised bytes.Buffer
	p, srv := newProxy(t, up, Options{Capture: &capture})
	pp, psrv := newProxy(t, up, Options{Capture: &pseudonymised, Pseudonymise: []byte("key")})
	bodies := []string{
		`{"d":[` + event("Charged", 1700000000, "alice@example.com") + `]}`,
		`{"d":[` + event("Discarded Upstream", 1700000001, "alice@example.com") + `]}`,
		`{"d":[` + event("Discarded In The View", 1700000002, "bob") + `]}`,
	}
	for _, b := range bodies {
		post(t, srv.URL, "/eu1/1/upload", "sim-eu1-pass", b)
		post(t, psrv.URL, "/eu1/1/upload", "sim-eu1-pass", b)
	}
	p.Close() // every exchange judged and captured
	pp.Close()
	if strings.Count(capture.String(), "\n") != 3 || strings.Contains(capture.String(), "sim-eu1-pass") {
		t.Fatalf("expected 3 lines without the passcode, got:\n%s", capture.String())
	}
	if strings.Contains(pseudonymised.String(), "alice@example.com") ||
		strings.Count(pseudonymised.String(), Pseudonym("alice@example.com", []byte("key"))) < 2 {
		t.Fatalf("expected alice pseudonymised the same way each time, got:\n%s", pseudonymised.String())
	}
	live := p.Report()
	for _, c := range []*bytes.Buffer{&capture, &pseudonymised} {
		replayed, err := Replay(bytes.NewReader(c.Bytes()), view(t).CleverTap, "")
		if err != nil {
			t.Fatal(err)
		}
		if replayed.Exchanges != 3 || replayed.Drift[DriftTooLenient] != live.Drift[DriftTooLenient] ||
			replayed.Drift[DriftTooStrict] != live.Drift[DriftTooStrict] || replayed.Drift[DriftAgree] != 1 {
			t.Fatalf("expected the live drift %v replayed, got %v", live.Drift, replayed.Drift)
		}
	}
}

// A capture cut short, garbled or from a newer version is an error naming the line, never a crash.
func TestABadCaptureSaysWhichLine(t *testing.T) {
	good := `{"v":1,"request":{"method":"POST","host":"eu1.api.clevertap.com","path":"/1/upload","body":"{}"},` +
		`"response":{"status":200,"body":"{\"status\":\"success\",\"processed\":0,\"unprocessed\":[]}"},` +
		`"drift":{"kind":"agree"}}`
	for _, c := range []struct{ name, text, says string }{
		{"cut short", good + "\n" + good[:50], "line 2: expected one captured exchange as JSON"},
		{"garbled", "\x00\x01garbage\n", "line 1: expected one captured exchange as JSON"},
		{"a newer version", strings.Replace(good, `"v":1`, `"v":7`, 1), "line 1: a capture of format version 7"},
		{"no version", `{"request":{}}`, "line 1: no format version"},
	} {
		_, err := Replay(strings.NewReader(c.text), view(t).CleverTap, "")
		if err == nil || !strings.Contains(err.Error(), c.says) {
			t.Errorf("%s: expected an error saying %q, got %v", c.name, c.says, err)
		}
	}
	if _, err := Replay(strings.NewReader(good+"\n\n"+good+"\n"), view(t).CleverTap, ""); err != nil {
		t.Fatalf("a good capture: %v", err)
	}
}

func FuzzReadCapture(f *testing.F) {
	f.Add([]byte(`{"v":1,"request":{"method":"POST","path":"/1/upload","body":"{\"d\":[]}"},"response":{}}`))
	f.Add([]byte("{\"v\":1}\n{"))
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := fake.New(fake.Options{})
		if err != nil {
			t.Fatal(err)
		}
		_, _ = Replay(bytes.NewReader(b), v, "")
	})
}
