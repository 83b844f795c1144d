package purchasely

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ctharness/ctharness/internal/jsonmatch"
	"github.com/ctharness/ctharness/simulator/lifecycle"
	"github.com/ctharness/ctharness/simulator/sources"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

var jane = lifecycle.User{AppUserID: "user_42", CleverTapID: "a1b2c3d4e5f60718293a4b5c6d7e8f90",
	ATInternetID: "9e8d6d5f-143a-4a21-a7d5-7348b56e130d", Country: "FR"}

var monthly = lifecycle.Product{ID: "com.example.premium.monthly", Group: "PREMIUM", Plan: "premium_monthly",
	Period: "P1M", Price: 9.99, Currency: "EUR"}

// The vendor's own test vectors (reference sources.md §2.1).
func TestSignaturesMatchTheVendorTestVectors(t *testing.T) {
	cases := []struct{ got, want string }{
		{Signature("foobar", "1698322022", []byte(`{"a_random_key":"a_random_value_ad"}`)),
			"f3c2a452e9ea72f41107321aeaf7999f1054148866a710c9b23f9f501785e2a4"},
		{DeprecatedSignature("foobar", "1580909929"), "ea909b88098b63ef93711cd14542403e5efe1a23c07d94a764bd4db55abba5a6"},
		{Signature("sim_shared_secret", "1735689600",
			[]byte(`{"event_name":"TRIAL_STARTED","event_id":"00000000-0000-4000-8000-000000000001"}`)),
			"97bb4d5e050576176c99c082dad749085b34e17269045e54c1b4a8c1557eea78"},
		{DeprecatedSignature("sim_shared_secret", "1735689600"),
			"5e2b3dfa06f9f3e6f556b3b4bc7cdd0ad498d2d87321eab3ff179187eee25adc"},
	}
	for i, tc := range cases {
		if tc.got != tc.want {
			t.Errorf("vector %d: expected %s, got %s", i+1, tc.want, tc.got)
		}
	}
}

func story(t *testing.T, offer lifecycle.Offer, play func(context.Context,
	*lifecycle.Subscription) error) []sources.Webhook {
	t.Helper()
	s, err := lifecycle.Start(lifecycle.NewVirtualClock(t0), lifecycle.Purchase{User: jane, Store: lifecycle.AppStore,
		Environment: lifecycle.Production, Product: monthly, Offer: offer})
	if err != nil {
		t.Fatal(err)
	}
	if play != nil {
		if err := play(context.Background(), s); err != nil {
			t.Fatal(err)
		}
	}
	return Render(s.Facts(), Config{BundleID: "com.example.app"})
}

func names(hooks []sources.Webhook) string {
	var out []string
	for _, h := range hooks {
		out = append(out, h.EventType)
	}
	return strings.Join(out, " ")
}

func TestTrialStoryFansOutAsPurchaselyDoes(t *testing.T) {
	hooks := story(t, lifecycle.Offer{Type: lifecycle.FreeTrial, Period: "P1W"}, func(ctx context.Context,
		s *lifecycle.Subscription) error {
		return s.AdvanceToPeriodEnd(ctx)
	})
	want := "ACTIVATE SUBSCRIPTION_STARTED TRIAL_STARTED ACTIVATE TRIAL_CONVERTED SUBSCRIPTION_RENEWED " +
		"TRANSACTION_PROCESSED"
	if got := names(hooks); got != want {
		t.Fatalf("expected %s\ngot      %s", want, got)
	}
	for _, c := range []struct {
		file string
		hook sources.Webhook
	}{{"trial-started.json", hooks[2]}, {"trial-converted-transaction.json", hooks[6]}} {
		want, err := os.ReadFile(filepath.Join("..", "..", "..", "fixtures", "golden", "purchasely", c.file))
		if err != nil {
			t.Fatal(err)
		}
		if err := jsonmatch.Match(want, c.hook.Body); err != nil {
			t.Errorf("%s: %v", c.file, err)
		}
	}
	ids := map[string]bool{}
	for _, h := range hooks {
		if ids[h.EventID] {
			t.Fatalf("event_id %s used twice", h.EventID)
		}
		ids[h.EventID] = true
	}
}

