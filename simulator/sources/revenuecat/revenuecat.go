// Package revenuecat plays RevenueCat: it renders lifecycle facts into RevenueCat webhooks as RevenueCat's event flows
// describe them (https://www.revenuecat.com/docs/integrations/webhooks/event-flows), with every field RevenueCat
// documents, and delivers them as RevenueCat does: the configured Authorization value, only HTTP 200 counts, retries
// after 5, 10, 20, 40 and 80 minutes keeping event.id and event_timestamp_ms, 60 s timeout.
package revenuecat

import (
	"encoding/json"
	"math"
	"net/http"
	"time"

	"github.com/ctharness/ctharness/simulator/lifecycle"
	"github.com/ctharness/ctharness/simulator/sources"
)

// Source is the name of this emitter.
const Source = "revenuecat"

// Event types, as RevenueCat documents them.
const (
	Test                      = "TEST"
	InitialPurchase           = "INITIAL_PURCHASE"
	Renewal                   = "RENEWAL"
	Cancellation              = "CANCELLATION"
	Uncancellation            = "UNCANCELLATION"
	NonRenewingPurchase       = "NON_RENEWING_PURCHASE"
	SubscriptionPaused        = "SUBSCRIPTION_PAUSED"
	Expiration                = "EXPIRATION"
	BillingIssue              = "BILLING_ISSUE"
	ProductChange             = "PRODUCT_CHANGE"
	Transfer                  = "TRANSFER"
	SubscriptionExtended      = "SUBSCRIPTION_EXTENDED"
	TemporaryEntitlementGrant = "TEMPORARY_ENTITLEMENT_GRANT"
	RefundReversed            = "REFUND_REVERSED"
	InvoiceIssuance           = "INVOICE_ISSUANCE"
	VirtualCurrency           = "VIRTUAL_CURRENCY_TRANSACTION"
	ExperimentEnrollment      = "EXPERIMENT_ENROLLMENT"
)

// EventTypes lists every type the emitter sends, in RevenueCat's documentation order.
var EventTypes = []string{Test, InitialPurchase, Renewal, Cancellation, Uncancellation, NonRenewingPurchase,
	SubscriptionPaused, Expiration, BillingIssue, ProductChange, Transfer, SubscriptionExtended,
	TemporaryEntitlementGrant, RefundReversed, InvoiceIssuance, VirtualCurrency, ExperimentEnrollment}

// Config is what a RevenueCat project adds to the facts.
type Config struct {
	// AppID is the RevenueCat app id (absent on promotional purchases).
	AppID string
	// OfferingID is the offering presented at purchase.
	OfferingID string
	// Attributes are extra subscriber attributes (custom ones, or $-prefixed reserved ones).
	Attributes map[string]string
	// IDs makes event ids; nil seeds one from the user id, so a story's ids are the same every run.
	IDs *lifecycle.IDs
}

// Policy is RevenueCat's delivery: only 200 is success; 5 retries after 5, 10, 20, 40, 80 minutes; 60 s timeout.
func Policy() sources.Policy {
	return sources.Policy{
		Success: func(status int) bool { return status == http.StatusOK },
		Retries: []time.Duration{5 * time.Minute, 10 * time.Minute, 20 * time.Minute, 40 * time.Minute, 80 * time.Minute},
		Timeout: 60 * time.Second,
	}
}

// Header is what every RevenueCat request carries; the Authorization value is the one typed in the dashboard.
func Header(authorization string) http.Header {
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set("User-Agent", "RevenueCat")
	if authorization != "" {
		h.Set("Authorization", authorization)
	}
	return h
}

// envelope is the webhook body.
type envelope struct {
	Event      map[string]any `json:"event"`
	APIVersion string         `json:"api_version"`
}

// Body serialises an event as RevenueCat posts it.
func Body(event map[string]any) []byte {
	b, _ := json.Marshal(envelope{Event: event, APIVersion: "1.0"})
	return b
}

// taxShare is the VAT/GST share of a tax-inclusive store price by storefront country.
var taxShare = map[string]float64{"FR": 0.1667, "DE": 0.1597, "GB": 0.1667, "IT": 0.1803, "ES": 0.1736, "NL": 0.1736,
	"IN": 0.1525, "JP": 0.0909, "ID": 0.0991, "AE": 0.0476, "KR": 0.0909, "SG": 0.0826, "PH": 0.1071}

func round2(f float64) float64 { return math.Round(f*100) / 100 }

// USD converts an amount in a currency to US dollars as RevenueCat's `price` reports it.
func USD(amount float64, currency string) float64 {
	return lifecycle.Convert(amount, currency, "USD")
}

func commission(store lifecycle.Store) float64 {
	switch store {
	case lifecycle.PlayStore:
		return 0.15
	case lifecycle.Stripe:
		return 0.029
	default:
		return 0.3
	}
}

func storeName(s lifecycle.Store) string {
	switch s {
	case lifecycle.PlayStore:
		return "PLAY_STORE"
	case lifecycle.Amazon:
		return "AMAZON"
	case lifecycle.Stripe:
		return "STRIPE"
	default:
		return "APP_STORE"
	}
}

func environmentName(e lifecycle.Environment) string {
	if e == lifecycle.Sandbox {
		return "SANDBOX"
	}
	return "PRODUCTION"
}

func periodType(o lifecycle.OfferType) string {
	switch o {
	case lifecycle.FreeTrial:
		return "TRIAL"
	case lifecycle.IntroOffer, lifecycle.PromoCode:
		return "INTRO"
	case lifecycle.PromotionalOffer:
		return "PROMOTIONAL"
	}
	return "NORMAL"
}

func reason(r lifecycle.Reason) string {
	switch r {
	case lifecycle.ReasonBillingError:
		return "BILLING_ERROR"
	case lifecycle.ReasonCustomerSupport:
		return "CUSTOMER_SUPPORT"
	case lifecycle.ReasonPaused:
		return "SUBSCRIPTION_PAUSED"
	case lifecycle.ReasonUnsubscribe:
		return "UNSUBSCRIBE"
	}
	return "UNKNOWN"
}

func ms(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UnixMilli()
}
