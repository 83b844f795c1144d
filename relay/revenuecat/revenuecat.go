// Package revenuecat is the relay's RevenueCat intake: it checks the Authorization value RevenueCat sends verbatim,
// parses the webhook and maps it as RevenueCat's CleverTap integration does
// (https://www.revenuecat.com/docs/integrations/third-party-integrations/clevertap): default rc_*_event names with the
// trial rules, optional events a blank name disables, identity from the $clevertapId attribute else the app user id,
// evtData as in RevenueCat's samples, the sales-reporting revenue mode, refunds as 0 (or negative when configured) and
// sandbox events to the sandbox account.
package revenuecat

import (
	"fmt"
	"math"
	"net/http"
	"slices"
	"strings"

	"github.com/valyala/fastjson"

	"github.com/ctharness/ctharness/internal/clip"
	"github.com/ctharness/ctharness/relay"
)

// Name is the source's name and path segment.
const Name = "revenuecat"

// Console event keys, in the order of RevenueCat's CleverTap table.
const (
	InitialPurchase         = "initial_purchase"
	TrialStarted            = "trial_started"
	TrialConverted          = "trial_converted"
	TrialCancelled          = "trial_cancelled"
	Renewal                 = "renewal"
	Cancellation            = "cancellation"
	Uncancellation          = "uncancellation"
	NonSubscriptionPurchase = "non_subscription_purchase"
	Expiration              = "expiration"
	BillingIssue            = "billing_issue"
	ProductChange           = "product_change"
)

// DefaultEventNames are the integration's default CleverTap event names.
var DefaultEventNames = map[string]string{
	InitialPurchase:         "rc_initial_purchase_event",
	TrialStarted:            "rc_trial_started_event",
	TrialConverted:          "rc_trial_converted_event",
	TrialCancelled:          "rc_trial_cancelled_event",
	Renewal:                 "rc_renewal_event",
	Cancellation:            "rc_cancellation_event",
	Uncancellation:          "rc_uncancellation_event",
	NonSubscriptionPurchase: "rc_non_subscription_purchase_event",
	Expiration:              "rc_expiration_event",
	BillingIssue:            "rc_billing_issue_event",
	ProductChange:           "rc_product_change_event",
}

// Revenue modes: the console's "sales reporting" choice.
const (
	Gross                   = "gross"
	AfterCommission         = "after_commission"
	AfterCommissionAndTaxes = "after_commission_and_taxes"
)

// Identity choices when no $clevertapId attribute is set.
const (
	AppUserID         = "app_user_id"
	OriginalAppUserID = "original_app_user_id"
)

// Destination names.
const (
	Destination        = "revenuecat/clevertap"
	SandboxDestination = "revenuecat/clevertap-sandbox"
)

// Settings mirror RevenueCat's webhook and CleverTap integration pages.
type Settings struct {
	// Authorization is the header value typed in RevenueCat's webhook settings ("Bearer ...").
	Authorization string    `yaml:"authorization"`
	CleverTap     CleverTap `yaml:"clevertap"`
}

// CleverTap is the integration's configuration.
type CleverTap struct {
	relay.CleverTapAccount `yaml:",inline"`
	SandboxAccountID       string `yaml:"sandbox_account_id"`
	SandboxPasscode        string `yaml:"sandbox_passcode"`
	// Events overrides event names by console key; "" disables an event.
	Events map[string]string `yaml:"events"`
	// Revenue is gross (default), after_commission or after_commission_and_taxes.
	Revenue string `yaml:"revenue"`
	// NegativeRefunds reports refunds as negative amounts, which RevenueCat's own integration cannot do.
	NegativeRefunds bool `yaml:"negative_refunds"`
	// Identity is app_user_id (default) or original_app_user_id, used when $clevertapId is not set
	// (UNCONFIRMED which one RevenueCat uses: its docs say the App User ID, its samples show the original one).
	Identity string `yaml:"identity"`
}

// Intake is a configured RevenueCat source.
type Intake struct {
	settings Settings
	names    map[string]string
	warnings []string
}

