package main

import (
	"net/http/httptest"
	"os/exec"
	"strings"
	"testing"

	"github.com/ctharness/ctharness/clevertaptest"
	"github.com/ctharness/ctharness/simulator/clevertap"
)

const secret = "Bearer rc-secret"

// service starts the service against a fake CleverTap, as production runs it against eu1.
func service(t *testing.T) (*clevertaptest.Fake, string) {
	ct := clevertaptest.New(t)
	acct := ct.Account(t, "eu1")
	srv := httptest.NewServer(Handler(Config{CleverTapURL: ct.RegionURL("eu1"), AccountID: acct.ID,
		Passcode: acct.Passcodes[0], Authorization: secret}))
	t.Cleanup(srv.Close)
	return ct, srv.URL + "/rc/hook"
}

func TestATrialStartUploadsTrialStarted(t *testing.T) {
	ct, hook := service(t)
	ct.Send(t, "revenuecat", "INITIAL_PURCHASE", hook, secret, clevertaptest.User("ct-42"))
	events := ct.Wait(t, clevertap.WaitRequest{Identity: "ct-42", Count: 1})
	if !strings.Contains(string(events[0].Record), `"evtName":"Subscription Started"`) {
		t.Errorf("CleverTap holds %s, want Subscription Started", events[0].Record)
	}
}

func TestTheServicePassesItsScenarios(t *testing.T) {
	ct, hook := service(t)
	results := ct.Play(t, []string{"scenarios"}, map[string]string{"revenuecat": hook},
		map[string]string{"revenuecat": secret})
	if len(results) != 2 {
		t.Fatalf("%d runs, want the 2 scenarios", len(results))
	}
}

// TestNoContainerInTheModuleGraph: the harness comes into this module without Docker or testcontainers.
func TestNoContainerInTheModuleGraph(t *testing.T) {
	out, err := exec.Command("go", "mod", "graph").CombinedOutput()
	if err != nil {
		t.Fatalf("go mod graph: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "github.com/ctharness/ctharness") {
		t.Fatalf("go mod graph does not list the harness:\n%s", out)
	}
	for _, line := range strings.Split(string(out), "\n") {
		for _, bad := range []string{"testcontainers", "docker/", "moby/"} {
			if strings.Contains(line, bad) {
				t.Errorf("the module graph holds %s: %s", bad, line)
			}
		}
	}
}
