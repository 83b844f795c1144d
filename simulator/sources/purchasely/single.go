package purchasely

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/ctharness/ctharness/simulator/lifecycle"
	"github.com/ctharness/ctharness/simulator/sources"
)

// Single describes one event to emit on its own (the `simulator emit purchasely` command).
type Single struct {
	sources.Single
	Config Config
}

type step func(context.Context, *lifecycle.Subscription) error

// recipe is the shortest story that makes Purchasely send an event.
type recipe struct {
	offer lifecycle.OfferType
	play  step
}

func disableThenEnd(ctx context.Context, s *lifecycle.Subscription) error {
	if err := s.DisableAutoRenew(); err != nil {
		return err
	}
	return s.AdvanceToPeriodEnd(ctx)
}

func then(steps ...step) step {
	return func(ctx context.Context, s *lifecycle.Subscription) error {
		for _, st := range steps {
			if err := st(ctx, s); err != nil {
				return err
			}
		}
		return nil
	}
}

var (
	advance        step = func(ctx context.Context, s *lifecycle.Subscription) error { return s.AdvanceToPeriodEnd(ctx) }
	graceFail      step = func(ctx context.Context, s *lifecycle.Subscription) error { return s.FailRenewal(ctx, true) }
	retryFail      step = func(ctx context.Context, s *lifecycle.Subscription) error { return s.FailRenewal(ctx, false) }
	recoverBilling step = func(ctx context.Context, s *lifecycle.Subscription) error { return s.RecoverBilling() }
	pause          step = func(ctx context.Context, s *lifecycle.Subscription) error { return s.SchedulePause("P1M") }
	change              = func(factor float64) step {
		return func(ctx context.Context, s *lifecycle.Subscription) error {
			p := s.Facts()[0].Product
			p.ID, p.Plan = p.ID+".changed", p.Plan+"_changed"
			p.Price = float64(int(p.Price*factor*100+0.5)) / 100
			return s.ChangeProduct(p, true)
		}
	}
)

func offerRecipes(o lifecycle.OfferType, prefix string) map[string]recipe {
	return map[string]recipe{
		prefix + "_STARTED":       {o, nil},
		prefix + "_CONVERTED":     {o, advance},
		prefix + "_NOT_CONVERTED": {o, disableThenEnd},
	}
}

var recipes = func() map[string]recipe {
	r := map[string]recipe{
		Activate: {}, SubscriptionStarted: {}, TransactionProcessed: {},
		SubscriptionRenewed: {play: advance},
		SubscriptionReactivated: {play: then(disableThenEnd, func(ctx context.Context,
			s *lifecycle.Subscription) error {
			return s.Resubscribe()
		})},
		SubscriptionTerminated: {play: disableThenEnd},
		SubscriptionExpired:    {play: disableThenEnd},
		Deactivate:             {play: disableThenEnd},
		SubscriptionRefunded:   {play: func(ctx context.Context, s *lifecycle.Subscription) error { return s.Refund() }},
		RenewalDisabled: {play: func(ctx context.Context,
			s *lifecycle.Subscription) error {
			return s.DisableAutoRenew()
		}},
		RenewalEnabled: {play: func(ctx context.Context, s *lifecycle.Subscription) error {
			_ = s.DisableAutoRenew()
			return s.EnableAutoRenew()
		}},
		GracePeriodStarted: {play: graceFail},
		GracePeriodTerminated: {play: then(graceFail, func(ctx context.Context,
			s *lifecycle.Subscription) error {
			return s.ExpireBilling(ctx)
		})},
		RecoveredFromGrace:        {play: then(graceFail, recoverBilling)},
		EnteredBillingRetry:       {play: retryFail},
		RecoveredFromBillingRetry: {play: then(retryFail, recoverBilling)},
		SubscriptionUpgraded:      {play: change(2)},
		SubscriptionDowngraded:    {play: change(0.5)},
		SubscriptionCrossgraded:   {play: change(1)},
		SubscriptionWillPause:     {play: pause},
		SubscriptionPaused:        {play: then(pause, advance)},
		SubscriptionUnpaused: {play: then(pause, advance, func(ctx context.Context,
			s *lifecycle.Subscription) error {
			return s.ResumeFromPause(ctx)
		})},
		SubscriptionTransferred: {play: transfer},
		SubscriptionReceived:    {play: transfer},
	}
	for o, prefix := range map[lifecycle.OfferType]string{lifecycle.FreeTrial: "TRIAL",
		lifecycle.IntroOffer: "INTRO_OFFER",
		lifecycle.PromoCode:  "PROMO_CODE", lifecycle.PromotionalOffer: "PROMOTIONAL_OFFER"} {
		for name, rec := range offerRecipes(o, prefix) {
			r[name] = rec
		}
	}
	return r
}()

func transfer(ctx context.Context, s *lifecycle.Subscription) error {
	to := s.Facts()[0].User
	to.AppUserID, to.AnonymousID = to.AppUserID+"-new", ""
	return s.TransferTo(to)
}

// Emit builds one webhook of the given event by playing the shortest story that makes Purchasely send it.
func Emit(eventType string, in Single) (sources.Webhook, error) {
	if err := in.Begin("Purchasely event", eventType, EventTypes, time.Second); err != nil {
		return sources.Webhook{}, err
	}
	rec := recipes[eventType]
	if in.Product.ID == "" {
		in.Product = lifecycle.Product{ID: "com.example.premium.monthly", Group: "PREMIUM", Plan: "premium_monthly",
			Period: "P1M", Price: 9.99, Currency: "EUR", Entitlement: "premium"}
	}
	if strings.Contains(eventType, "PAUSE") {
		in.Store = lifecycle.PlayStore
	}
	offer := lifecycle.Offer{Type: rec.offer}
	switch rec.offer {
	case lifecycle.FreeTrial:
		offer.Period = "P1W"
	case lifecycle.IntroOffer, lifecycle.PromotionalOffer, lifecycle.PromoCode:
		offer.Price = float64(int(in.Product.Price*50+0.5)) / 100
		if rec.offer != lifecycle.IntroOffer {
			offer.Code = "WINBACK50"
		}
	}
	s, err := lifecycle.Start(lifecycle.NewVirtualClock(in.At), lifecycle.Purchase{User: in.User, Store: in.Store,
		Environment: in.Environment, Product: in.Product, Offer: offer})
	if err != nil {
		return sources.Webhook{}, err
	}
	if rec.play != nil {
		if err := rec.play(context.Background(), s); err != nil {
			return sources.Webhook{}, fmt.Errorf("%s: %w", eventType, err)
		}
	}
	lookFor := eventType
	if eventType == SubscriptionExpired {
		lookFor = SubscriptionTerminated
	}
	hooks := Render(s.Facts(), in.Config)
	for i := len(hooks) - 1; i >= 0; i-- {
		if hooks[i].EventType == lookFor {
			h := hooks[i]
			if eventType == SubscriptionExpired { // the legacy name for the same moment
				h.EventType = SubscriptionExpired
				h.Body = []byte(strings.Replace(string(h.Body), `"event_name":"SUBSCRIPTION_TERMINATED"`,
					`"event_name":"SUBSCRIPTION_EXPIRED"`, 1))
			}
			return h, nil
		}
	}
	return sources.Webhook{}, fmt.Errorf("%s: the story produced no such event", eventType)
}