// New validates the settings, naming the first wrong key under prefix (e.g. "sources.revenuecat").
func New(prefix string, s Settings) (*Intake, error) {
	acct, err := s.CleverTap.CleverTapAccount.Validate(prefix + ".clevertap")
	if err != nil {
		return nil, err
	}
	s.CleverTap.CleverTapAccount = acct
	if (s.CleverTap.SandboxAccountID == "") != (s.CleverTap.SandboxPasscode == "") {
		return nil,
			fmt.Errorf(
				"%s.clevertap.sandbox_passcode: expected both sandbox_account_id and sandbox_passcode or neither, got only one",
				prefix)
	}
	switch s.CleverTap.Revenue {
	case "":
		s.CleverTap.Revenue = Gross
	case Gross, AfterCommission, AfterCommissionAndTaxes:
	default:
		return nil, fmt.Errorf("%s.clevertap.revenue: expected %s, %s or %s, got %q", prefix, Gross, AfterCommission,
			AfterCommissionAndTaxes, s.CleverTap.Revenue)
	}
	switch s.CleverTap.Identity {
	case "":
		s.CleverTap.Identity = AppUserID
	case AppUserID, OriginalAppUserID:
	default:
		return nil, fmt.Errorf("%s.clevertap.identity: expected %s or %s, got %q", prefix, AppUserID, OriginalAppUserID,
			s.CleverTap.Identity)
	}
	names, err := relay.EventNames(prefix+".clevertap.events", DefaultEventNames, s.CleverTap.Events)
	if err != nil {
		return nil, err
	}
	in := &Intake{settings: s, names: names}
	if s.Authorization == "" {
		in.warnings = append(in.warnings, prefix+".authorization is empty: any request is accepted as RevenueCat")
	}
	return in, nil
}

// Build implements relay.Settings.
func (s Settings) Build(prefix string) (relay.Source, error) { return New(prefix, s) }

// Secrets implements relay.Settings.
func (s Settings) Secrets() []string {
	return []string{s.Authorization, s.CleverTap.Passcode, s.CleverTap.SandboxPasscode}
}

// Credential implements relay.Source: the Authorization value.
func (in *Intake) Credential() relay.Credential {
	return relay.Credential{Value: in.settings.Authorization}
}

