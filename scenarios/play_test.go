package scenarios

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"testing"

	"github.com/ctharness/ctharness/harness"
)

func stack(t *testing.T) *harness.Stack {
	t.Helper()
	st, err := harness.StartInProcess(context.Background(), harness.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st
}

func builtInNamed(t *testing.T, name string) *Scenario {
	t.Helper()
	all, err := LoadBuiltIn()
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range all {
		if s.Name == name {
			return s
		}
	}
	t.Fatalf("no built-in scenario %s", name)
	return nil
}

// A run ends when the relay says everything of it is delivered, and a record beyond the expected ones is still
// caught: it was delivered before the relay said so.
func TestARunEndsWhenTheRelayIsDoneAndStillCatchesExtras(t *testing.T) {
	st := stack(t)
	target := Target{SimulatorURL: st.SimulatorURL, RelayURL: st.RelayURL, RelayAdminToken: st.RelayAdminToken}
	res := Play(context.Background(), builtInNamed(t, "trial-converts"), "revenuecat", target)
	if !res.Passed || !res.SettledByRelay {
		t.Fatalf("expected a pass settled by the relay, got %+v", res)
	}
	short := *builtInNamed(t, "trial-converts")
	e := short.Expect["revenuecat"]
	e.CleverTap = e.CleverTap[:1] // the conversion arrives all the same
	short.Expect = map[string]Expectations{"revenuecat": e}
	res = Play(context.Background(), &short, "revenuecat", target)
	if res.Passed || !strings.Contains(strings.Join(res.Problems, "\n"), "unexpected record") ||
		!strings.Contains(strings.Join(res.Problems, "\n"), "rc_trial_converted_event") {
		t.Fatalf("expected the unexpected conversion reported, got %+v", res.Problems)
	}
}

// A relay that cannot say what is left (a user's own, without /admin/pending) gets the settle window.
func TestARelayThatCannotSayGetsTheSettleWindow(t *testing.T) {
	st := stack(t)
	relayURL, _ := url.Parse(st.RelayURL)
	proxy := httputil.NewSingleHostReverseProxy(relayURL)
	own := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/admin/pending" {
			http.NotFound(w, r)
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	defer own.Close()
	res := Play(context.Background(), builtInNamed(t, "trial-converts"), "revenuecat",
		Target{SimulatorURL: st.SimulatorURL, RelayURL: own.URL, RelayAdminToken: st.RelayAdminToken})
	if !res.Passed || res.SettledByRelay {
		t.Fatalf("expected a pass after the settle window, got %+v", res)
	}
}
