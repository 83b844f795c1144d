package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func noEnv(string) string { return "" }

func TestConfigMistakeStopsStartUpNamingTheKey(t *testing.T) {
	path := filepath.Join(t.TempDir(), "relay.yaml")
	os.WriteFile(path, []byte("sources:\n  revenuecat:\n    clevertap: {region: eu2, account_id: A, passcode: p}\n"),
		0o600)
	var out, errOut bytes.Buffer
	err := run(context.Background(), []string{"--config", path, "--data-dir", t.TempDir()}, noEnv, &out, &errOut)
	if err == nil || !strings.Contains(err.Error(),
		`sources.revenuecat.clevertap.region: expected one of eu1, in1, sg1, us1, aps3, mec1, sk1, got "eu2"`) {
		t.Fatalf("expected the key in the error, got %v", err)
	}
}

func TestPrintConfigIsTheDefault(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), []string{"--print-config"}, noEnv, &out, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "authorization: Bearer sim-revenuecat") {
		t.Fatalf("unexpected default config:\n%s", out.String())
	}
}

func TestServesUntilCancelledAndHealthSaysOK(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var out, errOut bytes.Buffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"--listen", "127.0.0.1:0", "--data-dir", t.TempDir()}, func(k string) string {
			if k == "RELAY_LOG_LEVEL" {
				return "warn"
			}
			return ""
		}, &syncBuffer{b: &out}, &errOut)
	}()
	var addr string
	deadline := time.Now().Add(5 * time.Second)
	for addr == "" && time.Now().Before(deadline) {
		if line, _, ok := strings.Cut(syncString(&out), "\n"); ok {
			addr = strings.TrimPrefix(strings.Fields(line)[3], "http://")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if addr == "" {
		t.Fatalf("the relay did not say where it listens: %q", syncString(&out))
	}
	var hout bytes.Buffer
	if err := run(context.Background(), []string{"health", "--url", "http://" + addr}, noEnv, &hout,
		&hout); err != nil || strings.TrimSpace(hout.String()) != "ok" {
		t.Fatalf("health: %v %q", err, hout.String())
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("expected a clean stop, got %v", err)
	}
	if err := run(context.Background(), []string{"health", "--url", "http://" + addr, "--timeout", "200ms"}, noEnv, &hout,
		&hout); err == nil {
		t.Fatal("health must fail once the relay is gone")
	}
}
