package clevertap_test

import (
	"context"
	"fmt"
	"net/http/httptest"

	"github.com/ctharness/ctharness/simulator/clevertap"
	"github.com/ctharness/ctharness/simulator/clevertap/fake"
)

// The client speaks to any CleverTap base URL: a simulator's (here one served on a loopback port) or, with
// BaseURL "https://eu1.api.clevertap.com" and a region's host, the real API.
func ExampleClient_Upload() {
	s, _ := fake.New(fake.Options{})
	srv := httptest.NewServer(s)
	defer srv.Close()

	c := clevertap.NewClient(srv.URL)
	creds := clevertap.Credentials{AccountID: "SIM-EU1-0001", Passcode: "wrong"}
	answer, result, err := c.Upload(context.Background(), "eu1", creds, map[string]any{"type": "event"})
	if err != nil {
		panic(err)
	}
	fmt.Println(result.StatusCode, answer.Error)
	fmt.Println(result.Diagnosis)
	// Output:
	// 401 Invalid Credentials
	// wrong X-CleverTap-Passcode for account SIM-EU1-0001 (1 passcode(s) configured; the value sent is not one of them)
}
