// The lint proxy's suite: the reference relay delivers through the proxy to an upstream that stands for the real
// CleverTap and differs from the proxy's view of it; what arrives, what the relay makes of the answers and what
// the proxy reports are checked against each other, with records written by hand.
package proxy_test

import (
	"bytes"
	"io"
	"net/http"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/ctharness/ctharness/harness"
	"github.com/ctharness/ctharness/relay/adminclient"
	"github.com/ctharness/ctharness/relay/config"
	"github.com/ctharness/ctharness/simulator"
	"github.com/ctharness/ctharness/simulator/clevertap"
	"github.com/ctharness/ctharness/simulator/clevertap/fake"
	"github.com/ctharness/ctharness/simulator/proxy"
)

func TestProxy(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "proxy", Label("proxy"))
}

var (
	upstream *harness.Simulator
	lint     *harness.Proxy
	relay    *harness.Relay
	admin    *adminclient.Client
)

// The upstream discards the renewal event on the sandbox account (as a dashboard can); the proxy's view does not
// know it. Production renewals go through unchanged.
var _ = BeforeSuite(func(ctx SpecContext) {
	accounts := clevertap.DefaultAccounts()
	for i := range accounts {
		if accounts[i].ID == "SIM-EU1-SBX1" {
			accounts[i].DiscardedEvents = []string{"rc_renewal_event"}
		}
	}
	var err error
	upstream, err = harness.StartSimulator(simulator.Config{Accounts: accounts}, fake.Options{}, "")
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(upstream.Close)
	lint, err = harness.StartProxy(upstream.URL+"/{region}", proxy.Options{})
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(lint.Close)
	cfg := config.Default()
	harness.QuickRetries(&cfg)
	cfg.CleverTap.Endpoint, cfg.Piano.Endpoint = lint.URL+"/{region}", upstream.URL+"/piano"
	relay, err = harness.StartRelay(ctx, harness.RelayOptions{Config: cfg})
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(relay.Close)
	admin = adminclient.New(relay.URL, relay.Service.AdminToken())
})

func renewal(id, user, environment string) []byte {
	return []byte(`{"api_version":"1.0","event":{"id":"` + id + `","type":"RENEWAL","app_id":"app1",` +
		`"event_timestamp_ms":1767225600000,"app_user_id":"` + user + `","product_id":"premium.monthly",` +
		`"period_type":"NORMAL","environment":"` + environment + `","currency":"EUR","price":10.79,` +
		`"price_in_purchased_currency":9.99}}`)
}

func webhook(body []byte) {
	req, err := http.NewRequest(http.MethodPost, relay.URL+"/webhooks/revenuecat", bytes.NewReader(body))
	Expect(err).NotTo(HaveOccurred())
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer sim-revenuecat")
	res, err := http.DefaultClient.Do(req)
	Expect(err).NotTo(HaveOccurred())
	raw, _ := io.ReadAll(res.Body)
	res.Body.Close()
	Expect(res.StatusCode).To(Equal(http.StatusOK), string(raw))
}

var _ = Describe("the relay through the proxy", func() {
	It("delivers a renewal unchanged, and the proxy finds the fake agreeing with CleverTap", func(ctx SpecContext) {
		before := lint.Proxy.Report()
		webhook(renewal("rn-prod-1", "user-prod-1", "PRODUCTION"))
		events, err := upstream.Client().Wait(ctx, clevertap.WaitRequest{Identity: "user-prod-1", Count: 1,
			TimeoutMS: 10000})
		Expect(err).NotTo(HaveOccurred())
		Expect(events).To(HaveLen(1))
		Expect(events[0].Account).To(Equal("SIM-EU1-0001"))
		Expect(events[0].Record).To(MatchJSON(`{"type":"event","identity":"user-prod-1","ts":1767225600,` +
			`"evtName":"rc_renewal_event","evtData":{"amount":9.99,"currency":"EUR","product_id":"premium.monthly",` +
			`"app_id":"app1"}}`))
		// the upstream stores the record before the proxy has its answer: wait for the exchange to be judged
		Eventually(func() int { return lint.Proxy.Report().Exchanges - before.Exchanges }).Should(Equal(1))
		after := lint.Proxy.Report()
		Expect(after.Drift[proxy.DriftAgree] - before.Drift[proxy.DriftAgree]).To(Equal(1))
		Expect(after.RefusedRecords).To(Equal(before.RefusedRecords))
	})

	It("turns a record CleverTap refused inside a 200 into the relay's dead letter and the proxy's finding",
		func(ctx SpecContext) {
			webhook(renewal("rn-sbx-1", "user-sbx-1", "SANDBOX"))
			Eventually(func(g Gomega) {
				dead, err := admin.DeadLetters(ctx, "revenuecat")
				g.Expect(err).NotTo(HaveOccurred())
				g.Expect(dead).To(ContainElement(And(
					HaveField("EventID", "rn-sbx-1"), HaveField("Code", 528))))
			}).WithTimeout(10 * time.Second).Should(Succeed())
			r := lint.Proxy.Report()
			Expect(r.RefusedRecords).To(Equal(1))
			Expect(r.Drift[proxy.DriftTooLenient]).To(Equal(1))
			last := r.Items[len(r.Items)-1]
			Expect(last.Account).To(Equal("SIM-EU1-SBX1"))
			Expect(last.Lint).To(ContainElement(And(HaveField("Rule", "refused"), HaveField("Index", 0))))
			Expect(last.Drift.Details).To(ContainElement(ContainSubstring(
				"record 0: CleverTap refused it (528")))
			Expect(r.Failures([]string{"refused", "drift"})).To(HaveLen(2))
		})
})
