package main

import (
	"bytes"
	"context"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/ctharness/ctharness/simulator/clevertap"
	"github.com/ctharness/ctharness/simulator/clevertap/fake"
)

// The verification against a simulator: one uploaded renewal is downloaded, counted and found as expected; the
// same verification fails naming the difference when the expectation is wrong. (readme_test.go runs the README's
// worked example as printed.)
func TestReadbackVerifies(t *testing.T) {
	sim, err := fake.New(fake.Options{})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(sim)
	defer srv.Close()
	creds := clevertap.Credentials{AccountID: "SIM-EU1-0001", Passcode: "sim-eu1-pass"}
	if _, _, err := clevertap.NewClient(srv.URL).Upload(context.Background(), "eu1", creds, map[string]any{
		"type": "event", "identity": "user-1", "ts": 1764676800, "evtName": "rc_renewal_event",
		"evtData": map[string]any{"price": 9.99}}); err != nil {
		t.Fatal(err)
	}
	args := []string{"--base-url", srv.URL + "/eu1", "--account", "SIM-EU1-0001", "--passcode", "sim-eu1-pass",
		"--event", "rc_renewal_event", "--from", "20251202", "--to", "20251202"}
	var out bytes.Buffer
	if err := run(context.Background(), append(args, "--expect", "1"), func(string) string { return "" },
		&out); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if want := "rc_renewal_event from 20251202 to 20251202: 1 downloaded, 1 counted\nok\n"; out.String() != want {
		t.Fatalf("expected\n%s\ngot\n%s", want, out.String())
	}
	err = run(context.Background(), append(args, "--expect", "2"), func(string) string { return "" }, &out)
	if err == nil || !strings.Contains(err.Error(), "expected 2 event(s), found 1") {
		t.Fatalf("--expect 2: expected the verification to fail, got %v", err)
	}
	getenv := func(k string) string {
		return map[string]string{"CT_ACCOUNT_ID": "SIM-EU1-0001", "CT_PASSCODE": "sim-eu1-pass"}[k]
	}
	if err := run(context.Background(), []string{"--base-url", srv.URL + "/eu1", "--event", "rc_renewal_event",
		"--from", "20251202", "--to", "20251202"}, getenv, &out); err != nil {
		t.Fatalf("credentials from CT_ACCOUNT_ID and CT_PASSCODE: %v", err)
	}
}
