// The relay's own suite: it drives a relay over HTTP (in-process by default, or HARNESS_MODE=external) as the
// vendors do and checks what reaches the fake CleverTap, with records written by hand.
package relay_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/ctharness/ctharness/harness"
	"github.com/ctharness/ctharness/scenarios"
	"github.com/ctharness/ctharness/simulator/clevertap"
	"github.com/ctharness/ctharness/suites/matchers"
)

func TestRelay(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "relay", Label("relay"))
}

var (
	relayURL, relayToken string
	sim                  *clevertap.Client
)

var _ = SynchronizedBeforeSuite(func(ctx SpecContext) []byte {
	urls, stop, err := harness.StartShared(ctx, os.Getenv, true)
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(stop)
	return urls
}, func(data []byte) {
	u, err := harness.SharedURLs(data)
	Expect(err).NotTo(HaveOccurred())
	sim, relayURL, relayToken = clevertap.NewClient(u.Simulator), u.Relay, u.RelayAdminToken
})

// unique keeps parallel processes and repeated runs apart.
func unique(prefix string) string {
	return fmt.Sprintf("%s-p%d-%d", prefix, GinkgoParallelProcess(), time.Now().UnixNano())
}

func post(path, auth string, body []byte) (int, string) {
	req, err := http.NewRequest(http.MethodPost, relayURL+path, bytes.NewReader(body))
	Expect(err).NotTo(HaveOccurred())
	req.Header.Set("Content-Type", "application/json")
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := http.DefaultClient.Do(req)
	Expect(err).NotTo(HaveOccurred())
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func renewal(id, user string) []byte {
	return []byte(`{"api_version":"1.0","event":{"id":"` + id +
		`","type":"RENEWAL","app_id":"app1","event_timestamp_ms":1767225600000,` +
		`"app_user_id":"` + user + `","product_id":"premium.monthly","period_type":"NORMAL","environment":"PRODUCTION",` +
		`"currency":"EUR","price":10.79,"price_in_purchased_currency":9.99,` +
		`"subscriber_attributes":{"$email":{"value":"j@x.io","updated_at_ms":1}}}}`)
}

func received(ctx context.Context, identity string, count int) []scenarios.Received {
	events, err := sim.Wait(ctx, clevertap.WaitRequest{Identity: identity, Count: count, TimeoutMS: 5000})
	Expect(err).NotTo(HaveOccurred())
	var out []scenarios.Received
	for _, e := range events {
		var rec map[string]any
		Expect(json.Unmarshal(e.Record, &rec)).To(Succeed())
		out = append(out, scenarios.Received{Account: e.Account, Region: string(e.Region), Record: rec, Seq: e.Seq})
	}
	return out
}

var _ = Describe("RevenueCat intake", Label("revenuecat"), func() {
	It("relays a renewal as rc_renewal_event with the local price", func(ctx SpecContext) {
		user := unique("renewal")
		status, body := post("/webhooks/revenuecat", "Bearer sim-revenuecat", renewal(unique("id"), user))
		Expect(status).To(Equal(200), body)
		Expect(received(ctx, user, 1)).To(matchers.HaveRecords("SIM-EU1-0001", scenarios.Record{
			Event: "rc_renewal_event", Identity: user, Region: "eu1",
			Data: map[string]any{"amount": 9.99, "currency": "EUR", "product_id": "premium.monthly", "app_id": "app1",
				"$email": "j@x.io"},
		}))
	})

	It("answers a repeated event id with 200 and sends it once", func(ctx SpecContext) {
		user, id := unique("dup"), unique("id")
		for range 3 {
			status, _ := post("/webhooks/revenuecat", "Bearer sim-revenuecat", renewal(id, user))
			Expect(status).To(Equal(200))
		}
		other := unique("after")
		post("/webhooks/revenuecat", "Bearer sim-revenuecat", renewal(unique("id"), other))
		received(ctx, other, 1) // delivery moved past the duplicates
		Expect(received(ctx, user, 1)).To(HaveLen(1))
	})

	It("refuses a wrong Authorization value with 401 and a clear message", func() {
		status, body := post("/webhooks/revenuecat", "Bearer guess", renewal(unique("id"), unique("u")))
		Expect(status).To(Equal(401))
		Expect(body).To(ContainSubstring("does not match the value configured for RevenueCat"))
	})

	It("refuses a body that is not a RevenueCat webhook with 400", func() {
		status, body := post("/webhooks/revenuecat", "Bearer sim-revenuecat", []byte(`{"type":"RENEWAL"}`))
		Expect(status).To(Equal(400))
		Expect(body).To(ContainSubstring(`expected a RevenueCat webhook`))
	})

	It("acknowledges an unknown event type and skips it", func() {
		body := bytes.Replace(renewal(unique("id"), unique("u")), []byte(`"RENEWAL"`), []byte(`"SOMETHING_NEW"`), 1)
		status, answer := post("/webhooks/revenuecat", "Bearer sim-revenuecat", body)
		Expect(status).To(Equal(200))
		Expect(answer).To(ContainSubstring(`"status":"skipped"`))
	})
})

var _ = Describe("operations", func() {
	It("serves health, readiness and Prometheus metrics", func() {
		post("/webhooks/revenuecat", "", renewal(unique("id"), unique("u"))) // one refusal, so the counter exists
		for path, want := range map[string]string{"/healthz": `"ok"`, "/readyz": `"ready"`,
			"/metrics": `relay_webhooks_received_total{outcome="unauthorized",source="revenuecat"}`} {
			resp, err := http.Get(relayURL + path)
			Expect(err).NotTo(HaveOccurred())
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			Expect(resp.StatusCode).To(Equal(200), path)
			Expect(strings.Contains(string(b), want)).To(BeTrue(), "%s lacks %s", path, want)
		}
	})

	It("keeps its admin routes from whoever lacks the admin token", func() {
		resp, err := http.Get(relayURL + "/admin/deadletters")
		Expect(err).NotTo(HaveOccurred())
		resp.Body.Close()
		Expect(resp.StatusCode).To(Equal(http.StatusUnauthorized))
	})

	It("lists dead letters as JSON", func() {
		req, err := http.NewRequest(http.MethodGet, relayURL+"/admin/deadletters", nil)
		Expect(err).NotTo(HaveOccurred())
		req.Header.Set("Authorization", "Bearer "+relayToken)
		resp, err := http.DefaultClient.Do(req)
		Expect(err).NotTo(HaveOccurred())
		defer resp.Body.Close()
		var out struct {
			DeadLetters []json.RawMessage `json:"deadletters"`
		}
		Expect(json.NewDecoder(resp.Body).Decode(&out)).To(Succeed())
		Expect(strings.ToLower(resp.Header.Get("Content-Type"))).To(ContainSubstring("application/json"))
	})
})
