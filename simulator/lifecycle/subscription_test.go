package lifecycle

import (
	"context"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

func monthly() Product {
	return Product{ID: "premium.monthly", Group: "PREMIUM", Plan: "premium_monthly", Period: "P1M", Price: 9.99,
		Currency: "EUR", Entitlement: "premium"}
}

func kinds(facts []Fact) string {
	var out []string
	for _, f := range facts {
		out = append(out, string(f.Kind))
	}
	return strings.Join(out, " ")
}

func start(t *testing.T, p Purchase) (*Subscription, *VirtualClock) {
	t.Helper()
	clock := NewVirtualClock(t0)
	if p.User.AppUserID == "" {
		p.User = User{AppUserID: "user-1"}
	}
	if p.Product.ID == "" {
		p.Product = monthly()
	}
	s, err := Start(clock, p)
	if err != nil {
		t.Fatal(err)
	}
	return s, clock
}

func TestTrialConvertsRenewsThenExpiresOnTheSandboxScale(t *testing.T) {
	ctx := context.Background()
	s, clock := start(t, Purchase{Store: AppStore, Environment: Sandbox, Offer: Offer{Type: FreeTrial, Period: "P1W"}})
	must(t, s.AdvanceToPeriodEnd(ctx)) // trial → paid: conversion
	must(t, s.AdvanceToPeriodEnd(ctx)) // renewal
	must(t, s.DisableAutoRenew())
	must(t, s.AdvanceToPeriodEnd(ctx)) // expiry
	facts := s.Facts()
	if got := kinds(facts); got != "purchased renewed renewed auto_renew_disabled expired" {
		t.Fatalf("unexpected facts: %s", got)
	}
	// App Store sandbox: a week lasts 3 minutes, a month 5 minutes
	p, conv, renew, exp := facts[0], facts[1], facts[2], facts[4]
	if p.OfferType != FreeTrial || p.Price != 0 || !p.ExpiresAt.Equal(t0.Add(3*time.Minute)) || p.RenewalNumber != 1 {
		t.Fatalf("trial purchase: %+v", p)
	}
	if conv.ConvertedFrom != FreeTrial || conv.OfferType != NoOffer || conv.Price != 9.99 ||
		!conv.At.Equal(t0.Add(3*time.Minute)) ||
		!conv.ExpiresAt.Equal(t0.Add(8*time.Minute)) || conv.RenewalNumber != 2 || conv.PreviousOffer != FreeTrial {
		t.Fatalf("conversion: %+v", conv)
	}
	if renew.ConvertedFrom != NoOffer || renew.RenewalNumber != 3 || renew.TransactionID == conv.TransactionID ||
		renew.OriginalTransactionID != p.TransactionID {
		t.Fatalf("renewal: %+v", renew)
	}
	if exp.Reason != ReasonUnsubscribe || !exp.At.Equal(t0.Add(13*time.Minute)) ||
		!clock.Now().Equal(t0.Add(13*time.Minute)) {
		t.Fatalf("expiry: %+v", exp)
	}
	if s.State() != StateExpired {
		t.Fatalf("expected expired, got %s", s.State())
	}
}

func TestProductionScaleUsesRealLengths(t *testing.T) {
	s, _ := start(t, Purchase{Store: PlayStore, Environment: Production})
	if f := s.Facts()[0]; !f.ExpiresAt.Equal(t0.Add(30 * 24 * time.Hour)) {
		t.Fatalf("expected a 30-day month, got expiry %s", f.ExpiresAt)
	}
}

func TestBillingIssueWithGraceRecovers(t *testing.T) {
	ctx := context.Background()
	s, _ := start(t, Purchase{Store: AppStore, Environment: Sandbox})
	must(t, s.FailRenewal(ctx, true))
	must(t, s.RecoverBilling())
	facts := s.Facts()
	if got := kinds(facts); got != "purchased billing_issue recovered" {
		t.Fatalf("unexpected facts: %s", got)
	}
	issue := facts[1]
	if !issue.InGrace || !issue.GraceExpiresAt.Equal(t0.Add(5*time.Minute+2*time.Minute)) ||
		issue.Reason != ReasonBillingError {
		t.Fatalf("billing issue: %+v", issue)
	}
	if facts[2].RenewalNumber != 2 || !facts[2].InGrace {
		t.Fatalf("recovery: %+v", facts[2])
	}
}

func TestBillingRetryExpires(t *testing.T) {
	ctx := context.Background()
	s, _ := start(t, Purchase{})
	must(t, s.FailRenewal(ctx, false))
	must(t, s.ExpireBilling(ctx))
	if got := kinds(s.Facts()); got != "purchased billing_issue expired" {
		t.Fatalf("unexpected facts: %s", got)
	}
	if f := s.Facts()[2]; f.Reason != ReasonBillingError || f.InGrace {
		t.Fatalf("expiry: %+v", f)
	}
}

func TestRefundProductChangePauseTransferResubscribe(t *testing.T) {
	ctx := context.Background()
	s, _ := start(t, Purchase{Store: PlayStore, Environment: Sandbox, Product: Product{ID: "premium:monthly",
		Period: "P1M", Price: 4.99, Currency: "USD"}})
	yearly := Product{ID: "premium:yearly", Period: "P1Y", Price: 49.99, Currency: "USD"}
	must(t, s.ChangeProduct(yearly, true))
	must(t, s.SchedulePause("P1M"))
	must(t, s.AdvanceToPeriodEnd(ctx)) // pause begins
	must(t, s.ResumeFromPause(ctx))
	must(t, s.TransferTo(User{AppUserID: "user-2"}))
	must(t, s.Refund())
	must(t, s.Resubscribe())
	facts := s.Facts()
	if got := kinds(
		facts); got != "purchased product_changed renewed pause_scheduled expired resumed transferred refunded resubscribed" {
		t.Fatalf("unexpected facts: %s", got)
	}
	if facts[1].NewProduct.ID != "premium:yearly" || !facts[1].Immediate || facts[2].Product.ID != "premium:yearly" ||
		facts[2].Price != 49.99 {
		t.Fatalf("product change: %+v / %+v", facts[1], facts[2])
	}
	// Play test: a year lasts 30 minutes, a month 5
	if !facts[3].AutoResumeAt.Equal(t0.Add(35*time.Minute)) || facts[4].Reason != ReasonPaused {
		t.Fatalf("pause: %+v / %+v", facts[3], facts[4])
	}
	if facts[6].User.AppUserID != "user-1" || facts[6].TransferredTo.AppUserID != "user-2" ||
		facts[7].User.AppUserID != "user-2" {
		t.Fatalf("transfer: %+v", facts[6])
	}
	if facts[7].Price != -49.99 || facts[7].Reason != ReasonCustomerSupport {
		t.Fatalf("refund: %+v", facts[7])
	}
	if !strings.HasPrefix(facts[0].TransactionID, "GPA.") || facts[2].TransactionID != facts[0].TransactionID+"..0" {
		t.Fatalf("Play order ids: %s then %s", facts[0].TransactionID, facts[2].TransactionID)
	}
}

func TestDeferredProductChangeTakesEffectAtRenewal(t *testing.T) {
	s, _ := start(t, Purchase{})
	must(t, s.ChangeProduct(Product{ID: "premium.yearly", Period: "P1Y", Price: 59.99, Currency: "EUR"}, false))
	if f := s.Facts()[1]; f.Product.ID != "premium.monthly" || f.NewProduct.ID != "premium.yearly" || f.Immediate {
		t.Fatalf("deferred change: %+v", f)
	}
	must(t, s.AdvanceToPeriodEnd(context.Background()))
	if f := s.Facts()[2]; f.Kind != Renewed || f.Product.ID != "premium.yearly" || f.Price != 59.99 {
		t.Fatalf("renewal on the new product: %+v", f)
	}
}

func TestIllegalMovesAreRefusedWithTheState(t *testing.T) {
	s, _ := start(t, Purchase{})
	if err := s.RecoverBilling(); err == nil || !strings.Contains(err.Error(), "but it is active") {
		t.Fatalf("expected a refusal naming the state, got %v", err)
	}
	if err := s.SchedulePause(""); err == nil || !strings.Contains(err.Error(), "expected a Play Store subscription") {
		t.Fatalf("expected pause refused off Play, got %v", err)
	}
	if err := s.EnableAutoRenew(); err == nil {
		t.Fatal("enabling auto-renew while it is on must be refused")
	}
	if _, err := Start(NewVirtualClock(t0), Purchase{User: User{AppUserID: "u"}, Product: Product{ID: "x",
		Period: "1 month"}}); err == nil || !strings.Contains(err.Error(),
		`expected an ISO 8601 period such as P1W, P1M or P1Y, got "1 month"`) {
		t.Fatalf("expected a period error, got %v", err)
	}
}

func TestNonRenewingPurchase(t *testing.T) {
	s, _ := start(t, Purchase{Product: Product{ID: "coins_100", Price: 1.99, Currency: "USD"}})
	if got := kinds(s.Facts()); got != "non_renewing_purchase" || s.State() != StateNonRenewing {
		t.Fatalf("unexpected %s in %s", got, s.State())
	}
	if err := s.AdvanceToPeriodEnd(context.Background()); err == nil {
		t.Fatal("a one-time purchase has no period end")
	}
}

func TestIDsAreDeterministicPerSeed(t *testing.T) {
	a, b, c := NewIDs("seed"), NewIDs("seed"), NewIDs("other")
	if a.UUID() != b.UUID() || a.Transaction(AppStore, 0) != b.Transaction(AppStore, 0) {
		t.Fatal("same seed must give the same ids")
	}
	if NewIDs("seed").UUID() == c.UUID() {
		t.Fatal("different seeds must give different ids")
	}
	if u := NewIDs("x").UUID(); len(u) != 36 || u[14] != '4' {
		t.Fatalf("expected a version 4 UUID, got %s", u)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
