package lifecycle

import (
	"fmt"
	"regexp"
	"strconv"
	"time"
)

// Store is where the purchase was made.
type Store string

const (
	AppStore  Store = "app_store"
	PlayStore Store = "play_store"
	Amazon    Store = "amazon"
	Stripe    Store = "stripe"
)

// Stores lists the stores the model knows.
var Stores = []Store{AppStore, PlayStore, Amazon, Stripe}

// Environment separates sandbox purchases from real ones.
type Environment string

const (
	Sandbox    Environment = "sandbox"
	Production Environment = "production"
)

// OfferType is the kind of offer a period runs under.
type OfferType string

const (
	NoOffer          OfferType = "none"
	FreeTrial        OfferType = "free_trial"
	IntroOffer       OfferType = "intro_offer"
	PromoCode        OfferType = "promo_code"
	PromotionalOffer OfferType = "promotional_offer"
)

// OfferTypes lists the offer types.
var OfferTypes = []OfferType{NoOffer, FreeTrial, IntroOffer, PromoCode, PromotionalOffer}

// Period is an ISO 8601 duration of whole days, weeks, months or years: P3D, P1W, P1M, P3M, P6M, P1Y.
type Period string

var periodPattern = regexp.MustCompile(`^P([1-9][0-9]*)([DWMY])$`)

// Duration is the production length of the period (a month is 30 days, a year 365).
func (p Period) Duration() (time.Duration, error) {
	m := periodPattern.FindStringSubmatch(string(p))
	if m == nil {
		return 0, fmt.Errorf("period: expected an ISO 8601 period such as P1W, P1M or P1Y, got %q", p)
	}
	n, _ := strconv.Atoi(m[1])
	day := 24 * time.Hour
	unit := map[string]time.Duration{"D": day, "W": 7 * day, "M": 30 * day, "Y": 365 * day}[m[2]]
	return time.Duration(n) * unit, nil
}

// Product is what is sold, with its price in the store currency.
type Product struct {
	// ID is the store product id; on Play it is "<subscription>:<base plan>".
	ID string
	// Group is the subscription group (Purchasely "product"); Plan the plan id (Purchasely "plan").
	Group string
	Plan  string
	// Period is the renewal period; empty for a non-renewing purchase.
	Period   Period
	Price    float64
	Currency string
	// Entitlement unlocked by the product.
	Entitlement string
}

// Renewing reports whether the product is an auto-renewing subscription.
func (p Product) Renewing() bool { return p.Period != "" }

// Offer is the introductory or promotional price of the first period(s).
type Offer struct {
	Type OfferType
	// Period is how long the offer lasts (a free trial of P1W); empty means one product period.
	Period Period
	// Price of the offer period (0 for a free trial).
	Price float64
	// Code is the offer code or promotional offer id.
	Code string
}

// User is who buys, with every id the vendors need.
type User struct {
	AppUserID    string // RevenueCat app user id / Purchasely user_id
	AnonymousID  string // "$RCAnonymousID:..." before login
	CleverTapID  string // the CleverTap id set as an attribute (and AppsFlyer customer user id)
	ATInternetID string // Piano / AT Internet idclient
	AppsFlyerID  string
	Email        string
	Country      string // ISO 3166 alpha-2
	// CustomerUserID is AppsFlyer's customer user id; CleverTap asks apps to set it to the CleverTap id.
	CustomerUserID string
}

// FactKind names what happened.
type FactKind string

const (
	Purchased           FactKind = "purchased"             // first purchase of a subscription (maybe with an offer)
	NonRenewingPurchase FactKind = "non_renewing_purchase" // a one-time purchase
	Renewed             FactKind = "renewed"               // a new paid period (ConvertedFrom set when an offer converts)
	AutoRenewDisabled   FactKind = "auto_renew_disabled"   // the user turned renewal off
	AutoRenewEnabled    FactKind = "auto_renew_enabled"    // the user turned it back on before expiry
	BillingIssue        FactKind = "billing_issue"         // a renewal charge failed
	Recovered           FactKind = "recovered"             // a charge succeeded during grace or billing retry
	Expired             FactKind = "expired"               // access ends
	Refunded            FactKind = "refunded"              // the store refunded the last transaction
	ProductChanged      FactKind = "product_changed"       // up-, down- or crossgrade
	PauseScheduled      FactKind = "pause_scheduled"       // Play: pause at the end of the period
	Resumed             FactKind = "resumed"               // Play: the pause ended, charging again
	Transferred         FactKind = "transferred"           // the subscription moved to another user
	Resubscribed        FactKind = "resubscribed"          // a new purchase after expiry
)

// Reason says why a subscription was cancelled or expired.
type Reason string

const (
	ReasonUnsubscribe     Reason = "unsubscribe"
	ReasonBillingError    Reason = "billing_error"
	ReasonCustomerSupport Reason = "customer_support"
	ReasonPaused          Reason = "paused"
)

// Fact is one thing that happened, with the subscription as it stood then.
type Fact struct {
	Kind FactKind
	At   time.Time
	User User
	// Sequence numbers the facts of a story from 1.
	Sequence int

	Store       Store
	Environment Environment
	Product     Product
	// OfferType and PeriodOffer describe the current period; PreviousOffer the one before (for conversions).
	OfferType     OfferType
	PreviousOffer OfferType
	OfferCode     string
	// Price is what this period costs (0 in a free trial); negative on a refund.
	Price float64

	PurchasedAt         time.Time
	OriginalPurchasedAt time.Time
	ExpiresAt           time.Time
	// TransactionID is the store transaction of this period; OriginalTransactionID the first one.
	TransactionID         string
	OriginalTransactionID string
	// RenewalNumber counts paid and offer periods from 1.
	RenewalNumber int
	AutoRenew     bool

	// ConvertedFrom is set on the renewal that ends an offer period (a trial conversion).
	ConvertedFrom OfferType
	Reason        Reason
	// InGrace / GraceExpiresAt: a billing issue with a grace period; otherwise the store retries billing.
	InGrace        bool
	GraceExpiresAt time.Time
	// NewProduct and Immediate describe a product change.
	NewProduct *Product
	Immediate  bool
	// AutoResumeAt is when a Play pause ends.
	AutoResumeAt time.Time
	// TransferredTo is the user receiving a transferred subscription.
	TransferredTo *User
}
