package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ctharness/ctharness/internal/cli"
	"github.com/ctharness/ctharness/relay/config"
	"github.com/ctharness/ctharness/simulator/clevertap"
)

func TestUpOncePlaysAndReports(t *testing.T) {
	var out, errOut bytes.Buffer
	err := run(context.Background(), []string{"up", "--once", "--listen", "127.0.0.1:0", "--relay-listen", "127.0.0.1:0",
		"--label", "sandbox", "--fixtures", "../.."},
		func(string) string { return "" }, &out, &errOut)
	if err != nil {
		t.Fatalf("up --once: %v\n%s%s", err, out.String(), errOut.String())
	}
	for _, want := range []string{"sandbox-to-sandbox-account", "sandbox-dropped-without-sandbox-account",
		"2 of 2 passed"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, out.String())
		}
	}
}

func TestRunRejectsABadScenarioFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bad.yaml")
	os.WriteFile(path,
		[]byte("name: bad\nuser: {app_user_id: u}\nproduct: {id: p, currency: EUR}\nsteps: [purchase, refnd]\nexpect: "+
			"{revenuecat: {}}\n"), 0o600)
	var out bytes.Buffer
	err := run(context.Background(), []string{"run", path}, func(string) string { return "" }, &out, &out)
	if err == nil || cli.Code(err) != 2 || !strings.Contains(err.Error(),
		path+`:4:19: steps[1]: expected a step: purchase,`) || !strings.Contains(err.Error(),
		`got "refnd" (did you mean "refund"?)`) {
		t.Fatalf("expected the file, line and choices, got %v", err)
	}
}

// A full run (every built-in scenario: outages, dead letters, refused credentials, debug logging) never writes a
// configured secret: not the vendors' credentials, not CleverTap's passcodes and tokens.
func TestFullRunLogsNoSecret(t *testing.T) {
	var out, errOut bytes.Buffer
	err := run(context.Background(), []string{"up", "--once", "--listen", "127.0.0.1:0", "--relay-listen", "127.0.0.1:0",
		"--log-level", "debug", "--fixtures", "../.."},
		func(string) string { return "" }, &out, &errOut)
	if err != nil {
		t.Fatalf("up --once: %v\n%s", err, out.String())
	}
	logs := out.String() + errOut.String()
	if !strings.Contains(logs, "passed") || !strings.Contains(logs, "level=") {
		t.Fatalf("expected the report and debug logs, got:\n%.2000s", logs)
	}
	secrets := config.Default().Secrets()
	for _, a := range clevertap.DefaultAccounts() {
		secrets = append(secrets, a.Passcodes...)
		secrets = append(secrets, a.Token)
	}
	checked := 0
	for _, s := range secrets {
		if len(s) < 4 {
			continue
		}
		checked++
		if i := strings.Index(logs, s); i >= 0 {
			t.Errorf("secret %q in the logs: …%s…", s, logs[max(0, i-120):min(len(logs), i+40)])
		}
	}
	if checked < 8 {
		t.Fatalf("expected the vendors' credentials and the accounts' passcodes to check, got %d secrets", checked)
	}
}
