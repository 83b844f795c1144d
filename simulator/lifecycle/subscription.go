package lifecycle

import (
	"context"
	"fmt"
	"time"
)

// State is where a subscription stands.
type State string

const (
	StateActive        State = "active"        // paid or offer period, renewing or not
	StateInGrace       State = "in_grace"      // charge failed, access kept until the grace period ends
	StateBillingRetry  State = "billing_retry" // charge failed, no access, the store keeps trying
	StatePauseSchedule State = "pause_pending" // Play: will pause at period end
	StatePaused        State = "paused"        // Play: paused, no access
	StateExpired       State = "expired"       // no access
	StateTransferred   State = "transferred"   // moved to another user
	StateNonRenewing   State = "non_renewing"  // a one-time purchase
	StateRefunded      State = "refunded"      // refunded and revoked
)

const (
	defaultGracePeriod Period = "P3D" // App Store billing grace period of 3 days (16 on some plans)
	defaultPause       Period = "P1M" // Play pause length
)

// Purchase is how a story starts.
type Purchase struct {
	User        User
	Store       Store
	Environment Environment
	Product     Product
	Offer       Offer
	// Scale overrides the time scale the store and environment imply.
	Scale TimeScale
	// IDs makes transaction ids; nil gives a deterministic generator seeded by the user id and the start time.
	IDs *IDs
}

// Subscription is one store subscription moving through its lifecycle on a clock. It records a Fact for every
// change; its methods refuse moves the stores do not allow, saying what state it was in.
type Subscription struct {
	clock Clock
	scale TimeScale
	ids   *IDs
	facts []Fact
	state State

	user                                     User
	store                                    Store
	env                                      Environment
	product                                  Product
	offer                                    Offer
	offerPeriods                             int // offer periods still to run, counting the current one
	offerType, previousOffer                 OfferType
	autoRenew                                bool
	periodStart, periodEnd, originalPurchase time.Time
	txn, originalTxn                         string
	renewal                                  int
	price                                    float64
	graceEnd                                 time.Time
	resumeAt                                 time.Time
	pendingProduct                           *Product
}

// Start makes the first purchase at the clock's time and records it.
func Start(clock Clock, p Purchase) (*Subscription, error) {
	if p.Product.ID == "" {
		return nil, fmt.Errorf("purchase: expected a product id, got none")
	}
	if p.User.AppUserID == "" && p.User.AnonymousID == "" {
		return nil, fmt.Errorf("purchase: expected an app user id or an anonymous id, got neither")
	}
	if p.Environment == "" {
		p.Environment = Production
	}
	if p.Store == "" {
		p.Store = AppStore
	}
	if p.Scale == "" {
		p.Scale = ScaleFor(p.Store, p.Environment)
	}
	if p.IDs == nil {
		p.IDs = NewIDs(p.User.AppUserID + p.User.AnonymousID + ":" + clock.Now().Format(time.RFC3339Nano))
	}
	if p.Offer.Type == "" {
		p.Offer.Type = NoOffer
	}
	s := &Subscription{clock: clock, scale: p.Scale, ids: p.IDs, user: p.User, store: p.Store, env: p.Environment,
		product: p.Product, offer: p.Offer}
	now := clock.Now()
	s.originalPurchase = now
	s.txn = s.ids.Transaction(p.Store, 0)
	s.originalTxn = s.txn
	s.renewal = 1
	if !p.Product.Renewing() {
		s.state = StateNonRenewing
		s.periodStart, s.price, s.offerType = now, p.Product.Price, NoOffer
		s.record(NonRenewingPurchase, nil)
		return s, nil
	}
	s.state, s.autoRenew = StateActive, true
	if p.Offer.Type != NoOffer {
		s.offerType, s.offerPeriods, s.price = p.Offer.Type, 1, p.Offer.Price
	} else {
		s.offerType, s.price = NoOffer, p.Product.Price
	}
	if err := s.beginPeriod(now); err != nil {
		return nil, err
	}
	s.record(Purchased, nil)
	return s, nil
}

// currentPeriod is the length of the running period on the story's time scale.
func (s *Subscription) currentPeriod() (time.Duration, error) {
	p := s.product.Period
	if s.offerType != NoOffer && s.offer.Period != "" {
		p = s.offer.Period
	}
	return s.scale.Length(p)
}

func (s *Subscription) beginPeriod(start time.Time) error {
	d, err := s.currentPeriod()
	if err != nil {
		return err
	}
	s.periodStart, s.periodEnd = start, start.Add(d)
	return nil
}

func (s *Subscription) record(kind FactKind, edit func(*Fact)) {
	f := Fact{
		Kind: kind, At: s.clock.Now(), User: s.user, Sequence: len(s.facts) + 1,
		Store: s.store, Environment: s.env, Product: s.product, OfferType: s.offerType, PreviousOffer: s.previousOffer,
		OfferCode: s.offer.Code, Price: s.price, PurchasedAt: s.periodStart, OriginalPurchasedAt: s.originalPurchase,
		ExpiresAt: s.periodEnd, TransactionID: s.txn, OriginalTransactionID: s.originalTxn, RenewalNumber: s.renewal,
		AutoRenew: s.autoRenew,
	}
	if s.offerType == NoOffer || s.offerType == "" {
		f.OfferCode = ""
	}
	if s.state == StateInGrace {
		f.InGrace, f.GraceExpiresAt = true, s.graceEnd
	}
	if edit != nil {
		edit(&f)
	}
	s.facts = append(s.facts, f)
}

