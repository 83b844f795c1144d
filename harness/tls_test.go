package harness

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ctharness/ctharness/internal/certs"
	"github.com/ctharness/ctharness/relay/config"
	"github.com/ctharness/ctharness/simulator"
	"github.com/ctharness/ctharness/simulator/clevertap"
	"github.com/ctharness/ctharness/simulator/clevertap/fake"
)

// TestRelayWithTheProductionTemplateReachesTheRegionalHostOverTLS: a relay configured with
// https://{region}.api.clevertap.com, unchanged, reaches the fake's regional host over TLS when it trusts the
// harness CA and the names resolve to the fake (a dialer here; network aliases in containers). A wrong region
// gets CleverTap's 401.
func TestRelayWithTheProductionTemplateReachesTheRegionalHostOverTLS(t *testing.T) {
	dir := t.TempDir()
	hosts := []string{"api.clevertap.com"}
	for _, r := range clevertap.Regions {
		hosts = append(hosts, string(r)+".api.clevertap.com") // eu1's Host() is api.clevertap.com; both names serve eu1
	}
	pair, err := certs.Ensure(dir, hosts)
	if err != nil {
		t.Fatal(err)
	}
	sim, err := simulator.New(simulator.Config{}, fake.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{pair}})
	if err != nil {
		t.Fatal(err)
	}
	srv := sim.HTTPServer()
	go srv.Serve(ln)
	defer srv.Close()
	pool, err := certs.Pool(dir)
	if err != nil {
		t.Fatal(err)
	}
	dialer := &net.Dialer{}
	client := &http.Client{Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool},
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			if !strings.HasSuffix(strings.TrimSuffix(addr, ":443"), "api.clevertap.com") {
				t.Errorf("the relay dialled %s", addr)
			}
			return dialer.DialContext(ctx, network, ln.Addr().String()) // the "network alias"
		},
	}}
	cfg := config.Default()
	cfg.CleverTap.Endpoint = config.ProductionCleverTap
	cfg.Sources.RevenueCat.CleverTap.Region, cfg.Sources.RevenueCat.CleverTap.AccountID,
		cfg.Sources.RevenueCat.CleverTap.Passcode = "in1", "SIM-IN1-0001", "sim-in1-pass"
	cfg.Sources.Purchasely.CleverTap.Region = "SG1" // SIM-EU1-0001 does not live in sg1
	QuickRetries(&cfg)
	ctx := context.Background()
	relay, err := StartRelay(ctx, RelayOptions{Config: cfg, Client: client})
	if err != nil {
		t.Fatal(err)
	}
	defer relay.Close()
	relayURL := relay.URL

	body := `{"api_version":"1.0","event":{"id":"tls-1","type":"RENEWAL","event_timestamp_ms":1767225600000,` +
		`"app_user_id":"tls-user","price_in_purchased_currency":1,"currency":"INR"}}`
	req, _ := http.NewRequest(http.MethodPost, relayURL+"/webhooks/revenuecat", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer sim-revenuecat")
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("webhook: %v %v", err, resp)
	}
	resp.Body.Close()
	events, err := sim.Client().Wait(ctx, clevertap.WaitRequest{Identity: "tls-user", Count: 1, TimeoutMS: 5000})
	if err != nil || events[0].Region != "in1" || events[0].Account != "SIM-IN1-0001" {
		t.Fatalf("expected the record in in1, got %v %+v", err, events)
	}
	journal, _ := sim.Client().Requests(ctx, clevertap.JournalFilter{Account: "SIM-IN1-0001"})
	if len(journal) == 0 || journal[0].Host != "in1.api.clevertap.com" {
		t.Fatalf("expected the request on in1.api.clevertap.com, got %+v", journal)
	}

	dead := func() []byte {
		req, _ := http.NewRequest(http.MethodGet, relayURL+"/admin/deadletters?source=purchasely", nil)
		req.Header.Set("Authorization", "Bearer "+relay.Service.AdminToken())
		r, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Body.Close()
		b, _ := io.ReadAll(r.Body)
		return b
	}
	// Purchasely is configured for sg1 with an eu1 account: CleverTap's 401 for an unknown account.
	pBody := []byte(
		`{"api_version":3,"event_name":"SUBSCRIPTION_STARTED","event_id":"tls-p1","event_created_at_ms":1767225600000,` +
			`"integration_clevertap_id":"ct-tls"}`)
	preq, _ := http.NewRequest(http.MethodPost, relayURL+"/webhooks/purchasely", strings.NewReader(string(pBody)))
	preq.Header.Set("Content-Type", "application/json")
	signPurchasely(preq, pBody)
	if presp, err := http.DefaultClient.Do(preq); err != nil || presp.StatusCode != 200 {
		t.Fatalf("purchasely webhook: %v %v", err, presp)
	}
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(string(dead()), `"status":401`) {
		if time.Now().After(deadline) {
			t.Fatalf("expected a 401 dead letter, got %s", dead())
		}
		time.Sleep(5 * time.Millisecond)
	}
	if !strings.Contains(string(dead()), "Account ID is not valid") {
		t.Fatalf("expected CleverTap's unknown-account text, got %s", dead())
	}
}
