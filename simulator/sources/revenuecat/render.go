package revenuecat

import (
	"time"

	"github.com/ctharness/ctharness/simulator/lifecycle"
	"github.com/ctharness/ctharness/simulator/sources"
)

// Render turns a story's facts into the webhooks RevenueCat sends for it, in order.
func Render(facts []lifecycle.Fact, cfg Config) []sources.Webhook {
	r := renderer{cfg: cfg}
	var out []sources.Webhook
	for i, f := range facts {
		var prev *lifecycle.Fact
		if i > 0 {
			prev = &facts[i-1]
		}
		for _, e := range r.events(f, prev) {
			out = append(out, r.webhook(f, e))
		}
	}
	return out
}

type renderer struct{ cfg Config }

func (r *renderer) ids(f lifecycle.Fact) *lifecycle.IDs {
	if r.cfg.IDs == nil {
		// seeded by user and story start: the same story gives the same ids, another story other ids
		r.cfg.IDs = lifecycle.NewIDs(Source + ":" + f.User.AppUserID + f.User.AnonymousID + ":" +
			f.OriginalPurchasedAt.Format(time.RFC3339Nano))
	}
	return r.cfg.IDs
}

func (r *renderer) webhook(f lifecycle.Fact, e map[string]any) sources.Webhook {
	user := appUserID(f.User)
	if f.TransferredTo != nil { // RevenueCat sends a transfer only for the receiving user
		user = appUserID(*f.TransferredTo)
	}
	return sources.Webhook{Source: Source, EventType: e["type"].(string), EventID: e["id"].(string), Method: "POST",
		Body: Body(e), User: user, At: f.At}
}

// events maps one fact to RevenueCat's events for it
// (https://www.revenuecat.com/docs/integrations/webhooks/event-flows).
func (r *renderer) events(f lifecycle.Fact, prev *lifecycle.Fact) []map[string]any {
	switch f.Kind {
	case lifecycle.Purchased, lifecycle.Resubscribed:
		return []map[string]any{r.subscription(InitialPurchase, f, nil)}
	case lifecycle.NonRenewingPurchase:
		return []map[string]any{r.subscription(NonRenewingPurchase, f,
			func(e map[string]any) { e["expiration_at_ms"] = nil })}
	case lifecycle.Renewed:
		// an immediate product change is a RENEWAL on the App Store and an INITIAL_PURCHASE on Play
		if prev != nil && prev.Kind == lifecycle.ProductChanged && prev.Immediate && f.Store == lifecycle.PlayStore {
			return []map[string]any{r.subscription(InitialPurchase, f, nil)}
		}
		return []map[string]any{r.subscription(Renewal, f, func(e map[string]any) {
			e["is_trial_conversion"] = f.ConvertedFrom == lifecycle.FreeTrial
		})}
	case lifecycle.Recovered, lifecycle.Resumed:
		return []map[string]any{r.subscription(Renewal, f, func(e map[string]any) { e["is_trial_conversion"] = false })}
	case lifecycle.AutoRenewDisabled:
		return []map[string]any{r.subscription(Cancellation, f,
			func(e map[string]any) { noCharge(e); e["cancel_reason"] = reason(f.Reason) })}
	case lifecycle.AutoRenewEnabled:
		return []map[string]any{r.subscription(Uncancellation, f, noCharge)}
	case lifecycle.BillingIssue:
		out := []map[string]any{
			r.subscription(BillingIssue, f,
				func(e map[string]any) { noCharge(e); e["grace_period_expiration_at_ms"] = ms(f.GraceExpiresAt) }),
			r.subscription(Cancellation, f, func(e map[string]any) { noCharge(e); e["cancel_reason"] = "BILLING_ERROR" }),
		}
		if !f.InGrace { // without a grace period access ends at once
			out = append(out, r.subscription(Expiration, f,
				func(e map[string]any) { noCharge(e); e["expiration_reason"] = "BILLING_ERROR" }))
		}
		return out
	case lifecycle.Expired:
		if f.Reason == lifecycle.ReasonBillingError && !f.InGrace {
			return nil // already expired when billing failed
		}
		return []map[string]any{r.subscription(Expiration, f,
			func(e map[string]any) { noCharge(e); e["expiration_reason"] = reason(f.Reason) })}
	case lifecycle.Refunded:
		return []map[string]any{r.subscription(Cancellation, f,
			func(e map[string]any) { e["cancel_reason"] = "CUSTOMER_SUPPORT" })}
	case lifecycle.ProductChanged:
		return []map[string]any{r.subscription(ProductChange, f,
			func(e map[string]any) { noCharge(e); e["new_product_id"] = f.NewProduct.ID })}
	case lifecycle.PauseScheduled:
		return []map[string]any{r.subscription(SubscriptionPaused, f,
			func(e map[string]any) { noCharge(e); e["auto_resume_at_ms"] = ms(f.AutoResumeAt) })}
	case lifecycle.Transferred:
		return []map[string]any{r.transfer(f)}
	}
	return nil
}

