package purchasely

import (
	"encoding/json"
	"math"
	"strings"
	"time"

	"github.com/ctharness/ctharness/simulator/lifecycle"
	"github.com/ctharness/ctharness/simulator/sources"
)

// Config is what a Purchasely app adds to the facts.
type Config struct {
	// BundleID is store_app_bundle_id.
	BundleID string
	// ReferenceCurrency is the app's reporting currency for plan_price_in_<xxx> and amount_in_<xxx> (default eur).
	ReferenceCurrency string
	// OmitIntegrationIDs leaves out integration_clevertap_id and integration_at_internet_id_client. Whether the
	// webhook carries the ids set with Purchasely.setAttribute is UNCONFIRMED; by default it does, named as in
	// Purchasely's S2S receipts API, because the CleverTap and Piano integrations route on them.
	OmitIntegrationIDs bool
	// IDs makes event ids; nil seeds one from the user id.
	IDs *lifecycle.IDs
}

// Render fans a story's facts out into Purchasely's webhooks, in order.
func Render(facts []lifecycle.Fact, cfg Config) []sources.Webhook {
	r := renderer{cfg: cfg, revenue: map[string]float64{}}
	var out []sources.Webhook
	for i, f := range facts {
		var prev *lifecycle.Fact
		if i > 0 {
			prev = &facts[i-1]
		}
		for _, e := range r.events(f, prev) {
			body, _ := json.Marshal(e)
			user, _ := e["user_id"].(string)
			out = append(out, sources.Webhook{Source: Source, EventType: e["event_name"].(string),
				EventID: e["event_id"].(string),
				Method:  "POST", Body: body, User: user, At: f.At})
		}
	}
	return out
}

type renderer struct {
	cfg Config
	// revenue is each user's cumulated revenue in the reference currency.
	revenue map[string]float64
}

func (r *renderer) ids(f lifecycle.Fact) *lifecycle.IDs {
	if r.cfg.IDs == nil {
		r.cfg.IDs = lifecycle.NewIDs(Source + ":" + f.User.AppUserID + f.User.AnonymousID + ":" +
			f.OriginalPurchasedAt.Format(time.RFC3339Nano))
	}
	return r.cfg.IDs
}

func (r *renderer) events(f lifecycle.Fact, prev *lifecycle.Fact) []map[string]any {
	ev := func(name string, edit ...func(map[string]any)) map[string]any { return r.event(name, f, edit...) }
	paid := func(source string) map[string]any { return r.transaction(f, source) }
	switch f.Kind {
	case lifecycle.Purchased:
		out := []map[string]any{ev(Activate), ev(SubscriptionStarted)}
		if started := offerEvent(f.OfferType, "STARTED"); started != "" {
			out = append(out, ev(started))
		}
		if f.Price != 0 {
			out = append(out, paid(SubscriptionStarted))
		}
		return out
	case lifecycle.NonRenewingPurchase:
		return []map[string]any{ev(Activate), paid(Activate)}
	case lifecycle.Resubscribed:
		return []map[string]any{ev(Activate), ev(SubscriptionReactivated), paid(SubscriptionReactivated)}
	case lifecycle.Renewed:
		if prev != nil && prev.Kind == lifecycle.ProductChanged && prev.Immediate {
			return []map[string]any{ev(Activate), paid(planChange(prev))}
		}
		out := []map[string]any{ev(Activate)}
		source := SubscriptionRenewed
		if converted := offerEvent(f.ConvertedFrom, "CONVERTED"); converted != "" {
			out, source = append(out, ev(converted)), converted
		}
		return append(out, ev(SubscriptionRenewed), paid(source))
	case lifecycle.Resumed:
		return []map[string]any{ev(Activate), ev(SubscriptionUnpaused), paid(SubscriptionUnpaused)}
	case lifecycle.AutoRenewDisabled:
		return []map[string]any{ev(RenewalDisabled)}
	case lifecycle.AutoRenewEnabled:
		return []map[string]any{ev(RenewalEnabled)}
	case lifecycle.BillingIssue:
		if f.InGrace {
			return []map[string]any{ev(GracePeriodStarted)}
		}
		return []map[string]any{ev(EnteredBillingRetry), ev(Deactivate)}
	case lifecycle.Recovered:
		name := RecoveredFromBillingRetry
		if f.InGrace {
			name = RecoveredFromGrace
		}
		return []map[string]any{ev(Activate), ev(name), paid(name)}
	case lifecycle.Expired:
		switch {
		case f.Reason == lifecycle.ReasonPaused:
			return []map[string]any{ev(SubscriptionPaused), ev(Deactivate)}
		case f.Reason == lifecycle.ReasonBillingError && f.InGrace:
			return []map[string]any{ev(GracePeriodTerminated), ev(SubscriptionTerminated), ev(Deactivate)}
		case f.Reason == lifecycle.ReasonBillingError:
			return []map[string]any{ev(SubscriptionTerminated)} // DEACTIVATE came when billing retry began
		}
		out := []map[string]any{}
		if notConverted := offerEvent(f.OfferType, "NOT_CONVERTED"); notConverted != "" {
			out = append(out, ev(notConverted))
		}
		return append(out, ev(SubscriptionTerminated), ev(Deactivate))
	case lifecycle.Refunded:
		return []map[string]any{ev(SubscriptionRefunded), paid(SubscriptionRefunded), ev(Deactivate)}
	case lifecycle.ProductChanged:
		return []map[string]any{ev(planChange(&f), func(e map[string]any) {
			e["previous_plan"] = planOf(f.Product)
			e["plan"], e["store_product_id"] = planOf(*f.NewProduct), f.NewProduct.ID
		})}
	case lifecycle.PauseScheduled:
		return []map[string]any{ev(SubscriptionWillPause, func(e map[string]any) {
			setTime(e, "auto_resume_at",
				f.AutoResumeAt)
		})}
	case lifecycle.Transferred:
		to := *f.TransferredTo
		return []map[string]any{
			ev(SubscriptionTransferred, func(e map[string]any) { e["transferred_to_user_id"] = to.AppUserID }),
			r.event(SubscriptionReceived, withUser(f, to),
				func(e map[string]any) { e["transferred_from_user_id"] = f.User.AppUserID }),
		}
	}
	return nil
}

