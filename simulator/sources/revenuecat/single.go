package revenuecat

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/ctharness/ctharness/simulator/lifecycle"
	"github.com/ctharness/ctharness/simulator/sources"
)

// Single describes one event to emit on its own (the `simulator emit revenuecat` command).
type Single struct {
	sources.Single
	// PeriodType is TRIAL, INTRO, PROMOTIONAL or NORMAL (default NORMAL).
	PeriodType string
	// CancelReason for CANCELLATION: UNSUBSCRIBE (default), BILLING_ERROR or CUSTOMER_SUPPORT (a refund).
	CancelReason string
	Config       Config
}

// Emit builds one webhook of the given type by playing the shortest story that produces it, so its fields are
// consistent with the flows (a CANCELLATION carries the subscription it cancels).
func Emit(eventType string, in Single) (sources.Webhook, error) {
	if err := in.Begin("RevenueCat event type", eventType, EventTypes, time.Second); err != nil {
		return sources.Webhook{}, err
	}
	if in.Product.ID == "" {
		in.Product = lifecycle.Product{ID: "premium.monthly", Period: "P1M", Price: 9.99, Currency: "USD",
			Entitlement: "premium"}
		if in.Store == lifecycle.PlayStore || eventType == SubscriptionPaused {
			in.Product.ID = "premium:monthly"
		}
	}
	if eventType == SubscriptionPaused {
		in.Store = lifecycle.PlayStore
	}
	if eventType == NonRenewingPurchase {
		in.Product.Period = ""
	}
	offer, err := offerFor(in.PeriodType, in.Product)
	if err != nil {
		return sources.Webhook{}, err
	}
	clock := lifecycle.NewVirtualClock(in.At)
	sub, err := lifecycle.Start(clock, lifecycle.Purchase{User: in.User, Store: in.Store, Environment: in.Environment,
		Product: in.Product, Offer: offer})
	if err != nil {
		return sources.Webhook{}, err
	}
	ctx := context.Background()
	if err := playTo(ctx, sub, eventType, in); err != nil {
		return sources.Webhook{}, fmt.Errorf("%s: %w", eventType, err)
	}
	facts := sub.Facts()
	if special := specialEvent(eventType, facts[0], in.Config); special != nil {
		r := renderer{cfg: in.Config}
		return r.webhook(facts[0], special), nil
	}
	hooks := Render(facts, in.Config)
	for i := len(hooks) - 1; i >= 0; i-- {
		if hooks[i].EventType == eventType {
			return hooks[i], nil
		}
	}
	return sources.Webhook{}, fmt.Errorf("%s: the story produced no such event", eventType)
}

func offerFor(periodType string, p lifecycle.Product) (lifecycle.Offer, error) {
	switch strings.ToUpper(periodType) {
	case "", "NORMAL":
		return lifecycle.Offer{Type: lifecycle.NoOffer}, nil
	case "TRIAL":
		return lifecycle.Offer{Type: lifecycle.FreeTrial, Period: "P1W"}, nil
	case "INTRO":
		return lifecycle.Offer{Type: lifecycle.IntroOffer, Price: round2(p.Price / 2)}, nil
	case "PROMOTIONAL":
		return lifecycle.Offer{Type: lifecycle.PromotionalOffer, Price: round2(p.Price / 2), Code: "winback_50"}, nil
	}
	return lifecycle.Offer{}, fmt.Errorf("period type %q: expected TRIAL, INTRO, PROMOTIONAL or NORMAL", periodType)
}