// Facts returns what happened so far, oldest first.
func (s *Subscription) Facts() []Fact { return append([]Fact(nil), s.facts...) }

// State returns where the subscription stands.
func (s *Subscription) State() State { return s.state }

// PeriodEnd is when the current period ends.
func (s *Subscription) PeriodEnd() time.Time { return s.periodEnd }

func (s *Subscription) refuse(action string, allowed ...State) error {
	return fmt.Errorf("%s: expected the subscription to be %v, but it is %s", action, allowed, s.state)
}

func (s *Subscription) is(states ...State) bool {
	for _, st := range states {
		if s.state == st {
			return true
		}
	}
	return false
}

// AdvanceToPeriodEnd moves the clock to the end of the current period and lets the store act: renew (ending
// any offer, a conversion), expire when auto-renew is off, start a scheduled pause, or apply a deferred
// product change.
func (s *Subscription) AdvanceToPeriodEnd(ctx context.Context) error {
	if !s.is(StateActive, StatePauseSchedule) {
		return s.refuse("advance to period end", StateActive, StatePauseSchedule)
	}
	if err := s.clock.Advance(ctx, s.periodEnd.Sub(s.clock.Now())); err != nil {
		return err
	}
	switch {
	case s.state == StatePauseSchedule:
		s.state = StatePaused
		s.record(Expired, func(f *Fact) { f.Reason, f.AutoResumeAt = ReasonPaused, s.resumeAt })
		return nil
	case !s.autoRenew:
		s.state = StateExpired
		s.record(Expired, func(f *Fact) { f.Reason = ReasonUnsubscribe })
		return nil
	}
	return s.renew(s.clock.Now())
}

// renew starts the next paid period, recording a conversion when an offer period ends.
func (s *Subscription) renew(at time.Time) error {
	converted := NoOffer
	if s.pendingProduct != nil {
		s.product, s.pendingProduct = *s.pendingProduct, nil
	}
	if s.offerType != NoOffer {
		s.offerPeriods--
		if s.offerPeriods <= 0 {
			converted, s.previousOffer, s.offerType = s.offerType, s.offerType, NoOffer
		}
	}
	price := s.product.Price
	if s.offerType != NoOffer {
		price = s.offer.Price
	}
	if err := s.nextPeriod(at, price); err != nil {
		return err
	}
	s.record(Renewed, func(f *Fact) { f.ConvertedFrom = converted })
	return nil
}

// nextPeriod starts a new period from at with a new transaction, at the given price.
func (s *Subscription) nextPeriod(at time.Time, price float64) error {
	s.price = price
	s.renewal++
	s.txn = s.ids.Transaction(s.store, s.renewal-1)
	return s.beginPeriod(at)
}

// Renew renews now, as AdvanceToPeriodEnd does at the period end (for stories that control time themselves).
func (s *Subscription) Renew(ctx context.Context) error { return s.AdvanceToPeriodEnd(ctx) }

// DisableAutoRenew is the user turning renewal off (RevenueCat's cancellation).
func (s *Subscription) DisableAutoRenew() error {
	if !s.is(StateActive) || !s.autoRenew {
		return fmt.Errorf("disable auto-renew: expected an active subscription that renews, but it is %s with auto-renew %v",
			s.state, s.autoRenew)
	}
	s.autoRenew = false
	s.record(AutoRenewDisabled, func(f *Fact) { f.Reason = ReasonUnsubscribe })
	return nil
}

// EnableAutoRenew turns renewal back on before the period ends.
func (s *Subscription) EnableAutoRenew() error {
	if !s.is(StateActive) || s.autoRenew {
		return fmt.Errorf(
			"enable auto-renew: expected an active subscription with renewal off, but it is %s with auto-renew %v", s.state,
			s.autoRenew)
	}
	s.autoRenew = true
	s.record(AutoRenewEnabled, nil)
	return nil
}

// FailRenewal moves to the period end where the renewal charge fails: with grace, access continues until the
// grace period ends; without, the store retries billing with access removed.
func (s *Subscription) FailRenewal(ctx context.Context, grace bool) error {
	if !s.is(StateActive) || !s.autoRenew {
		return fmt.Errorf("fail renewal: expected an active subscription that renews, but it is %s with auto-renew %v",
			s.state, s.autoRenew)
	}
	if err := s.clock.Advance(ctx, s.periodEnd.Sub(s.clock.Now())); err != nil {
		return err
	}
	if grace {
		d, err := s.scale.Length(defaultGracePeriod)
		if err != nil {
			return err
		}
		s.state, s.graceEnd = StateInGrace, s.clock.Now().Add(d)
	} else {
		s.state = StateBillingRetry
	}
	s.record(BillingIssue, func(f *Fact) { f.Reason = ReasonBillingError })
	return nil
}

