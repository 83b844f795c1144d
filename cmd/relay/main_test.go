package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ctharness/ctharness/internal/cli"
	"github.com/ctharness/ctharness/internal/syncbuf"
	"github.com/ctharness/ctharness/relay"
	"github.com/ctharness/ctharness/relay/config"
	"github.com/ctharness/ctharness/relay/outbox"
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
	var out, errOut syncbuf.Buffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"--listen", "127.0.0.1:0", "--data-dir", t.TempDir()}, func(k string) string {
			if k == "RELAY_LOG_LEVEL" {
				return "warn"
			}
			return ""
		}, &out, &errOut)
	}()
	var addr string
	deadline := time.Now().Add(5 * time.Second)
	for addr == "" && time.Now().Before(deadline) {
		if line, _, ok := strings.Cut(out.String(), "\n"); ok {
			addr = strings.TrimPrefix(strings.Fields(line)[3], "http://")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if addr == "" {
		t.Fatalf("the relay did not say where it listens: %q", out.String())
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

// startUp runs the relay on dir and returns how it ended; a relay still running after 10 s fails the test (the
// start-up hang: bound to its port, never serving, never exiting).
func startUp(t *testing.T, dir string, args ...string) (error, string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errOut syncbuf.Buffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, append([]string{"--listen", "127.0.0.1:0", "--data-dir", dir, "--log-level", "error"}, args...),
			noEnv, &out, &errOut)
	}()
	select {
	case err := <-done:
		return err, out.String()
	case <-time.After(10 * time.Second):
		t.Fatalf("the relay neither served nor exited within 10 s:\n%s", errOut.String())
		return nil, ""
	}
}

// acceptOne leaves one pending job in an outbox (the fake is unreachable) and stops the relay cleanly.
func acceptOne(t *testing.T, dir string) {
	t.Helper()
	s, err := outbox.Open(dir, outbox.Options{})
	if err != nil {
		t.Fatal(err)
	}
	jobs := []outbox.Job{{Source: "revenuecat", EventID: "e1", Message: relay.Message{
		Destination: "revenuecat/clevertap", Kind: relay.KindUpload,
		Payload: []byte(`{"type":"event","evtName":"rc_renewal_event","identity":"u1","evtData":{}}`)}}}
	if _, err := s.Accept("revenuecat", "e1", jobs); err != nil {
		t.Fatal(err)
	}
	if err := s.MarkSending([]uint64{jobs[0].ID}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

// An outbox edited behind the relay's back (sed 's/"evtName":/"evtName"!/') stops start-up at once, naming the
// file, what is wrong and the way out; it used to bind the port and hang.
func TestADamagedOutboxStopsStartUpWithTheWayOut(t *testing.T) {
	dir := t.TempDir()
	acceptOne(t, dir)
	path := filepath.Join(dir, outbox.FileName)
	raw, _ := os.ReadFile(path)
	if err := os.WriteFile(path, bytes.ReplaceAll(raw, []byte(`"evtName":`), []byte(`"evtName"!`)), 0o600); err != nil {
		t.Fatal(err)
	}
	err, _ := startUp(t, dir)
	for _, want := range []string{path, "job 1", "relay outbox salvage", "--outbox-start-empty"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("expected the refusal to say %q, got %v", want, err)
		}
	}
	if code := cli.Code(err); code == 0 {
		t.Fatalf("expected a non-zero exit, got %d", code)
	}
	var check bytes.Buffer
	err = run(context.Background(), []string{"outbox", "check", "--data-dir", dir}, noEnv, &check, &check)
	if cli.Code(err) != 1 || !strings.Contains(check.String(), "job 1") {
		t.Fatalf("expected outbox check to exit 1 naming job 1, got %v:\n%s", err, check.String())
	}
}

// A failure after the outbox opened (here a job in doubt that does not decode, damage the relay's own run could
// have left) also stops start-up at once: Close no longer waits for a loop that never started.
func TestAStartFailureExitsInsteadOfHanging(t *testing.T) {
	dir := t.TempDir()
	acceptOne(t, dir)
	path := filepath.Join(dir, outbox.FileName)
	raw, _ := os.ReadFile(path)
	if err := os.WriteFile(path, bytes.ReplaceAll(raw, []byte(`"evtName":`), []byte(`"evtName"!`)), 0o600); err != nil {
		t.Fatal(err)
	}
	// the marker vouches for the file as if the relay had left it so: the open check is skipped
	markerPath := filepath.Join(dir, outbox.MarkerName)
	var m map[string]any
	mraw, _ := os.ReadFile(markerPath)
	_ = json.Unmarshal(mraw, &m)
	fi, _ := os.Stat(path)
	m["size"], m["modified"] = fi.Size(), fi.ModTime()
	mraw, _ = json.Marshal(m)
	if err := os.WriteFile(markerPath, mraw, 0o600); err != nil {
		t.Fatal(err)
	}
	err, _ := startUp(t, dir)
	if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "job 1") {
		t.Fatalf("expected start-up to fail naming the outbox and the job, got %v", err)
	}
}

// salvage says which target it expects; --to on the command line wins over a DSN in the environment (a relay's
// environment may hold one), but not over --outbox-dsn on the same line.
func TestSalvageTakesOneTarget(t *testing.T) {
	dsnEnv := func(k string) string {
		if k == "RELAY_OUTBOX_DSN" {
			return "postgres://relay@127.0.0.1:1/relay"
		}
		return ""
	}
	for _, c := range []struct {
		args []string
		env  func(string) string
		says string
	}{
		{[]string{"outbox", "salvage", "--data-dir", "x"}, noEnv, "expected --to NEWDIR, the directory of the new " +
			"outbox, or --outbox-dsn (RELAY_OUTBOX_DSN)"},
		{[]string{"outbox", "salvage", "--to", "y", "--outbox-dsn", "postgres://relay@127.0.0.1:1/relay"}, noEnv,
			"expected --to NEWDIR or --outbox-dsn, not both"},
	} {
		var out bytes.Buffer
		err := run(context.Background(), c.args, c.env, &out, &out)
		if cli.Code(err) != cli.ExitUsage || !strings.Contains(err.Error(), c.says) {
			t.Errorf("%v: expected a usage error saying %q, got %v", c.args, c.says, err)
		}
	}
	dir, to := t.TempDir(), t.TempDir()
	acceptOne(t, dir)
	// a config naming the Postgres outbox is a target too; the database is unreachable, and its password stays out
	cfg := filepath.Join(t.TempDir(), "relay.yaml")
	pg := "\noutbox:\n  driver: postgres\n  dsn: postgres://relay:s3cret@127.0.0.1:1/relay\n"
	if err := os.WriteFile(cfg, append(slices.Clone(config.DefaultYAML), pg...), 0o600); err != nil {
		t.Fatal(err)
	}
	var moved bytes.Buffer
	err := run(context.Background(), []string{"outbox", "salvage", "--data-dir", dir, "--config", cfg}, noEnv, &moved,
		&moved)
	if cli.Code(err) != cli.ExitUnreachable || strings.Contains(err.Error()+moved.String(), "s3cret") {
		t.Fatalf("expected the move to say the database is unreachable without its password, got %v:\n%s", err,
			moved.String())
	}
	var out bytes.Buffer
	err = run(context.Background(), []string{"outbox", "salvage", "--data-dir", dir, "--to", to}, dsnEnv, &out, &out)
	if err != nil || !strings.Contains(out.String(), "salvaged into "+to+": 1 pending jobs") {
		t.Fatalf("expected --to to win over the environment's DSN, got %v:\n%s", err, out.String())
	}
}