// noCharge zeroes the price of events that charge nothing: RevenueCat's samples carry price 0 on cancellations,
// uncancellations, expirations, billing issues, product changes and pauses (only a refund's cancellation carries
// the refunded amount, negative).
func noCharge(e map[string]any) {
	e["price"], e["price_in_purchased_currency"] = 0.0, 0.0
}

func appUserID(u lifecycle.User) string {
	if u.AppUserID != "" {
		return u.AppUserID
	}
	return u.AnonymousID
}

// identityFields are the common fields of every event about a customer.
func (r *renderer) identityFields(eventType string, f lifecycle.Fact) map[string]any {
	u := f.User
	original := u.AnonymousID
	if original == "" {
		original = u.AppUserID
	}
	aliases := []string{}
	for _, a := range []string{u.AnonymousID, u.AppUserID} {
		if a != "" {
			aliases = append(aliases, a)
		}
	}
	e := map[string]any{
		"type": eventType, "id": r.ids(f).UUID(), "event_timestamp_ms": f.At.UnixMilli(),
		"app_user_id": appUserID(u), "original_app_user_id": original, "aliases": aliases,
	}
	if r.cfg.AppID != "" {
		e["app_id"] = r.cfg.AppID
	}
	return e
}

// subscription renders an event with every subscription field RevenueCat documents.
func (r *renderer) subscription(eventType string, f lifecycle.Fact, edit func(map[string]any)) map[string]any {
	e := r.identityFields(eventType, f)
	price := f.Price
	tax := taxShare[f.User.Country]
	comm := commission(f.Store)
	var entitlements any
	if f.Product.Entitlement != "" {
		entitlements = []string{f.Product.Entitlement}
	}
	var offerCode any
	if f.OfferCode != "" {
		offerCode = f.OfferCode
	}
	var offering any
	if r.cfg.OfferingID != "" {
		offering = r.cfg.OfferingID
	}
	for k, v := range map[string]any{
		"product_id": f.Product.ID, "entitlement_id": nil, "entitlement_ids": entitlements,
		"period_type": periodType(f.OfferType), "purchased_at_ms": f.PurchasedAt.UnixMilli(),
		"expiration_at_ms": ms(f.ExpiresAt),
		"store":            storeName(f.Store), "environment": environmentName(f.Environment),
		"presented_offering_id": offering,
		"transaction_id":        f.TransactionID, "original_transaction_id": f.OriginalTransactionID,
		"is_family_share": false, "country_code": f.User.Country, "currency": f.Product.Currency,
		"price": USD(price, f.Product.Currency), "price_in_purchased_currency": round2(price),
		"tax_percentage": tax, "commission_percentage": comm, "takehome_percentage": round2(1 - comm),
		"offer_code": offerCode, "renewal_number": f.RenewalNumber,
		"subscriber_attributes": r.attributes(f), "experiments": []any{},
	} {
		e[k] = v
	}
	if edit != nil {
		edit(e)
	}
	return e
}

// attributes are the subscriber attributes RevenueCat holds: reserved ones from the user's ids, plus the config's.
func (r *renderer) attributes(f lifecycle.Fact) map[string]any {
	updated := f.OriginalPurchasedAt.UnixMilli()
	out := map[string]any{}
	set := func(k, v string) {
		if v != "" {
			out[k] = map[string]any{"value": v, "updated_at_ms": updated}
		}
	}
	set("$clevertapId", f.User.CleverTapID)
	set("$email", f.User.Email)
	set("$appsflyerId", f.User.AppsFlyerID)
	for k, v := range r.cfg.Attributes {
		set(k, v)
	}
	return out
}

// transfer is RevenueCat's TRANSFER: no app_user_id, only the ids moved from and to.
func (r *renderer) transfer(f lifecycle.Fact) map[string]any {
	e := map[string]any{
		"type": Transfer, "id": r.ids(f).UUID(), "event_timestamp_ms": f.At.UnixMilli(),
		"store": storeName(f.Store), "environment": environmentName(f.Environment),
		"transferred_from": []string{appUserID(f.User)}, "transferred_to": []string{appUserID(*f.TransferredTo)},
	}
	if r.cfg.AppID != "" {
		e["app_id"] = r.cfg.AppID
	}
	return e
}
