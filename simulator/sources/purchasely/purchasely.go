// Package purchasely plays Purchasely's server-to-server webhook (v3, flat payloads): it fans each lifecycle fact
// out into Purchasely's events (a paid trial conversion is ACTIVATE + TRIAL_CONVERTED + SUBSCRIPTION_RENEWED +
// TRANSACTION_PROCESSED), signs every attempt with X-PURCHASELY-REQUEST-SIGNATURE over timestamp + raw body (and
// the deprecated X-PURCHASELY-SIGNATURE), and delivers as Purchasely does: 200 or 404 is success, 10 s timeout,
// retries.
package purchasely

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strconv"
	"time"

	"github.com/ctharness/ctharness/simulator/sources"
)

// Source is the name of this emitter.
const Source = "purchasely"

// Header names Purchasely signs with.
const (
	HeaderSignature           = "X-PURCHASELY-REQUEST-SIGNATURE"
	HeaderTimestamp           = "X-PURCHASELY-TIMESTAMP"
	HeaderDeprecatedSignature = "X-PURCHASELY-SIGNATURE"
)

// Events, as Purchasely's webhook sends them.
const (
	Activate                  = "ACTIVATE"
	Deactivate                = "DEACTIVATE"
	TransactionProcessed      = "TRANSACTION_PROCESSED"
	SubscriptionStarted       = "SUBSCRIPTION_STARTED"
	SubscriptionRenewed       = "SUBSCRIPTION_RENEWED"
	SubscriptionReactivated   = "SUBSCRIPTION_REACTIVATED"
	SubscriptionTerminated    = "SUBSCRIPTION_TERMINATED"
	SubscriptionExpired       = "SUBSCRIPTION_EXPIRED" // legacy name still listed on the CleverTap and Piano pages
	SubscriptionRefunded      = "SUBSCRIPTION_REFUNDED_REVOKED"
	RenewalDisabled           = "RENEWAL_DISABLED"
	RenewalEnabled            = "RENEWAL_ENABLED"
	GracePeriodStarted        = "GRACE_PERIOD_STARTED"
	GracePeriodTerminated     = "GRACE_PERIOD_TERMINATED"
	RecoveredFromGrace        = "SUBSCRIPTION_RECOVERED_FROM_GRACE_PERIOD"
	EnteredBillingRetry       = "ENTERED_BILLING_RETRY"
	RecoveredFromBillingRetry = "SUBSCRIPTION_RECOVERED_FROM_BILLING_RETRY"
	SubscriptionUpgraded      = "SUBSCRIPTION_UPGRADED"
	SubscriptionDowngraded    = "SUBSCRIPTION_DOWNGRADED"
	SubscriptionCrossgraded   = "SUBSCRIPTION_CROSSGRADED"
	SubscriptionWillPause     = "SUBSCRIPTION_WILL_PAUSE"
	SubscriptionPaused        = "SUBSCRIPTION_PAUSED"
	SubscriptionUnpaused      = "SUBSCRIPTION_UNPAUSED"
	SubscriptionTransferred   = "SUBSCRIPTION_TRANSFERRED"
	SubscriptionReceived      = "SUBSCRIPTION_RECEIVED"
	TrialStarted              = "TRIAL_STARTED"
	TrialConverted            = "TRIAL_CONVERTED"
	TrialNotConverted         = "TRIAL_NOT_CONVERTED"
	IntroStarted              = "INTRO_OFFER_STARTED"
	IntroConverted            = "INTRO_OFFER_CONVERTED"
	IntroNotConverted         = "INTRO_OFFER_NOT_CONVERTED"
	PromoCodeStarted          = "PROMO_CODE_STARTED"
	PromoCodeConverted        = "PROMO_CODE_CONVERTED"
	PromoCodeNotConverted     = "PROMO_CODE_NOT_CONVERTED"
	PromotionalStarted        = "PROMOTIONAL_OFFER_STARTED"
	PromotionalConverted      = "PROMOTIONAL_OFFER_CONVERTED"
	PromotionalNotConverted   = "PROMOTIONAL_OFFER_NOT_CONVERTED"
)

// EventTypes lists every event the emitter sends.
var EventTypes = []string{Activate, Deactivate, TransactionProcessed, SubscriptionStarted, SubscriptionRenewed,
	SubscriptionReactivated, SubscriptionTerminated, SubscriptionExpired, SubscriptionRefunded, RenewalDisabled,
	RenewalEnabled, GracePeriodStarted, GracePeriodTerminated, RecoveredFromGrace, EnteredBillingRetry,
	RecoveredFromBillingRetry, SubscriptionUpgraded, SubscriptionDowngraded, SubscriptionCrossgraded,
	SubscriptionWillPause, SubscriptionPaused, SubscriptionUnpaused, SubscriptionTransferred, SubscriptionReceived,
	TrialStarted, TrialConverted, TrialNotConverted, IntroStarted, IntroConverted, IntroNotConverted,
	PromoCodeStarted, PromoCodeConverted, PromoCodeNotConverted, PromotionalStarted, PromotionalConverted,
	PromotionalNotConverted}

// Signature is X-PURCHASELY-REQUEST-SIGNATURE: hex HMAC-SHA256 keyed with the shared secret over the timestamp
// followed by the raw body.
func Signature(secret, timestamp string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(timestamp))
	mac.Write(body)
	return hex.EncodeToString(mac.Sum(nil))
}

// DeprecatedSignature is X-PURCHASELY-SIGNATURE: hex HMAC-SHA256 over the secret followed by the timestamp (the
// body is not covered, which is why it was replaced).
func DeprecatedSignature(secret, timestamp string) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(secret))
	mac.Write([]byte(timestamp))
	return hex.EncodeToString(mac.Sum(nil))
}

// DefaultRetries is the retry schedule. Purchasely says only "several times ... max 25 times in the following
// hours" (the schedule is UNCONFIRMED): here 25 retries, doubling from one minute and capped at one hour, about
// 20 hours in all.
func DefaultRetries() []time.Duration {
	out := make([]time.Duration, 25)
	d := time.Minute
	for i := range out {
		out[i] = d
		d = min(2*d, time.Hour)
	}
	return out
}

// Policy is Purchasely's delivery with the shared secret: 200 (processed) or 404 (unknown user) is success,
// anything else or no answer within 10 s is retried. Each attempt is signed with its own timestamp.
func Policy(secret string, deprecatedHeader bool) sources.Policy {
	return sources.Policy{
		Success: func(status int) bool { return status == http.StatusOK || status == http.StatusNotFound },
		Retries: DefaultRetries(),
		Timeout: 10 * time.Second,
		Sign: func(h http.Header, body []byte, now time.Time) {
			ts := strconv.FormatInt(now.Unix(), 10)
			h.Set(HeaderTimestamp, ts)
			if secret == "" {
				return
			}
			h.Set(HeaderSignature, Signature(secret, ts, body))
			if deprecatedHeader {
				h.Set(HeaderDeprecatedSignature, DeprecatedSignature(secret, ts))
			}
		},
	}
}

// Header is what every Purchasely request carries besides the signature.
func Header() http.Header {
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set("Accept", "application/json")
	return h
}
