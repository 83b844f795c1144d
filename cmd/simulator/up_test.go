package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestUpOncePlaysAndReports(t *testing.T) {
	var out, errOut bytes.Buffer
	err := run(context.Background(), []string{"up", "--once", "--listen", "127.0.0.1:0", "--relay-listen", "127.0.0.1:0", "--label", "sandbox", "--fixtures", "../.."},
		func(string) string { return "" }, &out, &errOut)
	if err != nil {
		t.Fatalf("up --once: %v\n%s%s", err, out.String(), errOut.String())
	}
	for _, want := range []string{"sandbox-to-sandbox-account", "sandbox-dropped-without-sandbox-account", "2 of 2 passed"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, out.String())
		}
	}
}

func TestRunRejectsABadScenarioFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bad.yaml")
	os.WriteFile(path, []byte("name: bad\nuser: {app_user_id: u}\nproduct: {id: p, currency: EUR}\nsteps: [purchase, refnd]\nexpect: {revenuecat: {}}\n"), 0o600)
	var out bytes.Buffer
	err := run(context.Background(), []string{"run", path}, func(string) string { return "" }, &out, &out)
	if err == nil || exitCode(err) != 2 || !strings.Contains(err.Error(), path+`: line 4: unknown step "refnd"; expected one of purchase`) {
		t.Fatalf("expected the file, line and choices, got %v", err)
	}
}