func withUser(f lifecycle.Fact, u lifecycle.User) lifecycle.Fact {
	f.User = u
	return f
}

// planChange names a product change by the price of the new product against the old.
func planChange(f *lifecycle.Fact) string {
	switch {
	case f.NewProduct.Price > f.Product.Price:
		return SubscriptionUpgraded
	case f.NewProduct.Price < f.Product.Price:
		return SubscriptionDowngraded
	}
	return SubscriptionCrossgraded
}

// offerEvent is the offer event for a phase (STARTED, CONVERTED, NOT_CONVERTED) of an offer type.
func offerEvent(o lifecycle.OfferType, phase string) string {
	switch o {
	case lifecycle.FreeTrial:
		return "TRIAL_" + phase
	case lifecycle.IntroOffer:
		return "INTRO_OFFER_" + phase
	case lifecycle.PromoCode:
		return "PROMO_CODE_" + phase
	case lifecycle.PromotionalOffer:
		return "PROMOTIONAL_OFFER_" + phase
	}
	return ""
}

func storeName(s lifecycle.Store) string {
	switch s {
	case lifecycle.PlayStore:
		return "GOOGLE_PLAY_STORE"
	case lifecycle.Amazon:
		return "AMAZON_APPSTORE"
	case lifecycle.Stripe:
		return "STRIPE"
	}
	return "APPLE_APP_STORE"
}

func offerName(o lifecycle.OfferType) string {
	if o == "" {
		return "NONE"
	}
	return strings.ToUpper(string(o))
}

func planOf(p lifecycle.Product) string {
	if p.Plan != "" {
		return p.Plan
	}
	return p.ID
}

func groupOf(p lifecycle.Product) string {
	if p.Group != "" {
		return p.Group
	}
	return strings.ToUpper(strings.SplitN(strings.SplitN(p.ID, ":", 2)[0], ".", 2)[0])
}

func status(f lifecycle.Fact) string {
	switch {
	case f.Kind == lifecycle.Refunded:
		return "REVOKED"
	case f.Kind == lifecycle.Expired && f.Reason == lifecycle.ReasonPaused:
		return "PAUSED"
	case f.Kind == lifecycle.Expired:
		return "DEACTIVATED"
	case f.InGrace && f.Kind == lifecycle.BillingIssue:
		return "IN_GRACE_PERIOD"
	case f.Kind == lifecycle.BillingIssue:
		return "ON_HOLD"
	case !f.AutoRenew:
		return "AUTO_RENEWING_CANCELED"
	}
	return "AUTO_RENEWING"
}

