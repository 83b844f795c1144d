package appsflyer

import (
	"fmt"
	"time"

	"github.com/ctharness/ctharness/simulator/lifecycle"
	"github.com/ctharness/ctharness/simulator/sources"
)

// Single describes one postback to emit on its own (the `simulator emit appsflyer` command).
type Single struct {
	sources.Single
	Revenue  float64
	Currency string
	Config   Config
}

// Emit builds one postback: an install, a trial start, a subscription payment or a purchase.
func Emit(eventType string, in Single) (sources.Webhook, error) {
	if err := in.Begin("AppsFlyer event", eventType, EventTypes, time.Millisecond); err != nil {
		return sources.Webhook{}, err
	}
	if in.Product.ID == "" {
		in.Product = lifecycle.Product{ID: "premium_monthly", Period: "P1M", Price: 9.99, Currency: "USD"}
	}
	if in.Currency != "" {
		in.Product.Currency = in.Currency
	}
	if in.Revenue != 0 {
		in.Product.Price = in.Revenue
	}
	offer := lifecycle.Offer{}
	switch eventType {
	case StartTrial:
		offer = lifecycle.Offer{Type: lifecycle.FreeTrial, Period: "P1W"}
	case Purchase:
		in.Product.Period = ""
	case Install:
		if in.Config.MediaSource == "" || in.Config.MediaSource == "organic" {
			in.Config.MediaSource = "tiktokglobal_int"
		}
	case OrganicInstall:
		in.Config.MediaSource = "organic"
	}
	in.Config.SendInstalls = eventType == Install || eventType == OrganicInstall
	s, err := lifecycle.Start(lifecycle.NewVirtualClock(in.At), lifecycle.Purchase{User: in.User, Store: in.Store,
		Product: in.Product, Offer: offer})
	if err != nil {
		return sources.Webhook{}, err
	}
	hooks, err := Render(s.Facts(), in.Config)
	if err != nil {
		return sources.Webhook{}, err
	}
	for _, h := range hooks {
		if h.EventType == eventType {
			return h, nil
		}
	}
	return sources.Webhook{}, fmt.Errorf("%s: the story produced no such postback", eventType)
}
