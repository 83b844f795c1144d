package clevertaptest_test

import (
	"context"
	"fmt"
	"os"

	"github.com/ctharness/ctharness/clevertaptest"
	"github.com/ctharness/ctharness/simulator/clevertap"
)

// exampleT stands in for the *testing.T a test function has, so that the example runs as godoc shows it.
type exampleT struct{ cleanups []func() }

func (*exampleT) Helper()                           {}
func (*exampleT) Fatalf(format string, args ...any) { fmt.Printf(format+"\n", args...); os.Exit(1) }
func (*exampleT) Logf(format string, args ...any)   {}
func (t *exampleT) Cleanup(f func())                { t.cleanups = append(t.cleanups, f) }
func (*exampleT) Failed() bool                      { return false }
func (t *exampleT) end() {
	for i := len(t.cleanups) - 1; i >= 0; i-- {
		t.cleanups[i]()
	}
}

// A test starts a fake CleverTap, points the service it tests at ct.RegionURL("eu1") with the account's
// credentials, makes the service upload, and waits for the record.
func ExampleNew() {
	t := &exampleT{} // in a test function: its *testing.T
	defer t.end()

	ct := clevertaptest.New(t)
	acct := ct.Account(t, "eu1")
	creds := clevertap.Credentials{AccountID: acct.ID, Passcode: acct.Passcodes[0]}

	// what the service under test would send to ct.RegionURL("eu1") + "/1/upload"
	_, _, err := ct.Client.Upload(context.Background(), "eu1", creds, map[string]any{"type": "event",
		"identity": "ct-42", "ts": 1700000000, "evtName": "rc_renewal_event", "evtData": map[string]any{"amount": 9.99}})
	if err != nil {
		t.Fatalf("upload: %v", err)
	}

	events := ct.Wait(t, clevertap.WaitRequest{Account: acct.ID, Identity: "ct-42", Count: 1})
	fmt.Println(len(events), events[0].Account)
	fmt.Println(string(events[0].Record))
	// Output:
	// 1 SIM-EU1-0001
	// {"evtData":{"amount":9.99},"evtName":"rc_renewal_event","identity":"ct-42","ts":1700000000,"type":"event"}
}