// setTime writes Purchasely's pair of fields: ISO 8601 with milliseconds, and _ms.
func setTime(e map[string]any, name string, t time.Time) {
	if t.IsZero() {
		return
	}
	e[name] = t.UTC().Format("2006-01-02T15:04:05.000Z")
	e[name+"_ms"] = t.UnixMilli()
}

func (r *renderer) refCurrency() string {
	if r.cfg.ReferenceCurrency == "" {
		return "eur"
	}
	return strings.ToLower(r.cfg.ReferenceCurrency)
}

// toReference converts an amount to the reference currency.
func (r *renderer) toReference(amount float64, currency string) float64 {
	return lifecycle.Convert(amount, currency, strings.ToUpper(r.refCurrency()))
}

// event renders the flat v3 payload every Purchasely event shares.
func (r *renderer) event(name string, f lifecycle.Fact, edit ...func(map[string]any)) map[string]any {
	u := f.User
	purchaseType := "RENEWING_SUBSCRIPTION"
	if !f.Product.Renewing() {
		purchaseType = "NON_CONSUMABLE"
	}
	environment := "PRODUCTION"
	if f.Environment == lifecycle.Sandbox {
		environment = "SANDBOX"
	}
	price := f.Price
	if f.Kind == lifecycle.Refunded {
		price = -f.Price
	}
	e := map[string]any{
		"api_version": 3, "event_id": r.ids(f).UUID(), "event_name": name,
		"store": storeName(f.Store), "store_country": u.Country, "environment": environment,
		"purchase_type": purchaseType, "product": groupOf(f.Product), "plan": planOf(f.Product),
		"store_product_id": f.Product.ID,
		"offer_type":       offerName(f.OfferType), "subscription_status": status(f), "is_family_shared": false,
		"device_type": "PHONE", "channel": "in_app", "customer_currency": f.Product.Currency,
		"plan_price_in_customer_currency":  price,
		"plan_price_in_" + r.refCurrency(): r.toReference(price, f.Product.Currency),
		"store_transaction_id":             f.TransactionID,
		"store_original_transaction_id":    f.OriginalTransactionID,
		"purchasely_subscription_id":       "subs_" + strings.ReplaceAll(f.OriginalTransactionID, ".", ""),
		"store_app_bundle_id":              r.cfg.BundleID,
	}
	if u.AppUserID != "" {
		e["user_id"] = u.AppUserID
	} else {
		e["anonymous_user_id"] = strings.ToUpper(u.AnonymousID)
	}
	if f.PreviousOffer != "" && f.PreviousOffer != lifecycle.NoOffer {
		e["previous_offer_type"] = offerName(f.PreviousOffer)
	}
	if f.OfferCode != "" {
		e["offer_identifier"] = f.OfferCode
	}
	if !r.cfg.OmitIntegrationIDs {
		if u.CleverTapID != "" {
			e["integration_clevertap_id"] = u.CleverTapID
		}
		if u.ATInternetID != "" {
			e["integration_at_internet_id_client"] = u.ATInternetID
		}
	}
	setTime(e, "event_created_at", f.At)
	setTime(e, "purchased_at", f.PurchasedAt)
	setTime(e, "original_purchased_at", f.OriginalPurchasedAt)
	if f.Product.Renewing() {
		setTime(e, "next_renewal_at", f.ExpiresAt)
		effective := f.ExpiresAt
		if f.InGrace {
			effective = f.GraceExpiresAt
			setTime(e, "grace_period_expires_at", f.GraceExpiresAt)
		}
		setTime(e, "effective_next_renewal_at", effective)
	}
	for _, fn := range edit {
		fn(e)
	}
	return e
}

// transaction is TRANSACTION_PROCESSED, the only event that carries money (VAT included; negative on refunds).
func (r *renderer) transaction(f lifecycle.Fact, source string) map[string]any {
	ref := r.refCurrency()
	amount := f.Price
	key := f.User.AppUserID + f.User.AnonymousID
	r.revenue[key] = math.Round((r.revenue[key]+r.toReference(amount, f.Product.Currency))*100) / 100
	return r.event(TransactionProcessed, f, func(e map[string]any) {
		e["source_event_name"] = source
		e["amount_in_customer_currency"] = amount
		e["amount_in_"+ref] = r.toReference(amount, f.Product.Currency)
		e["cumulated_revenues_in_"+ref] = r.revenue[key]
	})
}
