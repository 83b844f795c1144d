package fake_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/ctharness/ctharness/simulator/clevertap"
	"github.com/ctharness/ctharness/simulator/clevertap/fake"
)

// The fake in process: New, then its Client uploads with no listener; an upload with a timestamp in
// milliseconds comes back as CleverTap's partial answer, and the journal says why.
func ExampleNew() {
	s, err := fake.New(fake.Options{})
	if err != nil {
		panic(err)
	}
	creds := clevertap.Credentials{AccountID: "SIM-EU1-0001", Passcode: "sim-eu1-pass"}
	answer, _, err := s.Client().Upload(context.Background(), "eu1", creds,
		map[string]any{"type": "event", "identity": "u1", "ts": 1700000000, "evtName": "e", "evtData": map[string]any{}},
		map[string]any{"type": "event", "identity": "u1", "ts": 1700000000000, "evtName": "e", "evtData": map[string]any{}})
	if err != nil {
		panic(err)
	}
	fmt.Println(answer.Status, answer.Processed, answer.Unprocessed[0].Code)
	entry := s.Requests(clevertap.JournalFilter{})[0]
	fmt.Println(entry.Outcome, entry.Diagnosis[0])
	// Output:
	// partial 1 525
	// partial record 2: ts 1700000000000 looks like milliseconds; CleverTap wants epoch seconds (divide by 1000)
}

// Check judges a request as the fake would, and stores, journals and counts nothing.
func ExampleServer_Check() {
	s, _ := fake.New(fake.Options{})
	body := `{"d":[{"type":"event","identity":"u1","ts":1700000000,"evtData":{}}]}`
	r, _ := http.NewRequest(http.MethodPost, "https://in1.api.clevertap.com/1/upload", strings.NewReader(body))
	r.Header.Set("X-CleverTap-Account-Id", "SIM-IN1-0001")
	r.Header.Set("X-CleverTap-Passcode", "sim-in1-pass")
	verdict := s.Check(r, []byte(body))
	fmt.Println(verdict.Status, verdict.Outcome, verdict.Records.Unprocessed[0].Code)
	fmt.Println(len(s.Requests(clevertap.JournalFilter{})), "requests journaled")
	// Output:
	// 200 rejected 509
	// 0 requests journaled
}