// playTo moves the subscription to where RevenueCat sends eventType.
func playTo(ctx context.Context, s *lifecycle.Subscription, eventType string, in Single) error {
	switch eventType {
	case Renewal:
		return s.AdvanceToPeriodEnd(ctx)
	case Cancellation:
		switch strings.ToUpper(in.CancelReason) {
		case "", "UNSUBSCRIBE":
			return s.DisableAutoRenew()
		case "BILLING_ERROR":
			return s.FailRenewal(ctx, true)
		case "CUSTOMER_SUPPORT":
			return s.Refund()
		}
		return fmt.Errorf("cancel reason %q: expected UNSUBSCRIBE, BILLING_ERROR or CUSTOMER_SUPPORT", in.CancelReason)
	case Uncancellation:
		if err := s.DisableAutoRenew(); err != nil {
			return err
		}
		return s.EnableAutoRenew()
	case Expiration:
		if err := s.DisableAutoRenew(); err != nil {
			return err
		}
		return s.AdvanceToPeriodEnd(ctx)
	case BillingIssue:
		return s.FailRenewal(ctx, true)
	case ProductChange:
		next := in.Product
		next.ID, next.Period, next.Price = strings.Replace(next.ID, "monthly", "yearly", 1)+".v2", "P1Y",
			round2(in.Product.Price*10)
		return s.ChangeProduct(next, false)
	case SubscriptionPaused:
		return s.SchedulePause("P1M")
	case Transfer:
		to := in.User
		to.AppUserID, to.AnonymousID = appUserID(in.User)+"-new", ""
		return s.TransferTo(to)
	}
	return nil
}

// specialEvent renders the types that are not lifecycle transitions, with the shapes of RevenueCat's samples.
func specialEvent(eventType string, f lifecycle.Fact, cfg Config) map[string]any {
	r := renderer{cfg: cfg}
	switch eventType {
	case Test:
		return r.subscription(Test, f, nil)
	case SubscriptionExtended:
		return r.subscription(SubscriptionExtended, f,
			func(e map[string]any) { e["expiration_at_ms"] = f.ExpiresAt.Add(24 * time.Hour).UnixMilli() })
	case RefundReversed:
		return r.subscription(RefundReversed, f, func(e map[string]any) { e["metadata"] = nil })
	case TemporaryEntitlementGrant:
		e := map[string]any{"type": TemporaryEntitlementGrant, "id": r.ids(f).UUID(), "event_timestamp_ms": f.At.UnixMilli(),
			"app_user_id": appUserID(f.User), "store": storeName(f.Store), "product_id": f.Product.ID,
			"purchased_at_ms": f.At.UnixMilli(), "expiration_at_ms": f.At.Add(24 * time.Hour).UnixMilli(),
			"transaction_id": f.TransactionID, "entitlement_ids": []string{f.Product.Entitlement}}
		if cfg.AppID != "" {
			e["app_id"] = cfg.AppID
		}
		return e
	case InvoiceIssuance:
		return r.subscription(InvoiceIssuance, f, func(e map[string]any) {
			e["store"], e["transaction_id"], e["original_transaction_id"], e["period_type"] = "RC_BILLING", nil, nil, nil
			e["expiration_at_ms"], e["entitlement_ids"], e["metadata"] = nil, nil, nil
			delete(e, "price")
			delete(e, "experiments")
		})
	case VirtualCurrency:
		e := r.identityFields(VirtualCurrency, f)
		for k, v := range map[string]any{
			"adjustments": []any{map[string]any{"amount": 100, "currency": map[string]any{"code": "GLD", "name": "Gold",
				"description": "Gold coins"}}},
			"product_id": "coins_100", "product_display_name": "100 Gold",
			"purchase_environment": environmentName(f.Environment),
			"source":               "in_app_purchase", "store": storeName(f.Store), "transaction_id": f.TransactionID,
			"virtual_currency_transaction_id": "vct_" + r.ids(f).Hex(20), "country_code": f.User.Country,
			"subscriber_attributes": r.attributes(f), "experiments": []any{},
		} {
			e[k] = v
		}
		return e
	case ExperimentEnrollment:
		e := r.identityFields(ExperimentEnrollment, f)
		delete(e, "app_id")
		e["experiment_id"], e["experiment_variant"], e["offering_id"] = "prexp"+r.ids(f).Hex(6), "b", "default"
		e["experiment_enrolled_at_ms"] = f.At.UnixMilli()
		return e
	}
	return nil
}