func TestFanOuts(t *testing.T) {
	cases := []struct {
		name  string
		offer lifecycle.Offer
		play  func(context.Context, *lifecycle.Subscription) error
		want  string
	}{
		{"paid purchase", lifecycle.Offer{}, nil, "ACTIVATE SUBSCRIPTION_STARTED TRANSACTION_PROCESSED"},
		{"intro offer", lifecycle.Offer{Type: lifecycle.IntroOffer, Price: 4.99}, nil,
			"ACTIVATE SUBSCRIPTION_STARTED INTRO_OFFER_STARTED TRANSACTION_PROCESSED"},
		{"trial not converted", lifecycle.Offer{Type: lifecycle.FreeTrial, Period: "P1W"}, func(ctx context.Context,
			s *lifecycle.Subscription) error {
			if err := s.DisableAutoRenew(); err != nil {
				return err
			}
			return s.AdvanceToPeriodEnd(ctx)
		}, "ACTIVATE SUBSCRIPTION_STARTED TRIAL_STARTED RENEWAL_DISABLED TRIAL_NOT_CONVERTED SUBSCRIPTION_TERMINATED " +
			"DEACTIVATE"},
		{"grace then recovery", lifecycle.Offer{}, func(ctx context.Context, s *lifecycle.Subscription) error {
			if err := s.FailRenewal(ctx, true); err != nil {
				return err
			}
			return s.RecoverBilling()
		}, "ACTIVATE SUBSCRIPTION_STARTED TRANSACTION_PROCESSED GRACE_PERIOD_STARTED ACTIVATE " +
			"SUBSCRIPTION_RECOVERED_FROM_GRACE_PERIOD TRANSACTION_PROCESSED"},
		{"billing retry then expiry", lifecycle.Offer{}, func(ctx context.Context, s *lifecycle.Subscription) error {
			if err := s.FailRenewal(ctx, false); err != nil {
				return err
			}
			return s.ExpireBilling(ctx)
		}, "ACTIVATE SUBSCRIPTION_STARTED TRANSACTION_PROCESSED ENTERED_BILLING_RETRY DEACTIVATE SUBSCRIPTION_TERMINATED"},
		{"refund", lifecycle.Offer{}, func(ctx context.Context, s *lifecycle.Subscription) error { return s.Refund() },
			"ACTIVATE SUBSCRIPTION_STARTED TRANSACTION_PROCESSED SUBSCRIPTION_REFUNDED_REVOKED TRANSACTION_PROCESSED " +
				"DEACTIVATE"},
		{"upgrade", lifecycle.Offer{}, func(ctx context.Context, s *lifecycle.Subscription) error {
			return s.ChangeProduct(lifecycle.Product{ID: "com.example.premium.yearly", Plan: "premium_yearly", Period: "P1Y",
				Price: 59.99, Currency: "EUR"}, true)
		}, "ACTIVATE SUBSCRIPTION_STARTED TRANSACTION_PROCESSED SUBSCRIPTION_UPGRADED ACTIVATE TRANSACTION_PROCESSED"},
		{"win-back", lifecycle.Offer{}, func(ctx context.Context, s *lifecycle.Subscription) error {
			if err := s.DisableAutoRenew(); err != nil {
				return err
			}
			if err := s.AdvanceToPeriodEnd(ctx); err != nil {
				return err
			}
			return s.Resubscribe()
		}, "ACTIVATE SUBSCRIPTION_STARTED TRANSACTION_PROCESSED RENEWAL_DISABLED SUBSCRIPTION_TERMINATED DEACTIVATE " +
			"ACTIVATE SUBSCRIPTION_REACTIVATED TRANSACTION_PROCESSED"},
		{"transfer", lifecycle.Offer{}, func(ctx context.Context, s *lifecycle.Subscription) error {
			return s.TransferTo(lifecycle.User{AppUserID: "user_43"})
		},
			"ACTIVATE SUBSCRIPTION_STARTED TRANSACTION_PROCESSED SUBSCRIPTION_TRANSFERRED SUBSCRIPTION_RECEIVED"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := names(story(t, tc.offer, tc.play)); got != tc.want {
				t.Fatalf("expected %s\ngot      %s", tc.want, got)
			}
		})
	}
}