// RecoverBilling is a successful charge during grace or billing retry: a new paid period from now.
func (s *Subscription) RecoverBilling() error {
	if !s.is(StateInGrace, StateBillingRetry) {
		return s.refuse("recover billing", StateInGrace, StateBillingRetry)
	}
	wasGrace := s.state == StateInGrace
	s.state = StateActive
	if err := s.nextPeriod(s.clock.Now(), s.product.Price); err != nil {
		return err
	}
	s.record(Recovered, func(f *Fact) { f.InGrace = wasGrace })
	return nil
}

// ExpireBilling ends grace or billing retry without a successful charge: the subscription expires at the end of
// the grace period (or now, in billing retry).
func (s *Subscription) ExpireBilling(ctx context.Context) error {
	if !s.is(StateInGrace, StateBillingRetry) {
		return s.refuse("expire after billing issue", StateInGrace, StateBillingRetry)
	}
	if s.state == StateInGrace {
		if err := s.clock.Advance(ctx, s.graceEnd.Sub(s.clock.Now())); err != nil {
			return err
		}
	}
	wasGrace := s.state == StateInGrace
	s.state = StateExpired
	s.record(Expired, func(f *Fact) { f.Reason, f.InGrace = ReasonBillingError, wasGrace })
	return nil
}

// Refund is the store refunding the latest transaction; access is revoked at once.
func (s *Subscription) Refund() error {
	if !s.is(StateActive, StateNonRenewing, StateInGrace) {
		return s.refuse("refund", StateActive, StateNonRenewing, StateInGrace)
	}
	refunded := -s.price
	s.state = StateRefunded
	s.record(Refunded, func(f *Fact) { f.Price, f.Reason = refunded, ReasonCustomerSupport })
	return nil
}

// ChangeProduct switches to another product: immediately (a new period starts now) or at the next renewal.
func (s *Subscription) ChangeProduct(p Product, immediate bool) error {
	if !s.is(StateActive) {
		return s.refuse("change product", StateActive)
	}
	if !p.Renewing() {
		return fmt.Errorf("change product: expected a renewing product with a period, got %s without one", p.ID)
	}
	newProduct := p
	s.record(ProductChanged, func(f *Fact) { f.NewProduct, f.Immediate = &newProduct, immediate })
	if !immediate {
		s.pendingProduct = &newProduct
		return nil
	}
	s.product, s.offerType = p, NoOffer
	if err := s.nextPeriod(s.clock.Now(), p.Price); err != nil {
		return err
	}
	s.record(Renewed, nil)
	return nil
}

// SchedulePause is a Play subscriber pausing from the end of the period for the given length (default 1 month).
func (s *Subscription) SchedulePause(length Period) error {
	if s.store != PlayStore {
		return fmt.Errorf("pause: expected a Play Store subscription, got %s (only Play lets subscribers pause)", s.store)
	}
	if !s.is(StateActive) || !s.autoRenew {
		return fmt.Errorf("pause: expected an active subscription that renews, but it is %s with auto-renew %v", s.state,
			s.autoRenew)
	}
	if length == "" {
		length = defaultPause
	}
	d, err := s.scale.Length(length)
	if err != nil {
		return err
	}
	s.state, s.resumeAt = StatePauseSchedule, s.periodEnd.Add(d)
	s.record(PauseScheduled, func(f *Fact) { f.AutoResumeAt = s.resumeAt })
	return nil
}

// ResumeFromPause moves to the end of the pause, where Play charges again and a new period starts.
func (s *Subscription) ResumeFromPause(ctx context.Context) error {
	if !s.is(StatePaused) {
		return s.refuse("resume", StatePaused)
	}
	if err := s.clock.Advance(ctx, s.resumeAt.Sub(s.clock.Now())); err != nil {
		return err
	}
	s.state = StateActive
	if err := s.nextPeriod(s.clock.Now(), s.product.Price); err != nil {
		return err
	}
	s.record(Resumed, nil)
	return nil
}

// TransferTo moves the subscription to another user (a restore on another account).
func (s *Subscription) TransferTo(to User) error {
	if !s.is(StateActive, StateInGrace) {
		return s.refuse("transfer", StateActive, StateInGrace)
	}
	receiver := to
	s.record(Transferred, func(f *Fact) { f.TransferredTo = &receiver })
	s.user, s.state = to, StateActive
	return nil
}

// Resubscribe is a new purchase of the same product after expiry (or after a refund).
func (s *Subscription) Resubscribe() error {
	if !s.is(StateExpired, StateRefunded) {
		return s.refuse("resubscribe", StateExpired, StateRefunded)
	}
	s.state, s.autoRenew, s.offerType = StateActive, true, NoOffer
	if err := s.nextPeriod(s.clock.Now(), s.product.Price); err != nil {
		return err
	}
	s.record(Resubscribed, nil)
	return nil
}

// Wait moves the clock forward without anything happening (the user thinking it over).
func (s *Subscription) Wait(ctx context.Context, d time.Duration) error {
	return s.clock.Advance(ctx, d)
}
