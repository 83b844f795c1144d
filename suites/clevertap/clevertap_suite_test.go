// The contract suite of the fake CleverTap: it drives the simulator over HTTP as a CleverTap client would, one
// spec per behaviour, with expectations written by hand from the reference. Parallel processes keep apart by
// using their own accounts.
package clevertap_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/ctharness/ctharness/harness"
	"github.com/ctharness/ctharness/simulator/clevertap"
)

func TestCleverTapContract(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "fake CleverTap contract", Label("contract"))
}

var (
	baseURL string
	client  *clevertap.Client
)

var _ = SynchronizedBeforeSuite(func(ctx SpecContext) []byte {
	urls, stop, err := harness.StartShared(ctx, os.Getenv, false)
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(stop)
	return urls
}, func(ctx SpecContext, data []byte) {
	u, err := harness.SharedURLs(data)
	Expect(err).NotTo(HaveOccurred())
	baseURL = u.Simulator
	client = clevertap.NewClient(baseURL)
	for _, r := range clevertap.Regions {
		Expect(client.PutAccount(ctx, account(r))).To(Succeed())
	}
})

// account is this parallel process's own account in a region.
func account(r clevertap.Region) clevertap.Account {
	p := GinkgoParallelProcess()
	return clevertap.Account{
		ID:        fmt.Sprintf("P%d-%s-0001", p, strings.ToUpper(string(r))),
		Passcodes: []string{fmt.Sprintf("p%d-%s-pass", p, r), fmt.Sprintf("p%d-%s-pass-2", p, r)},
		Region:    r,
		Token:     fmt.Sprintf("p%d-%s-token", p, r),
	}
}

func creds(r clevertap.Region) clevertap.Credentials {
	a := account(r)
	return clevertap.Credentials{AccountID: a.ID, Passcode: a.Passcodes[0]}
}

var accountSeq atomic.Int64

// freshAccount creates an account only this spec uses, for specs that change account settings.
func freshAccount(ctx context.Context, r clevertap.Region, edit func(*clevertap.Account)) clevertap.Credentials {
	a := account(r)
	a.ID = fmt.Sprintf("%s-X%d", a.ID, accountSeq.Add(1))
	a.Token = a.ID + "-token"
	if edit != nil {
		edit(&a)
	}
	Expect(client.PutAccount(ctx, a)).To(Succeed())
	return clevertap.Credentials{AccountID: a.ID, Passcode: a.Passcodes[0]}
}

// identity is unique per spec, so parallel specs never see each other's records.
func identity(name string) string {
	return fmt.Sprintf("p%d-%s-%d", GinkgoParallelProcess(), name, accountSeq.Add(1))
}

type response struct {
	Status    int
	Body      string
	Diagnosis string
}

func (r response) JSON() map[string]any {
	var m map[string]any
	Expect(json.Unmarshal([]byte(r.Body), &m)).To(Succeed(), "body is not JSON: %s", r.Body)
	return m
}

// call sends a request to the simulator with an explicit Host header, as a client resolving that host would.
func call(ctx context.Context, method, host, path string, c clevertap.Credentials, body string) response {
	req, err := http.NewRequestWithContext(ctx, method, baseURL+path, strings.NewReader(body))
	Expect(err).NotTo(HaveOccurred())
	if host != "" {
		req.Host = host
	}
	if c.AccountID != "" {
		req.Header.Set("X-CleverTap-Account-Id", c.AccountID)
	}
	if c.Passcode != "" {
		req.Header.Set("X-CleverTap-Passcode", c.Passcode)
	}
	if body != "" || (strings.HasPrefix(path, "/_sim/") && method != http.MethodGet) {
		req.Header.Set("Content-Type", "application/json") // what the admin API asks of a state change
	}
	resp, err := http.DefaultClient.Do(req)
	Expect(err).NotTo(HaveOccurred())
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	Expect(err).NotTo(HaveOccurred())
	return response{Status: resp.StatusCode, Body: string(b), Diagnosis: resp.Header.Get("X-Simulator-Diagnosis")}
}

// upload posts a body to /<region>/1/upload.
func upload(ctx context.Context, r clevertap.Region, c clevertap.Credentials, body string) response {
	return call(ctx, http.MethodPost, "", "/"+string(r)+"/1/upload", c, body)
}

func body(records ...string) string { return `{"d":[` + strings.Join(records, ",") + `]}` }

func eventRecord(identity, name string) string {
	return fmt.Sprintf(
		`{"type":"event","identity":%q,"ts":1700000000,"evtName":%q,"evtData":{"amount":4.99,"currency":"USD"}}`, identity,
		name)
}