func TestRefundTransactionIsNegative(t *testing.T) {
	hooks := story(t, lifecycle.Offer{}, func(ctx context.Context, s *lifecycle.Subscription) error { return s.Refund() })
	refund := string(hooks[4].Body)
	for _, want := range []string{`"amount_in_customer_currency":-9.99`,
		`"source_event_name":"SUBSCRIPTION_REFUNDED_REVOKED"`, `"cumulated_revenues_in_eur":0`} {
		if !strings.Contains(refund, want) {
			t.Errorf("expected %s in %s", want, refund)
		}
	}
}

func TestEveryEventCanBeEmittedAlone(t *testing.T) {
	for _, name := range EventTypes {
		h, err := Emit(name, Single{Single: sources.Single{User: jane, At: t0}})
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if h.EventType != name || !strings.Contains(string(h.Body), `"event_name":"`+name+`"`) {
			t.Errorf("%s: got %s %s", name, h.EventType, h.Body)
		}
	}
	_, err := Emit("TRIAL_BEGAN", Single{Single: sources.Single{User: jane}})
	if err == nil || !strings.Contains(err.Error(), "expected one of ACTIVATE, DEACTIVATE") {
		t.Fatalf("expected the list of events, got %v", err)
	}
}

// Each attempt is signed with its own timestamp; 404 (unknown user) ends delivery like 200.
func TestDeliverySignsEveryAttemptAndAccepts404(t *testing.T) {
	var mu sync.Mutex
	var seen []http.Header
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		seen = append(seen, r.Header.Clone())
		if len(seen) < 3 {
			w.WriteHeader(http.StatusBadGateway)
			return
		}
		w.WriteHeader(http.StatusNotFound)
	}))
	defer srv.Close()
	h, err := Emit(TrialStarted, Single{Single: sources.Single{User: jane, At: t0}})
	if err != nil {
		t.Fatal(err)
	}
	h.Header = Header()
	res, err := sources.Deliverer{Clock: lifecycle.NewVirtualClock(t0)}.Deliver(context.Background(), srv.URL, h,
		Policy("s3cret", true))
	if err != nil || !res.Delivered || len(res.Attempts) != 3 {
		t.Fatalf("expected delivery on the 3rd attempt (404), got %v %+v", err, res)
	}
	for i, hdr := range seen {
		ts := hdr.Get(HeaderTimestamp)
		wantTS := strconv.FormatInt(res.Attempts[i].At.Unix(), 10)
		if ts != wantTS || hdr.Get(HeaderSignature) != Signature("s3cret", ts,
			h.Body) || hdr.Get(HeaderDeprecatedSignature) != DeprecatedSignature("s3cret", ts) {
			t.Fatalf("attempt %d: bad signature headers %v (expected timestamp %s)", i+1, hdr, wantTS)
		}
	}
	if seen[0].Get(HeaderTimestamp) == seen[1].Get(HeaderTimestamp) {
		t.Fatal("retries must be signed with their own timestamp")
	}
	if got := res.Attempts[1].At.Sub(res.Attempts[0].At); got != time.Minute {
		t.Fatalf("first retry after %s, expected 1m", got)
	}
}

func TestRetryScheduleIs25RetriesCappedAtAnHour(t *testing.T) {
	r := DefaultRetries()
	if len(r) != 25 || r[0] != time.Minute || r[5] != 32*time.Minute || r[6] != time.Hour || r[24] != time.Hour {
		t.Fatalf("unexpected schedule %v", r)
	}
}
