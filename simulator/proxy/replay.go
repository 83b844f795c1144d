package proxy

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/ctharness/ctharness/simulator/clevertap"
	"github.com/ctharness/ctharness/simulator/clevertap/fake"
)

// replayPasscode stands in for the passcodes a capture never holds.
const replayPasscode = "replayed"

// Replay sends each captured request to the fake's check and compares its answer with the recorded real one,
// offline: the drift of the fake as it is now against what CleverTap answered then. A capture holds no
// passcodes, so every captured account is given to the fake with a stand-in passcode in its captured region:
// replay judges records, routes and request shapes, not credentials (an exchange CleverTap answered 401 is
// compared as not_compared). Lint that needs the live order of exchanges (concurrency) is not replayed.
// With a fixtures directory, each exchange that drifts is also written there as a fixture (Fixture).
func Replay(r io.Reader, view *fake.Server, fixtures string) (Report, error) {
	rp, lint := newReporter(), newLinter()
	lint.accounts = view.Accounts
	err := ReadCapture(r, func(line int, c Captured) error {
		if c.Request.Account != "" && c.Request.Region != "" {
			admitReplay(view, c.Request.Account, c.Request.Region)
		}
		req, body, err := c.HTTPRequest(replayPasscode)
		if err != nil {
			return err
		}
		answer := []byte(c.Response.Body)
		ex := &exchange{received: c.At, request: req, body: body, status: c.Response.Status, answer: answer,
			whole: true, local: c.Local, duration: time.Duration(c.DurationMS * float64(time.Millisecond))}
		checked := checkExchange(view, lint, ex)
		if c.Response.Status == http.StatusUnauthorized && c.Local == "" {
			checked.Drift = Drift{Kind: DriftNotCompared, Details: []string{"CleverTap answered 401; a capture " +
				"holds no passcodes to replay"}}
		}
		rp.add(checked)
		if fixtures != "" && checked.Drift.Kind != DriftAgree && checked.Drift.Kind != DriftNotCompared {
			return writeFixture(fixtures, line, c, checked)
		}
		return nil
	})
	return rp.snapshot(), err
}

// admitReplay lets the stand-in passcode in for an account: a known one keeps its region and gains the
// passcode; an unknown one is added in the captured region.
func admitReplay(view *fake.Server, id string, region clevertap.Region) {
	for _, a := range view.Accounts() {
		if a.ID == id {
			if !a.AcceptsPasscode(replayPasscode) {
				a.Passcodes = append(a.Passcodes, replayPasscode)
				_ = view.PutAccount(a)
			}
			return
		}
	}
	_ = view.PutAccount(clevertap.Account{ID: id, Region: region, Passcodes: []string{replayPasscode}})
}

// Fixture is an exchange where the fake and CleverTap differ, as a test of the fake needs it: the request as
// captured, CleverTap's answer, the fake's, and the drift.
type Fixture struct {
	Drift     Drift   `json:"drift"`
	Request   Message `json:"request"`
	CleverTap Message `json:"clevertap"`
	Fake      Message `json:"fake"`
}

func writeFixture(dir string, line int, c Captured, checked *Checked) error {
	f := Fixture{Drift: checked.Drift, Request: c.Request, CleverTap: c.Response,
		Fake: Message{Status: checked.Predicted.Status, Body: string(checked.Predicted.Response)}}
	raw, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	name := filepath.Join(dir, fmt.Sprintf("line-%d-%s.json", line, checked.Drift.Kind))
	return os.WriteFile(name, append(raw, '\n'), 0o644)
}
