package revenuecat

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ctharness/ctharness/internal/jsonmatch"
	"github.com/ctharness/ctharness/simulator/lifecycle"
	"github.com/ctharness/ctharness/simulator/sources"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

var jane = lifecycle.User{AppUserID: "user_42", AnonymousID: "$RCAnonymousID:4f9d0c1e2b3a4c5d8e7f6a5b4c3d2e1f",
	CleverTapID: "a1b2c3d4e5f60718293a4b5c6d7e8f90", Email: "jane@example.com", Country: "FR"}

var cfg = Config{AppID: "app7f3c2a1b9d", OfferingID: "default"}

func trialStory(t *testing.T) (*lifecycle.Subscription, context.Context) {
	t.Helper()
	s, err := lifecycle.Start(lifecycle.NewVirtualClock(t0), lifecycle.Purchase{User: jane, Store: lifecycle.PlayStore,
		Environment: lifecycle.Sandbox,
		Product: lifecycle.Product{ID: "premium:monthly", Period: "P1M", Price: 9.99, Currency: "EUR",
			Entitlement: "premium"},
		Offer: lifecycle.Offer{Type: lifecycle.FreeTrial, Period: "P1W"}})
	if err != nil {
		t.Fatal(err)
	}
	return s, context.Background()
}

func golden(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "..", "fixtures", "golden", "revenuecat", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestTrialStoryMatchesTheHandWrittenPayloads(t *testing.T) {
	s, ctx := trialStory(t)
	if err := s.AdvanceToPeriodEnd(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.Refund(); err != nil {
		t.Fatal(err)
	}
	hooks := Render(s.Facts(), cfg)
	var types []string
	for _, h := range hooks {
		types = append(types, h.EventType)
	}
	if strings.Join(types, " ") != "INITIAL_PURCHASE RENEWAL CANCELLATION" {
		t.Fatalf("expected INITIAL_PURCHASE RENEWAL CANCELLATION, got %v", types)
	}
	for i, name := range []string{"trial-started.json", "trial-converted.json", "refund.json"} {
		if err := jsonmatch.Match(golden(t, name), hooks[i].Body); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	// ids are consistent across the story: the conversion continues the trial's transaction
	var first, second struct {
		Event struct {
			ID                    string `json:"id"`
			TransactionID         string `json:"transaction_id"`
			OriginalTransactionID string `json:"original_transaction_id"`
		} `json:"event"`
	}
	if json.Unmarshal(hooks[0].Body, &first) != nil || json.Unmarshal(hooks[1].Body, &second) != nil {
		t.Fatal("bodies are not JSON")
	}
	if second.Event.OriginalTransactionID != first.Event.TransactionID ||
		second.Event.TransactionID != first.Event.TransactionID+"..0" || first.Event.ID == second.Event.ID {
		t.Fatalf("inconsistent ids: %+v then %+v", first.Event, second.Event)
	}
}

// TestFlows checks the event sequences of RevenueCat's event-flows page.
func TestFlows(t *testing.T) {
	product := lifecycle.Product{ID: "premium.monthly", Period: "P1M", Price: 4.99, Currency: "USD",
		Entitlement: "premium"}
	cases := []struct {
		name  string
		store lifecycle.Store
		offer lifecycle.OfferType
		play  func(context.Context, *lifecycle.Subscription) error
		want  string
	}{
		{"trial not converted", lifecycle.AppStore, lifecycle.FreeTrial, func(ctx context.Context,
			s *lifecycle.Subscription) error {
			if err := s.DisableAutoRenew(); err != nil {
				return err
			}
			return s.AdvanceToPeriodEnd(ctx)
		}, "INITIAL_PURCHASE CANCELLATION EXPIRATION"},
		{"uncancel", lifecycle.AppStore, lifecycle.NoOffer, func(ctx context.Context, s *lifecycle.Subscription) error {
			if err := s.DisableAutoRenew(); err != nil {
				return err
			}
			return s.EnableAutoRenew()
		}, "INITIAL_PURCHASE CANCELLATION UNCANCELLATION"},
		{"billing issue, grace, recovered", lifecycle.AppStore, lifecycle.NoOffer, func(ctx context.Context,
			s *lifecycle.Subscription) error {
			if err := s.FailRenewal(ctx, true); err != nil {
				return err
			}
			return s.RecoverBilling()
		}, "INITIAL_PURCHASE BILLING_ISSUE CANCELLATION RENEWAL"},
		{"billing issue, grace, expired", lifecycle.AppStore, lifecycle.NoOffer, func(ctx context.Context,
			s *lifecycle.Subscription) error {
			if err := s.FailRenewal(ctx, true); err != nil {
				return err
			}
			return s.ExpireBilling(ctx)
		}, "INITIAL_PURCHASE BILLING_ISSUE CANCELLATION EXPIRATION"},
		{"billing issue without grace expires at once", lifecycle.AppStore, lifecycle.NoOffer, func(ctx context.Context,
			s *lifecycle.Subscription) error {
			if err := s.FailRenewal(ctx, false); err != nil {
				return err
			}
			return s.ExpireBilling(ctx)
		}, "INITIAL_PURCHASE BILLING_ISSUE CANCELLATION EXPIRATION"},
		{"immediate product change on the App Store", lifecycle.AppStore, lifecycle.NoOffer, func(ctx context.Context,
			s *lifecycle.Subscription) error {
			return s.ChangeProduct(lifecycle.Product{ID: "premium.yearly", Period: "P1Y", Price: 49.99, Currency: "USD"}, true)
		}, "INITIAL_PURCHASE PRODUCT_CHANGE RENEWAL"},
		{"immediate product change on Play", lifecycle.PlayStore, lifecycle.NoOffer, func(ctx context.Context,
			s *lifecycle.Subscription) error {
			return s.ChangeProduct(lifecycle.Product{ID: "premium:yearly", Period: "P1Y", Price: 49.99, Currency: "USD"}, true)
		}, "INITIAL_PURCHASE PRODUCT_CHANGE INITIAL_PURCHASE"},
		{"deferred product change", lifecycle.AppStore, lifecycle.NoOffer, func(ctx context.Context,
			s *lifecycle.Subscription) error {
			if err := s.ChangeProduct(lifecycle.Product{ID: "premium.yearly", Period: "P1Y", Price: 49.99, Currency: "USD"},
				false); err != nil {
				return err
			}
			return s.AdvanceToPeriodEnd(ctx)
		}, "INITIAL_PURCHASE PRODUCT_CHANGE RENEWAL"},
		{"Play pause", lifecycle.PlayStore, lifecycle.NoOffer, func(ctx context.Context, s *lifecycle.Subscription) error {
			if err := s.SchedulePause("P1M"); err != nil {
				return err
			}
			return s.AdvanceToPeriodEnd(ctx)
		}, "INITIAL_PURCHASE SUBSCRIPTION_PAUSED EXPIRATION"},
		{"transfer", lifecycle.AppStore, lifecycle.NoOffer, func(ctx context.Context, s *lifecycle.Subscription) error {
			return s.TransferTo(lifecycle.User{AppUserID: "other"})
		}, "INITIAL_PURCHASE TRANSFER"},
		{"resubscribe after expiry", lifecycle.AppStore, lifecycle.NoOffer, func(ctx context.Context,
			s *lifecycle.Subscription) error {
			if err := s.DisableAutoRenew(); err != nil {
				return err
			}
			if err := s.AdvanceToPeriodEnd(ctx); err != nil {
				return err
			}
			return s.Resubscribe()
		}, "INITIAL_PURCHASE CANCELLATION EXPIRATION INITIAL_PURCHASE"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := product
			if tc.store == lifecycle.PlayStore {
				p.ID = "premium:monthly"
			}
			s, err := lifecycle.Start(lifecycle.NewVirtualClock(t0), lifecycle.Purchase{User: jane, Store: tc.store, Product: p,
				Offer: lifecycle.Offer{Type: tc.offer}})
			if err != nil {
				t.Fatal(err)
			}
			if err := tc.play(context.Background(), s); err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, h := range Render(s.Facts(), cfg) {
				got = append(got, h.EventType)
			}
			if strings.Join(got, " ") != tc.want {
				t.Fatalf("expected %s, got %s", tc.want, strings.Join(got, " "))
			}
		})
	}
}

// TestEveryFieldOfTheVendorSamples: the emitter's event of each type carries every key RevenueCat's own
// sample of that type has.
func TestEveryFieldOfTheVendorSamples(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("..", "..", "..", "fixtures", "vendor-samples", "revenuecat", "webhooks",
		"*.json"))
	if len(files) != 19 {
		t.Fatalf("expected 19 vendor samples, found %d", len(files))
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			raw, _ := os.ReadFile(file)
			var sample struct {
				Event map[string]any `json:"event"`
			}
			if err := json.Unmarshal(raw, &sample); err != nil {
				t.Fatal(err)
			}
			eventType := sample.Event["type"].(string)
			periodType, _ := sample.Event["period_type"].(string)
			hook, err := Emit(eventType, Single{Single: sources.Single{User: jane, At: t0},
				PeriodType: periodTypeFor(periodType), Config: cfg})
			if err != nil {
				t.Fatal(err)
			}
			// and as `simulator emit revenuecat <type>` sends it: the emitter with its options' defaults
			options := map[string]string{}
			if p := periodTypeFor(periodType); p != "" {
				options["period-type"] = p
			}
			cli, err := Emitter{}.Emit(eventType, sources.Single{User: jane, At: t0, Options: options})
			if err != nil {
				t.Fatal(err)
			}
			for name, body := range map[string][]byte{"Emit": hook.Body, "the emit command": cli.Body} {
				var ours struct {
					Event      map[string]any `json:"event"`
					APIVersion string         `json:"api_version"`
				}
				if err := json.Unmarshal(body, &ours); err != nil || ours.APIVersion != "1.0" {
					t.Fatalf("%s: not a RevenueCat body: %v %s", name, err, body)
				}
				var missing []string
				for k := range sample.Event {
					if _, ok := ours.Event[k]; !ok {
						missing = append(missing, k)
					}
				}
				sort.Strings(missing)
				if len(missing) > 0 {
					t.Fatalf("%s: %s lacks keys of the vendor sample: %v", name, eventType, missing)
				}
			}
		})
	}
}

