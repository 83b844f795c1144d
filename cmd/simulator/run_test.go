package main

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/ctharness/ctharness/harness"
	"github.com/ctharness/ctharness/internal/cli"
	"github.com/ctharness/ctharness/scenarios"
)

const passingStory = `name: my-trial
labels: [trial]
user: {app_user_id: u-me, clevertap_id: ct-me}
product: {id: com.example.premium.monthly, period: P1M, price: 9.99, currency: EUR}
offer: {type: free_trial, period: P1W}
steps: [purchase, renew]
expect:
  revenuecat:
    clevertap:
      - {event: rc_trial_started_event, identity: ct-me, data: {amount: 0}}
      - {event: rc_trial_converted_event, identity: ct-me, data: {amount: 9.99, currency: EUR}}
`

// failingStory expects 19.99 where 9.99 arrives, on line 11.
const failingStory = `name: wrong-price
labels: [trial]
user: {app_user_id: u-wrong, clevertap_id: ct-wrong}
product: {id: com.example.premium.monthly, period: P1M, price: 9.99, currency: EUR}
offer: {type: free_trial, period: P1W}
steps: [purchase, renew]
expect:
  revenuecat:
    clevertap:
      - {event: rc_trial_started_event, identity: ct-wrong, data: {amount: 0}}
      - {event: rc_trial_converted_event, identity: ct-wrong, data: {amount: 19.99}}
`

// stackEnv starts a stack in this process and returns the environment that points run at it.
func stackEnv(t *testing.T, extra map[string]string) func(string) string {
	t.Helper()
	st, err := harness.StartInProcess(context.Background(), harness.Options{AdminToken: harness.DevAdminToken})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	env := map[string]string{"SIMULATOR_RELAY": st.RelayURL, "SIMULATOR_SIMULATOR": st.SimulatorURL}
	for k, v := range extra {
		env[k] = v
	}
	return func(k string) string { return env[k] }
}

