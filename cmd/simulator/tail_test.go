package main

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ctharness/ctharness/internal/cli"
	"github.com/ctharness/ctharness/internal/syncbuf"
	"github.com/ctharness/ctharness/simulator"
	"github.com/ctharness/ctharness/simulator/clevertap"
	"github.com/ctharness/ctharness/simulator/clevertap/fake"
	"github.com/ctharness/ctharness/simulator/piano"
)

// startSimulator serves a simulator as `simulator serve` does (its own http.Server) on l, or a free port; stop
// shuts it down gracefully.
func startSimulator(t *testing.T, l net.Listener) (base string, stop func()) {
	t.Helper()
	sim, err := simulator.New(simulator.Config{}, fake.Options{Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	if l == nil {
		if l, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
			t.Fatal(err)
		}
	}
	srv := sim.HTTPServer()
	go func() { _ = srv.Serve(sim.Listener(l)) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := srv.Shutdown(ctx); err != nil {
				t.Errorf("the simulator did not shut down gracefully: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return "http://" + l.Addr().String(), stop
}

// startTail runs `simulator tail ARGS` until it exits and waits until it follows the stream.
func startTail(t *testing.T, args ...string) (stdout, stderr *syncbuf.Buffer, done <-chan error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	stdout, stderr = &syncbuf.Buffer{}, &syncbuf.Buffer{}
	exited := make(chan error, 1)
	go func() {
		exited <- run(ctx, append([]string{"tail"}, args...), func(string) string { return "" }, stdout, stderr)
	}()
	waitUntil(t, "tail follows the stream", func() bool { return strings.Contains(stderr.String(), "following") })
	return stdout, stderr, exited
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func waitExit(t *testing.T, done <-chan error) error {
	t.Helper()
	select {
	case err := <-done:
		return err
	case <-time.After(10 * time.Second):
		t.Fatal("tail did not exit")
		return nil
	}
}

func send(t *testing.T, method, url, account, passcode, body string) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	if account != "" {
		req.Header.Set("X-CleverTap-Account-Id", account)
		req.Header.Set("X-CleverTap-Passcode", passcode)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
}

const (
	tailTrial   = `{"type":"event","identity":"alice","ts":1764000000,"evtName":"rc_trial_started_event","evtData":{}}`
	tailNoName  = `{"type":"event","identity":"alice","ts":1764000000,"evtData":{}}`
	tailProfile = `{"type":"profile","identity":"alice","ts":1764000000,"profileData":{"Name":"A"}}`
)

func TestTailPrintsOneLinePerRequestWithNamesCodesAndDiagnosis(t *testing.T) {
	base, _ := startSimulator(t, nil)
	stdout, _, done := startTail(t, "--url", base, "--count", "3", "--color", "never")
	send(t, http.MethodPost, base+"/eu1/1/upload", "SIM-EU1-0001", "sim-eu1-pass",
		`{"d":[`+tailTrial+`,`+tailProfile+`]}`)
	send(t, http.MethodPost, base+"/eu1/1/upload", "SIM-EU1-0001", "sim-eu1-pass",
		`{"d":[`+tailTrial+`,`+tailNoName+`]}`)
	send(t, http.MethodPost, base+"/piano/event?s=100001&idclient=v", "", "",
		`{"events":[{"name":"TRIAL_STARTED","data":{}},{"name":"NOT_DECLARED","data":{}}]}`)
	if err := waitExit(t, done); err != nil {
		t.Fatalf("tail --count 3: %v", err)
	}
	all := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	if len(all) != 3 {
		t.Fatalf("%d lines, want one per request (3):\n%s", len(all), stdout.String())
	}
	// CleverTap's requests come in their order, Piano's in theirs; between the two sources the stream promises no
	// order (each has its own feed), so the Piano line is matched wherever it came
	var lines []string
	for _, l := range all {
		if !strings.Contains(l, "piano") {
			lines = append(lines, l)
		}
	}
	for _, l := range all {
		if strings.Contains(l, "piano") {
			lines = append(lines, l)
		}
	}
	wants := [][]string{
		{"eu1", "SIM-EU1-0001", "upload", "200 accepted", "2/2", "rc_trial_started_event, profile"},
		{"200 partial", "1/2", "rc_trial_started_event, (no evtName)", `#2 509 "Event Name is incorrect`,
			"Skipped record number : 2",
			"— the event has no evtName (or an empty one)"},
		{"piano", "site 100001", "POST /piano/event", "1 kept, 1 ignored", "TRIAL_STARTED, NOT_DECLARED",
			"— NOT_DECLARED ignored: "},
	}
	for i, want := range wants {
		for _, w := range want {
			if !strings.Contains(lines[i], w) {
				t.Errorf("line %d %q does not show %q", i+1, lines[i], w)
			}
		}
	}
	if strings.Contains(stdout.String(), "\x1b[") {
		t.Errorf("--color never printed ANSI escapes: %q", stdout.String())
	}
}

// A Piano call of 1,000 events named with 1,000 '<' each once stopped tail for good (an 18 MiB stream event); now
// the stream sends it bounded, tail prints it, and what comes next.
func TestTailGoesOnAfterAHugeCall(t *testing.T) {
	base, _ := startSimulator(t, nil)
	stdout, stderr, done := startTail(t, "--url", base, "--count", "2", "--color", "never")
	events := make([]string, 1000)
	for i := range events {
		events[i] = `{"name":"` + strings.Repeat("<", 1000) + `","data":{}}`
	}
	send(t, http.MethodPost, base+"/piano/event?s=100001&idclient=v", "", "",
		`{"events":[`+strings.Join(events, ",")+`]}`)
	waitUntil(t, "tail prints the huge call", func() bool { return strings.Contains(stdout.String(), "piano") })
	send(t, http.MethodPost, base+"/eu1/1/upload", "SIM-EU1-0001", "sim-eu1-pass", `{"d":[`+tailTrial+`]}`)
	if err := waitExit(t, done); err != nil {
		t.Fatalf("tail --count 2: %v\n%s", err, stderr)
	}
	if !strings.Contains(stdout.String(), "0 kept, 1000 ignored") ||
		!strings.Contains(stdout.String(), "rc_trial_started_event") {
		t.Fatalf("expected the huge call and the upload after it, got:\n%.2000s", stdout)
	}
}

func TestTailFiltersAndPrintsJSONAndColour(t *testing.T) {
	base, _ := startSimulator(t, nil)
	stdout, _, done := startTail(t, "--url", base, "--count", "1", "--json", "--account", "SIM-EU1-0001",
		"--outcome", "unauthorized")
	send(t, http.MethodPost, base+"/eu1/1/upload", "SIM-EU1-0001", "sim-eu1-pass", `{"d":[`+tailTrial+`]}`)
	send(t, http.MethodPost, base+"/us1/1/upload", "SIM-US1-0001", "nope", `{"d":[`+tailTrial+`]}`)
	send(t, http.MethodPost, base+"/eu1/1/upload", "SIM-EU1-0001", "nope", `{"d":[`+tailTrial+`]}`)
	if err := waitExit(t, done); err != nil {
		t.Fatal(err)
	}
	var got struct {
		Kind    string `json:"kind"`
		Seq     int    `json:"seq"`
		Account string `json:"account"`
		Outcome string `json:"outcome"`
		Status  int    `json:"status"`
	}
	line := strings.TrimSpace(stdout.String())
	if err := json.Unmarshal([]byte(line), &got); err != nil {
		t.Fatalf("--json printed %q: %v", line, err)
	}
	if got.Kind != "clevertap" || got.Seq != 3 || got.Account != "SIM-EU1-0001" || got.Outcome != "unauthorized" ||
		got.Status != http.StatusUnauthorized {
		t.Errorf("--json line %+v, want kind clevertap, the third request (seq 3), SIM-EU1-0001 unauthorized 401", got)
	}

	stdout, _, done = startTail(t, "--url", base, "--count", "1", "--color", "always")
	send(t, http.MethodPost, base+"/eu1/1/upload", "SIM-EU1-0001", "sim-eu1-pass", `{"d":[`+tailTrial+`]}`)
	if err := waitExit(t, done); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stdout.String(), "\x1b[32m200 accepted\x1b[0m") {
		t.Errorf("--color always: %q, want the outcome in green", stdout.String())
	}
}

func TestTailReconnectsToARestartedSimulator(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	first, stopFirst := startSimulator(t, l)
	stdout, stderr, done := startTail(t, "--url", first, "--count", "2", "--color", "never")
	send(t, http.MethodPost, first+"/eu1/1/upload", "SIM-EU1-0001", "sim-eu1-pass", `{"d":[`+tailTrial+`]}`)
	waitUntil(t, "the first line", func() bool { return strings.Count(stdout.String(), "\n") == 1 })
	stopFirst() // a graceful shutdown ends the stream at once
	waitUntil(t, "tail says the stream is lost", func() bool { return strings.Contains(stderr.String(), "lost") })
	l2, err := net.Listen("tcp", addr)
	if err != nil {
		t.Skipf("skipped: the port %s could not be taken again for the restarted simulator: %v", addr, err)
	}
	second, _ := startSimulator(t, l2)
	// sent before tail is back: the restarted simulator's journal replays it
	send(t, http.MethodPost, second+"/in1/1/upload", "SIM-IN1-0001", "sim-in1-pass", `{"d":[`+tailTrial+`]}`)
	if err := waitExit(t, done); err != nil {
		t.Fatalf("tail: %v (stderr: %s)", err, stderr.String())
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], "SIM-EU1-0001") || !strings.Contains(lines[1], "SIM-IN1-0001") {
		t.Errorf("lines %q, want the first simulator's upload then the restarted one's", lines)
	}
	if !strings.Contains(stderr.String(), "reconnected") {
		t.Errorf("stderr %q does not say tail reconnected", stderr.String())
	}
}

func TestTailExitsThreeWhenNoSimulatorAnswersAndTwoOnABadFlag(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + l.Addr().String()
	_ = l.Close()
	var stdout, stderr syncbuf.Buffer
	err = run(context.Background(), []string{"tail", "--url", closed}, func(string) string { return "" }, &stdout,
		&stderr)
	if cli.Code(err) != cli.ExitUnreachable || !strings.Contains(err.Error(), "no simulator stream at "+closed) {
		t.Errorf("tail against nothing: exit %d %v, want 3 naming the URL", cli.Code(err), err)
	}
	err = run(context.Background(), []string{"tail", "--outcome", "accept"}, func(string) string { return "" },
		&stdout, &stderr)
	if cli.Code(err) != cli.ExitUsage || !strings.Contains(err.Error(), `got "accept"`) {
		t.Errorf("tail --outcome accept: exit %d %v, want 2 naming what arrived", cli.Code(err), err)
	}
}

// TestTailEscapesWhatATerminalWouldObey: a path, event names, Piano names and diagnoses that arrived from anyone
// print escaped, never as the controls (OSC title, clear screen, C1 CSI, bidi override) they carry.
func TestTailEscapesWhatATerminalWouldObey(t *testing.T) {
	hostile := "\x1b]2;PWNED\a\x1b[2J\u009b31m\u202egnp.exe"
	tl := &tailer{}
	lines := []string{
		tl.requestLine(&clevertap.JournalEntry{Method: "GET", Path: "/" + hostile, Endpoint: "unknown",
			Outcome: clevertap.OutcomeNotFound, Status: 404, Diagnosis: []string{"no endpoint " + hostile}}),
		tl.requestLine(&clevertap.JournalEntry{Endpoint: "upload", Region: "eu1", Account: "SIM-EU1-0001",
			Outcome: clevertap.OutcomeAccepted, Status: 200,
			RequestBody: `{"d":[{"type":"event","evtName":"` + jsonEscape(hostile) + `"}]}`}),
		tl.pianoLine(&piano.Activity{Request: piano.Request{Site: "1", Method: "POST", Path: "/event" + hostile,
			Status: 204, Diagnosis: []string{hostile}}, Hits: []piano.Hit{{Name: hostile}}}),
	}
	for i, line := range lines {
		for _, bad := range []string{"\x1b", "\a", "\u009b", "\u202e"} {
			if strings.Contains(line, bad) {
				t.Errorf("line %d carries %q raw: %q", i, bad, line)
			}
		}
		if !strings.Contains(line, `\x1b]2;PWNED\x07\x1b[2J\x9b31m\u202egnp.exe`) {
			t.Errorf("line %d: expected the controls shown escaped, got %q", i, line)
		}
	}
}

func jsonEscape(s string) string {
	b, _ := json.Marshal(s)
	return string(b[1 : len(b)-1])
}