func periodTypeFor(p string) string {
	if p == "TRIAL" || p == "INTRO" {
		return p
	}
	return ""
}

func TestEmitRefusesUnknownTypesListingTheValidOnes(t *testing.T) {
	_, err := Emit("INITIAL_PURCHASES", Single{Single: sources.Single{User: jane}})
	if err == nil || !strings.Contains(err.Error(),
		`unknown RevenueCat event type "INITIAL_PURCHASES": expected one of TEST, INITIAL_PURCHASE, RENEWAL`) {
		t.Fatalf("expected the list of valid types, got %v", err)
	}
}

// TestDeliveryRetriesOnRevenueCatsScheduleKeepingTheEvent: only 200 counts; 5 retries after 5, 10, 20, 40 and
// 80 minutes of the clock; the same body (event.id, event_timestamp_ms) every time; the Authorization value sent.
func TestDeliveryRetriesOnRevenueCatsScheduleKeepingTheEvent(t *testing.T) {
	var mu sync.Mutex
	var bodies []string
	var auths []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		bodies = append(bodies, string(b))
		auths = append(auths, r.Header.Get("Authorization"))
		if len(bodies) < 5 {
			w.WriteHeader(http.StatusCreated) // not 200: RevenueCat retries
			return
		}
		if len(bodies) < 6 {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	defer srv.Close()
	hook, err := Emit(InitialPurchase, Single{Single: sources.Single{User: jane, At: t0}, Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	hook.Header = Header("Bearer s3cret")
	clock := lifecycle.NewVirtualClock(t0)
	res, err := sources.Deliverer{Clock: clock}.Deliver(context.Background(), srv.URL, hook, Policy())
	if err != nil || !res.Delivered || len(res.Attempts) != 6 {
		t.Fatalf("expected delivery on the 6th attempt, got %v %+v", err, res)
	}
	wantOffsets := []time.Duration{0, 5 * time.Minute, 15 * time.Minute, 35 * time.Minute, 75 * time.Minute,
		155 * time.Minute}
	for i, a := range res.Attempts {
		if got := a.At.Sub(t0); got != wantOffsets[i] {
			t.Errorf("attempt %d at +%s, expected +%s", i+1, got, wantOffsets[i])
		}
	}
	for i := range bodies {
		if bodies[i] != bodies[0] || auths[i] != "Bearer s3cret" {
			t.Fatalf("attempt %d changed the body or the Authorization value", i+1)
		}
	}
}

func TestDeliveryGivesUpAfterFiveRetries(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter,
		r *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	hook, _ := Emit(Renewal, Single{Single: sources.Single{User: jane, At: t0}, Config: cfg})
	res, err := sources.Deliverer{Clock: lifecycle.NewVirtualClock(t0)}.Deliver(context.Background(), srv.URL, hook,
		Policy())
	if err == nil || res.Delivered || len(res.Attempts) != 6 || !strings.Contains(err.Error(), "after 6 attempt(s)") {
		t.Fatalf("expected 6 failed attempts, got %v %+v", err, res)
	}
}