// EventNames implements relay.Source: the default names and the overrides.
func (in *Intake) EventNames() []string {
	var out []string
	for _, v := range DefaultEventNames {
		out = append(out, v)
	}
	for _, v := range in.names {
		if v != "" {
			out = append(out, v)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// Account implements relay.Source: sandbox events go to the sandbox account when there is one.
func (in *Intake) Account(sandbox bool) string {
	if ct := in.settings.CleverTap; sandbox && ct.SandboxAccountID != "" {
		return ct.SandboxAccountID
	}
	return in.settings.CleverTap.AccountID
}

// Warnings implements relay.Source.
func (in *Intake) Warnings() []string { return in.warnings }

// Name implements relay.Source.
func (in *Intake) Name() string { return Name }

// Methods implements relay.Source.
func (in *Intake) Methods() []string { return []string{http.MethodPost} }

// Destinations implements relay.Source.
func (in *Intake) Destinations() map[string]relay.Endpoint {
	ct := in.settings.CleverTap
	out := map[string]relay.Endpoint{Destination: ct.Endpoint()}
	if ct.SandboxAccountID != "" {
		out[SandboxDestination] = relay.CleverTapAccount{Region: ct.Region, AccountID: ct.SandboxAccountID,
			Passcode: ct.SandboxPasscode}.Endpoint()
	}
	return out
}

// Verify compares the Authorization header with the configured value in constant time.
func (in *Intake) Verify(r relay.Request) error { return in.VerifyHeader(r.Header) }

// VerifyHeader implements relay.HeaderVerifier: the value is checked before the body is read.
func (in *Intake) VerifyHeader(h http.Header) error {
	return relay.CheckHeader(h, "Authorization", in.settings.Authorization,
		"expected the Authorization header set in RevenueCat's webhook settings, got none",
		"the Authorization header does not match the value configured for RevenueCat")
}

// event holds the fields the mapping reads.
type event struct {
	ID                        string
	Type                      string
	AppID                     string
	EventTimestampMS          *int64
	AppUserID                 string
	OriginalAppUserID         string
	ProductID                 string
	NewProductID              string
	PeriodType                string
	Environment               string
	IsTrialConversion         bool
	CancelReason              string
	ExpirationReason          string
	GracePeriodExpirationAtMS *int64
	Currency                  *string
	Price                     *float64
	PriceInPurchasedCurrency  *float64
	TaxPercentage             *float64
	CommissionPercentage      *float64
	// SubscriberAttributes are the attributes' values as text (a string as is, anything else as JSON).
	SubscriberAttributes map[string]string
}

// decode reads a RevenueCat webhook in one pass over the parsed body (encoding/json's two passes were a third of
// the relay's CPU at saturation); errors name the field, what was expected and what arrived.
func decode(r relay.Request) (event, error) {
	root, done, err := r.Parse()
	defer done()
	if err != nil {
		return event{},
			relay.BadRequest("expected a RevenueCat webhook {\"api_version\":\"1.0\",\"event\":{...}}, got invalid JSON: %v",
				err)
	}
	ev := root.Get("event")
	if root.Type() != fastjson.TypeObject || ev == nil || ev.Type() != fastjson.TypeObject {
		return event{},
			relay.BadRequest("expected a RevenueCat webhook {\"api_version\":\"1.0\",\"event\":{...}}, got no \"event\" object")
	}
	var f fields
	f.read(ev)
	e := event{
		ID: f.str(fID), Type: f.str(fType), AppID: f.str(fAppID), EventTimestampMS: f.integer(fEventTimestampMS),
		AppUserID: f.str(fAppUserID), OriginalAppUserID: f.str(fOriginalAppUserID), ProductID: f.str(fProductID),
		NewProductID: f.str(fNewProductID), PeriodType: f.str(fPeriodType), Environment: f.str(fEnvironment),
		IsTrialConversion: f.boolean(fIsTrialConversion), CancelReason: f.str(fCancelReason),
		ExpirationReason: f.str(fExpirationReason), GracePeriodExpirationAtMS: f.integer(fGracePeriodExpirationAtMS),
		Currency: f.optionalStr(fCurrency), Price: f.number(fPrice),
		PriceInPurchasedCurrency: f.number(fPriceInPurchasedCurrency),
		TaxPercentage:            f.number(fTaxPercentage), CommissionPercentage: f.number(fCommissionPercentage),
	}
	if attrs := f.get(fSubscriberAttributes); attrs != nil {
		o, err := attrs.Object()
		if err != nil {
			f.wrong(fieldKeys[fSubscriberAttributes], "an object", attrs)
		} else {
			e.SubscriberAttributes = make(map[string]string, o.Len())
			o.Visit(func(k []byte, a *fastjson.Value) {
				if a.Type() != fastjson.TypeObject {
					// the key is the sender's: bounded, and escaped where a terminal would act on it
					key := clip.Printable(clip.Text(string(k), 60))
					f.wrong("subscriber_attributes."+key, `an object {"value":...}`, a)
					return
				}
				e.SubscriberAttributes[string(k)] = attributeString(a.Get("value"))
			})
		}
	}
	if f.err != nil {
		return event{}, relay.BadRequest("event: expected RevenueCat's field types, got %v", f.err)
	}
	return e, nil
}

// field is a member of the event object that the mapping reads.
type field int

const (
	fID field = iota
	fType
	fAppID
	fEventTimestampMS
	fAppUserID
	fOriginalAppUserID
	fProductID
	fNewProductID
	fPeriodType
	fEnvironment
	fIsTrialConversion
	fCancelReason
	fExpirationReason
	fGracePeriodExpirationAtMS
	fCurrency
	fPrice
	fPriceInPurchasedCurrency
	fTaxPercentage
	fCommissionPercentage
	fSubscriberAttributes
	fieldCount
)

// fieldKeys are the members' keys, by field.
var fieldKeys = [fieldCount]string{
	fID: "id", fType: "type", fAppID: "app_id", fEventTimestampMS: "event_timestamp_ms", fAppUserID: "app_user_id",
	fOriginalAppUserID: "original_app_user_id", fProductID: "product_id", fNewProductID: "new_product_id",
	fPeriodType: "period_type", fEnvironment: "environment", fIsTrialConversion: "is_trial_conversion",
	fCancelReason: "cancel_reason", fExpirationReason: "expiration_reason",
	fGracePeriodExpirationAtMS: "grace_period_expiration_at_ms", fCurrency: "currency", fPrice: "price",
	fPriceInPurchasedCurrency: "price_in_purchased_currency", fTaxPercentage: "tax_percentage",
	fCommissionPercentage: "commission_percentage", fSubscriberAttributes: "subscriber_attributes",
}

// fieldByKey finds a field from its key.
var fieldByKey = func() map[string]field {
	m := make(map[string]field, fieldCount)
	for f, k := range fieldKeys {
		m[k] = field(f)
	}
	return m
}()

// fields reads typed fields of one object and keeps the first wrong one.
type fields struct {
	values [fieldCount]*fastjson.Value
	err    error
}

// read takes the object's members the mapping reads in one walk (a lookup per field scans every member); a key
// sent twice counts once, its first value, as fastjson's Get reads it.
func (f *fields) read(obj *fastjson.Value) {
	o, _ := obj.Object() // the caller checked the type
	o.Visit(func(k []byte, v *fastjson.Value) {
		if i, ok := fieldByKey[string(k)]; ok && f.values[i] == nil {
			f.values[i] = v
		}
	})
}

func (f *fields) wrong(key, expected string, v *fastjson.Value) {
	if f.err == nil {
		f.err = fmt.Errorf("%s: expected %s, got %s %s", key, expected, v.Type(), clip.Text(v.String(), 40))
	}
}

// get is the field's value, nil when absent or null.
func (f *fields) get(key field) *fastjson.Value {
	v := f.values[key]
	if v == nil || v.Type() == fastjson.TypeNull {
		return nil
	}
	return v
}

func (f *fields) str(key field) string {
	s, _ := f.text(key)
	return s
}

func (f *fields) optionalStr(key field) *string {
	if s, ok := f.text(key); ok {
		return &s
	}
	return nil
}

// text is a string field's value and whether it is there.
func (f *fields) text(key field) (string, bool) {
	v := f.get(key)
	if v == nil {
		return "", false
	}
	b, err := v.StringBytes()
	if err != nil {
		f.wrong(fieldKeys[key], "a string", v)
		return "", false
	}
	return string(b), true
}

func (f *fields) integer(key field) *int64 {
	v := f.get(key)
	if v == nil {
		return nil
	}
	n, err := v.Int64()
	if err != nil {
		f.wrong(fieldKeys[key], "an integer", v)
		return nil
	}
	return &n
}

func (f *fields) number(key field) *float64 {
	v := f.get(key)
	if v == nil {
		return nil
	}
	n, err := v.Float64()
	if err != nil {
		f.wrong(fieldKeys[key], "a number", v)
		return nil
	}
	return &n
}

func (f *fields) boolean(key field) bool {
	v := f.get(key)
	if v == nil {
		return false
	}
	b, err := v.Bool()
	if err != nil {
		f.wrong(fieldKeys[key], "true or false", v)
	}
	return b
}

// Map implements relay.Source.
func (in *Intake) Map(r relay.Request) (relay.Mapped, error) {
	e, err := decode(r)
	if err != nil {
		return relay.Mapped{}, err
	}
	if e.ID == "" || e.Type == "" {
		return relay.Mapped{}, relay.BadRequest("event: expected \"id\" and \"type\" strings, got id %q and type %q", e.ID,
			e.Type)
	}
	m := relay.Mapped{Source: Name, EventID: e.ID, EventType: e.Type}
	key, skip := consoleEvent(e)
	if skip != nil {
		return m, skip
	}
	name := in.names[key]
	if name == "" {
		return m, relay.Skipped("%s is disabled: its CleverTap event name (%s) is blank", e.Type, key)
	}
	dest := Destination
	if strings.EqualFold(e.Environment, "SANDBOX") {
		if in.settings.CleverTap.SandboxAccountID == "" {
			return m,
				relay.Skipped(
					"sandbox event and no sandbox account configured: RevenueCat sends sandbox events only to a sandbox account")
		}
		dest = SandboxDestination
	}
	identity := in.identity(e)
	if identity == "" {
		return m, relay.Skipped("no identity: no $clevertapId attribute and no app user id")
	}
	record := map[string]any{"type": "event", "evtName": name, "identity": identity, "evtData": in.evtData(e)}
	if e.EventTimestampMS != nil {
		record["ts"] = *e.EventTimestampMS / 1000
	}
	m.Messages = []relay.Message{{Destination: dest, Kind: relay.KindUpload, Payload: relay.Record(record)}}
	return m, nil
}

// consoleEvent applies the integration's rules for which webhook is which CleverTap event.
func consoleEvent(e event) (string, error) {
	trial := strings.EqualFold(e.PeriodType, "TRIAL")
	switch e.Type {
	case "INITIAL_PURCHASE":
		if trial {
			return TrialStarted, nil
		}
		return InitialPurchase, nil
	case "RENEWAL":
		if e.IsTrialConversion {
			return TrialConverted, nil
		}
		return Renewal, nil
	case "CANCELLATION":
		if trial {
			return TrialCancelled, nil
		}
		return Cancellation, nil
	case "UNCANCELLATION":
		return Uncancellation, nil
	case "NON_RENEWING_PURCHASE":
		return NonSubscriptionPurchase, nil
	case "EXPIRATION":
		return Expiration, nil
	case "BILLING_ISSUE":
		return BillingIssue, nil
	case "PRODUCT_CHANGE":
		return ProductChange, nil
	case "TRANSFER":
		return "", relay.Skipped("TRANSFER: RevenueCat's CleverTap integration does not send transfer events")
	case "TEST", "SUBSCRIPTION_PAUSED", "SUBSCRIPTION_EXTENDED", "TEMPORARY_ENTITLEMENT_GRANT", "REFUND_REVERSED",
		"INVOICE_ISSUANCE", "VIRTUAL_CURRENCY_TRANSACTION", "EXPERIMENT_ENROLLMENT", "SUBSCRIBER_ALIAS":
		return "", relay.Skipped("%s: not an event of RevenueCat's CleverTap integration", e.Type)
	}
	return "", relay.Skipped("%s: unknown RevenueCat event type, acknowledged and skipped", e.Type)
}

func (in *Intake) identity(e event) string {
	for _, k := range []string{"$clevertapId", "$cleverTapId"} {
		if v := e.SubscriberAttributes[k]; v != "" {
			return v
		}
	}
	if in.settings.CleverTap.Identity == OriginalAppUserID && e.OriginalAppUserID != "" {
		return e.OriginalAppUserID
	}
	if e.AppUserID != "" {
		return e.AppUserID
	}
	return e.OriginalAppUserID
}

// attributeString is an attribute's value as text: a string as is, null or absent as "", anything else as JSON.
func attributeString(v *fastjson.Value) string {
	if v == nil || v.Type() == fastjson.TypeNull {
		return ""
	}
	if b, err := v.StringBytes(); err == nil {
		return string(b)
	}
	return v.String()
}

func (in *Intake) evtData(e event) map[string]any {
	data := map[string]any{}
	for k, v := range e.SubscriberAttributes {
		if v != "" {
			data[k] = v
		}
	}
	amount, currency := in.amount(e)
	data["amount"] = amount
	if currency != "" {
		data["currency"] = currency
	}
	if e.ProductID != "" {
		data["product_id"] = e.ProductID
	}
	if e.AppID != "" {
		data["app_id"] = e.AppID
	}
	if e.CancelReason != "" {
		data["cancel_reason"] = e.CancelReason
	}
	if e.ExpirationReason != "" {
		data["expiration_reason"] = e.ExpirationReason
	}
	if e.NewProductID != "" {
		data["new_product_id"] = e.NewProductID
	}
	if e.GracePeriodExpirationAtMS != nil {
		data["grace_period_expiration_at"] = *e.GracePeriodExpirationAtMS
	}
	return data
}

// amount is the price in the purchase currency after the revenue mode, 0 for refunds unless negative refunds
// are on. Without a local price it is the USD price.
func (in *Intake) amount(e event) (float64, string) {
	var base float64
	currency := ""
	switch {
	case e.PriceInPurchasedCurrency != nil:
		base = *e.PriceInPurchasedCurrency
		if e.Currency != nil {
			currency = *e.Currency
		}
	case e.Price != nil:
		base, currency = *e.Price, "USD"
	case e.Currency != nil:
		currency = *e.Currency
	}
	share := 1.0
	switch in.settings.CleverTap.Revenue {
	case AfterCommission:
		share -= deref(e.CommissionPercentage)
	case AfterCommissionAndTaxes:
		share -= deref(e.CommissionPercentage) + deref(e.TaxPercentage)
	}
	amount := math.Round(base*share*100) / 100
	if amount < 0 && !in.settings.CleverTap.NegativeRefunds {
		amount = 0
	}
	return amount + 0, currency // + 0 turns -0 into 0
}

func deref(p *float64) float64 {
	if p == nil {
		return 0
	}
	return *p
}
