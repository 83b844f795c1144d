package pythonservice_test

// The Python service tested exactly as its CI would (README.md beside this file): start the harness's fake
// CleverTap, start the service pointed at it, then `simulator run scenarios --webhook ... --junit`. Without python3
// the test is skipped, saying so.

import (
	"context"
	"encoding/xml"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/ctharness/ctharness/harness"
)

const rcAuth = "Bearer rc-example-secret"

// built is the simulator binary, built once for the tests.
var built struct {
	sync.Once
	bin string
	err error
}

// startStack starts `simulator serve` and the service, as the example's README does, and returns the simulator
// binary and the service's webhook URL.
func startStack(t *testing.T) (simulator, hook string) {
	t.Helper()
	python, err := exec.LookPath("python3")
	if err != nil {
		t.Skipf("skipped: no python3 on PATH (%v)", err)
	}
	ctx := context.Background()
	built.Do(func() {
		dir, err := os.MkdirTemp("", "python-example-")
		if err != nil {
			built.err = err
			return
		}
		built.bin, built.err = harness.Build(ctx, dir, "simulator")
	})
	if built.err != nil {
		t.Fatal(built.err)
	}
	simulator = built.bin
	simAddr, _ := harness.FreeAddr()
	sim := &harness.Process{Name: "simulator", Bin: simulator, Addr: simAddr, Health: "/_sim/health",
		Args: []string{"serve", "--listen", simAddr, "--quiet"}}
	if err := sim.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sim.Close() })
	svcAddr, _ := harness.FreeAddr()
	_, port, _ := strings.Cut(svcAddr, ":")
	for k, v := range map[string]string{"PORT": port, "RC_AUTH": rcAuth, "CLEVERTAP_URL": sim.URL() + "/eu1",
		"CLEVERTAP_ACCOUNT_ID": "SIM-EU1-0001", "CLEVERTAP_PASSCODE": "sim-eu1-pass"} {
		t.Setenv(k, v)
	}
	svc := &harness.Process{Name: "service", Bin: python, Args: []string{"service.py"}, Addr: svcAddr,
		Health: "/health"}
	if err := svc.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = svc.Close() })
	t.Setenv("SIMULATOR_SIMULATOR", sim.URL())
	return simulator, "http://" + svcAddr + "/rc/hook"
}

func runScenarios(t *testing.T, simulator string, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(simulator, append([]string{"run", "scenarios"}, args...)...)
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return string(out), 0
	case errors.As(err, &exit):
		return string(out), exit.ExitCode()
	}
	t.Fatalf("simulator run: %v\n%s", err, out)
	return "", 0
}

func TestTheServicePassesItsScenariosAsItsCIRunsThem(t *testing.T) {
	simulator, hook := startStack(t)
	report := filepath.Join(t.TempDir(), "report.xml")
	out, code := runScenarios(t, simulator, "--webhook", "revenuecat="+hook, "--secret", "revenuecat=env:RC_AUTH",
		"--junit", report)
	if code != 0 {
		t.Fatalf("simulator run exited %d, want 0:\n%s", code, out)
	}
	for _, want := range []string{"revenuecat webhooks -> your service at " + hook,
		"expectations: 2 run(s) of your files, 0 of the built-in scenarios", "pass  py-trial-converts × revenuecat",
		"pass  py-cancel-expire × revenuecat", "2 of 2 passed"} {
		if !strings.Contains(out, want) {
			t.Errorf("the output does not say %q:\n%s", want, out)
		}
	}
	raw, err := os.ReadFile(report)
	if err != nil {
		t.Fatal(err)
	}
	var junit struct {
		Suites []struct {
			Tests    int `xml:"tests,attr"`
			Failures int `xml:"failures,attr"`
			Cases    []struct {
				Properties []struct {
					Name  string `xml:"name,attr"`
					Value string `xml:"value,attr"`
				} `xml:"properties>property"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal(raw, &junit); err != nil || len(junit.Suites) != 1 {
		t.Fatalf("the JUnit report does not read (%v):\n%s", err, raw)
	}
	s := junit.Suites[0]
	if s.Tests != 2 || s.Failures != 0 || len(s.Cases) != 2 {
		t.Fatalf("JUnit: %d tests, %d failures, %d cases; want 2, 0, 2", s.Tests, s.Failures, len(s.Cases))
	}
	props := map[string]string{}
	for _, p := range s.Cases[0].Properties {
		props[p.Name] = p.Value
	}
	if props["expectations"] != "yours" || props["system_under_test"] != "your service at "+hook {
		t.Errorf("a case's properties %v, want expectations=yours and system_under_test=your service at %s", props,
			hook)
	}
}

func TestAServiceThatRefusesTheVendorFails(t *testing.T) {
	simulator, hook := startStack(t)
	out, code := runScenarios(t, simulator, "--webhook", "revenuecat="+hook, "--secret",
		"revenuecat=Bearer not-the-secret", "--label", "trial")
	if code != 1 || !strings.Contains(out, "not accepted by your service at "+hook) ||
		!strings.Contains(out, "wrong Authorization") {
		t.Fatalf("with a wrong secret: exit %d, want 1 saying the service refused the webhook:\n%s", code, out)
	}
}

func TestWithoutTheWebhookTheScenariosDoNotPlayThroughTheReferenceRelay(t *testing.T) {
	simulator, _ := startStack(t)
	out, code := runScenarios(t, simulator, "--relay", os.Getenv("SIMULATOR_SIMULATOR"))
	if code != 1 || !strings.Contains(out, "own_service: true") || !strings.Contains(out, "--webhook revenuecat=URL") {
		t.Fatalf("own_service scenarios without --webhook: exit %d, want 1 asking for --webhook:\n%s", code, out)
	}
}