func writeStories(t *testing.T, stories map[string]string) string {
	dir := t.TempDir()
	for name, body := range stories {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestRunIsACIGate(t *testing.T) {
	dir := writeStories(t, map[string]string{"a-pass.yaml": passingStory, "b-fail.yaml": failingStory})
	getenv := stackEnv(t, map[string]string{"GITHUB_ACTIONS": "true"})
	junit, report := filepath.Join(dir, "junit.xml"), filepath.Join(dir, "report.json")
	var out bytes.Buffer
	err := run(context.Background(), []string{"run", dir, "--junit", junit, "--json", report, "--parallel", "2"},
		getenv, &out, &out)
	if cli.Code(err) != cli.ExitFailed {
		t.Fatalf("one run failed: expected exit 1, got %d %v\n%s", cli.Code(err), err, out.String())
	}
	for _, want := range []string{"pass  my-trial × revenuecat", "FAIL  wrong-price × revenuecat",
		"1 of 2 passed", "rc_trial_converted_event identity=ct-wrong"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the output lacks %q:\n%s", want, out.String())
		}
	}
	annotation := regexp.MustCompile(`(?m)^::error file=.*b-fail\.yaml,line=11,title=wrong-price × revenuecat::` +
		`expected  rc_trial_converted_event`)
	if !annotation.MatchString(out.String()) {
		t.Errorf("expected a GitHub annotation on b-fail.yaml line 11:\n%s", out.String())
	}

	raw, err := os.ReadFile(junit)
	if err != nil {
		t.Fatal(err)
	}
	var suites struct {
		Suites []struct {
			Tests    int `xml:"tests,attr"`
			Failures int `xml:"failures,attr"`
			Cases    []struct {
				Name    string `xml:"name,attr"`
				Failure *struct {
					Message string `xml:"message,attr"`
				} `xml:"failure"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal(raw, &suites); err != nil || len(suites.Suites) != 1 || suites.Suites[0].Tests != 2 ||
		suites.Suites[0].Failures != 1 {
		t.Fatalf("expected a JUnit suite of 2 tests with 1 failure, got %v %+v\n%s", err, suites, raw)
	}
	for _, c := range suites.Suites[0].Cases {
		if (c.Failure != nil) != (c.Name == "wrong-price × revenuecat") {
			t.Errorf("JUnit case %s: failure %+v", c.Name, c.Failure)
		}
	}
	var results []scenarios.Result
	if raw, err := os.ReadFile(report); err != nil || json.Unmarshal(raw, &results) != nil || len(results) != 2 {
		t.Fatalf("expected two results in the JSON report, got %v %s", err, raw)
	}
}

func TestRunSaysWhyNothingRan(t *testing.T) {
	dir := writeStories(t, map[string]string{"a-pass.yaml": passingStory})
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"run", dir, "--label", "trail"}, cli.ExitUsage, `--label "trail": no scenario has it (did you mean ` +
			`"trial"?)`},
		{[]string{"run", dir, "--source", "purchasely"}, cli.ExitUsage, "nothing selected"},
		{[]string{"run"}, cli.ExitUsage, "nothing to play"},
		{[]string{"run", dir, "--simulator", "http://127.0.0.1:1"}, cli.ExitUnreachable,
			"the simulator at http://127.0.0.1:1 cannot be reached"},
	} {
		var out bytes.Buffer
		err := run(context.Background(), c.args, func(string) string { return "" }, &out, &out)
		if cli.Code(err) != c.code || err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: expected exit %d saying %q, got %d %v", c.args, c.code, c.want, cli.Code(err), err)
		}
	}
}

// --write-expect writes what arrived as the scenario's expectations, marked reviewed: false; left unreviewed the
// scenario fails, saying why; reviewed (the mark removed), it passes.
func TestWriteExpectAndTheUnreviewedMark(t *testing.T) {
	story := `# my own story
name: written
user: {app_user_id: u-w, clevertap_id: ct-w}
product: {id: com.example.premium.monthly, period: P1M, price: 9.99, currency: EUR}
offer: {type: free_trial, period: P1W}
steps: [purchase, renew]
expect:
  revenuecat: {}
`
	dir := writeStories(t, map[string]string{"w.yaml": story})
	path := filepath.Join(dir, "w.yaml")
	getenv := stackEnv(t, nil)
	var out bytes.Buffer
	if err := run(context.Background(), []string{"run", path, "--write-expect"}, getenv, &out, &out); err != nil {
		t.Fatalf("--write-expect: %v\n%s", err, out.String())
	}
	written, _ := os.ReadFile(path)
	for _, want := range []string{"reviewed: false", "# my own story",
		"- {event: rc_trial_started_event, identity: ct-w, data: {",
		"- {event: rc_trial_converted_event, identity: ct-w, data: {", "amount: 9.99", "currency: EUR"} {
		if !strings.Contains(string(written), want) {
			t.Errorf("the written file lacks %q:\n%s", want, written)
		}
	}
	out.Reset()
	err := run(context.Background(), []string{"run", path}, getenv, &out, &out)
	if cli.Code(err) != cli.ExitFailed || !strings.Contains(out.String(), "nobody has reviewed them") {
		t.Fatalf("unreviewed: expected a failure saying so, got %d %v\n%s", cli.Code(err), err, out.String())
	}
	reviewed := regexp.MustCompile(`(?m)^reviewed: false.*\n`).ReplaceAll(written, nil)
	if err := os.WriteFile(path, reviewed, 0o600); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if err := run(context.Background(), []string{"run", path}, getenv, &out, &out); err != nil {
		t.Fatalf("reviewed: expected the written expectations to pass, got %v\n%s", err, out.String())
	}
}

// A hook URL's password and token never reach the terminal, the annotations, JUnit or --json, and a redirect from
// the service is reported, not followed (it would carry the webhook's credentials wherever it points).
func TestRunNeverShowsTheHooksCredentialsNorFollowsRedirects(t *testing.T) {
	var stolen atomic.Bool
	svc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/stolen" {
			stolen.Store(true)
			return
		}
		http.Redirect(w, r, "/stolen?"+r.URL.RawQuery, http.StatusTemporaryRedirect)
	}))
	defer svc.Close()
	hook := strings.Replace(svc.URL, "http://", "http://alice:PW-9@", 1) + "/hook?token=TK-9"
	dir := writeStories(t, map[string]string{"a-pass.yaml": passingStory})
	getenv := stackEnv(t, map[string]string{"GITHUB_ACTIONS": "true"})
	junit, report := filepath.Join(dir, "junit.xml"), filepath.Join(dir, "report.json")
	var out bytes.Buffer
	err := run(context.Background(), []string{"run", dir, "--webhook", "revenuecat=" + hook, "--junit", junit,
		"--json", report}, getenv, &out, &out)
	if cli.Code(err) != cli.ExitFailed {
		t.Fatalf("expected the run to fail (the service only redirects), got %d %v\n%s", cli.Code(err), err, &out)
	}
	t.Log(out.String())
	if stolen.Load() {
		t.Error("the redirect was followed")
	}
	if !strings.Contains(out.String(), "redirect to") || !strings.Contains(out.String(), "not followed") {
		t.Errorf("expected the redirect reported:\n%s", &out)
	}
	files := map[string]string{"the output": out.String()}
	for _, f := range []string{junit, report} {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		files[f] = string(raw)
	}
	for where, text := range files {
		for _, secret := range []string{"PW-9", "TK-9"} {
			if strings.Contains(text, secret) {
				t.Errorf("%s shows %s:\n%s", where, secret, text)
			}
		}
		if !strings.Contains(text, "alice:REDACTED@") {
			t.Errorf("%s does not say whose hook it was (alice:REDACTED@):\n%s", where, text)
		}
	}
}
