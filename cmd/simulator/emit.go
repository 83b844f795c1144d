package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/ctharness/ctharness/internal/clip"
	"github.com/ctharness/ctharness/simulator/lifecycle"
	"github.com/ctharness/ctharness/simulator/sources"
	"github.com/ctharness/ctharness/simulator/sources/vendors"
)

// setFlags collects repeated --set path=value.
type setFlags []string

func (s *setFlags) String() string     { return strings.Join(*s, ",") }
func (s *setFlags) Set(v string) error { *s = append(*s, v); return nil }

// emitOptions are the flags of `simulator emit` every vendor shares; each vendor adds its credential and options.
type emitOptions struct {
	to, user, anonymousID, clevertapID, atInternetID, customerUserID, email, country string
	env, store, product, currency, at                                                string
	price                                                                            float64
	print, list, retry                                                               bool
	timeScale                                                                        float64
	sets                                                                             setFlags
	credential                                                                       string
	vendor                                                                           map[string]*string
}

const emitUsage = `usage: simulator emit <source> <event> --to URL [flags]
       simulator emit <source> --list

sources: revenuecat, purchasely, appsflyer. Examples:
  simulator emit revenuecat INITIAL_PURCHASE --to http://127.0.0.1:8080/webhooks/revenuecat --user u1 \
      --clevertap-id ct-1 --period-type TRIAL --env sandbox --auth "Bearer s3cret"
  simulator emit purchasely TRIAL_STARTED --to http://127.0.0.1:8080/webhooks/purchasely --user u1 --secret S
  simulator emit appsflyer af_subscribe --to http://127.0.0.1:8080/webhooks/appsflyer --customer-user-id ct-1 --revenue 9.99 EUR`

func runEmit(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		fmt.Fprintln(stderr, emitUsage)
		return fmt.Errorf("emit: expected a source: %s", strings.Join(vendors.Names(), ", "))
	}
	emitter, err := vendors.Lookup(args[0])
	if err != nil {
		return fmt.Errorf("emit: %w", err)
	}
	source := emitter.Info().Name
	var event string
	rest := args[1:]
	if len(rest) > 0 && !strings.HasPrefix(rest[0], "-") {
		event, rest = rest[0], rest[1:]
	}
	var o emitOptions
	fs := flag.NewFlagSet("simulator emit "+source, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprintln(stderr, emitUsage); fs.PrintDefaults() }
	fs.StringVar(&o.to, "to", "", "URL to send the webhook to")
	fs.BoolVar(&o.print, "print", false, "print the request without sending it")
	fs.BoolVar(&o.list, "list", false, "list the event types of the source")
	fs.Var(&o.sets, "set", "override or add a body field, path=value (repeatable), e.g. event.price=4.99")
	fs.StringVar(&o.user, "user", "user-1", "app user id")
	fs.StringVar(&o.anonymousID, "anonymous-id", "", "anonymous id ($RCAnonymousID:... for RevenueCat)")
	fs.StringVar(&o.clevertapID, "clevertap-id", "", "CleverTap id the app set as an attribute")
	fs.StringVar(&o.atInternetID, "at-internet-id", "", "AT Internet / Piano idclient (Purchasely)")
	fs.StringVar(&o.customerUserID, "customer-user-id", "",
		"AppsFlyer customer user id (AppsFlyer sends nothing without it)")
	fs.StringVar(&o.email, "email", "", "subscriber email")
	fs.StringVar(&o.country, "country", "US", "storefront country (ISO 3166 alpha-2)")
	fs.StringVar(&o.env, "env", "production", "sandbox or production")
	fs.StringVar(&o.store, "store", "app_store", "app_store, play_store, amazon or stripe")
	fs.StringVar(&o.product, "product", "", "store product id (Play: subscription:base-plan)")
	fs.Float64Var(&o.price, "price", 0, "product price in --currency (default 9.99)")
	fs.StringVar(&o.currency, "currency", "", "ISO 4217 currency (default USD)")
	fs.StringVar(&o.at, "at", "", "event time, RFC 3339 (default now)")
	fs.BoolVar(&o.retry, "retry", false, "retry as the vendor does on failure (schedule compressed by --time-scale)")
	fs.Float64Var(&o.timeScale, "time-scale", 0.001,
		"with --retry: real seconds per vendor second (0.001 makes RevenueCat's 5 minutes 0.3 s)")
	cred := emitter.Info().Credential
	fs.StringVar(&o.credential, cred.Name, "", cred.Usage)
	o.vendor = map[string]*string{}
	for _, opt := range emitter.Info().Options {
		v := new(string)
		*v = opt.Default
		o.vendor[opt.Name] = v
		if opt.Bool {
			fs.BoolFunc(opt.Name, opt.Usage+" (default "+opt.Default+")", func(s string) error {
				*v = s
				return nil
			})
		} else {
			fs.StringVar(v, opt.Name, opt.Default, opt.Usage)
		}
	}
	if err := fs.Parse(rest); err != nil {
		return err
	}
	leftover := fs.Args()
	// "--revenue 9.99 EUR": a currency code right after the revenue ends flag parsing; take it, then the rest
	if rev := o.vendor["revenue"]; rev != nil && *rev != "" && len(leftover) > 0 &&
		regexp.MustCompile(`^[A-Z]{3}$`).MatchString(leftover[0]) {
		o.currency = leftover[0]
		if err := fs.Parse(leftover[1:]); err != nil {
			return err
		}
		leftover = fs.Args()
	}
	if len(leftover) > 0 {
		return fmt.Errorf("emit: unexpected argument %q: flags go after the event name", leftover[0])
	}
	if o.list {
		for _, t := range emitter.Info().EventTypes {
			fmt.Fprintln(stdout, t)
		}
		return nil
	}
	if event == "" {
		return fmt.Errorf("emit %s: expected an event type, one of %s", source,
			strings.Join(emitter.Info().EventTypes, ", "))
	}
	hook, header, policy, err := buildWebhook(emitter, event, o)
	if err != nil {
		return fmt.Errorf("emit %s: %w", source, err)
	}
	hook.Header = header
	if hook.Body != nil {
		if hook.Body, err = sources.Set(hook.Body, o.sets); err != nil {
			return err
		}
	} else if err := setQuery(hook.Query, o.sets); err != nil {
		return err
	}
	secretHeader := "Authorization"
	if th := o.vendor["token-header"]; th != nil {
		secretHeader = *th
	}
	if o.print {
		printRequest(stdout, "(not sent)", hook, policy, time.Now(), secretHeader)
		return nil
	}
	if o.to == "" {
		return fmt.Errorf("emit %s: expected --to URL (or --print to only show the request)", source)
	}
	if u, err := url.Parse(o.to); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("emit: --to: expected an http(s) URL such as http://127.0.0.1:8080/webhooks/%s, got %q",
			source, o.to)
	}
	if !o.retry {
		policy.Retries = nil
	}
	clock := &lifecycle.ScaledWallClock{Factor: o.timeScale}
	printRequest(stdout, o.to, hook, policy, clock.Now(), secretHeader)
	res, err := sources.Deliverer{Clock: clock}.Deliver(ctx, o.to, hook, policy)
	for _, a := range res.Attempts {
		if a.Error != "" {
			fmt.Fprintf(stdout, "<-- attempt %d: %s\n", a.Number, a.Error)
			continue
		}
		fmt.Fprintf(stdout, "<-- attempt %d: HTTP %d (%s) %s\n", a.Number, a.Status, a.Took.Round(time.Millisecond),
			a.Response)
	}
	if err != nil {
		return exitError{code: 1, err: err}
	}
	return nil
}

func setQuery(q url.Values, sets []string) error {
	for _, a := range sets {
		k, v, ok := strings.Cut(a, "=")
		if !ok || k == "" {
			return fmt.Errorf("--set %q: expected name=value", a)
		}
		q.Set(k, v)
	}
	return nil
}

func parseUserAndPurchase(o emitOptions) (lifecycle.User, lifecycle.Store, lifecycle.Environment, lifecycle.Product,
	time.Time, error) {
	u := lifecycle.User{AppUserID: o.user, AnonymousID: o.anonymousID, CleverTapID: o.clevertapID,
		ATInternetID:   o.atInternetID,
		CustomerUserID: o.customerUserID, Email: o.email, Country: strings.ToUpper(o.country)}
	env := lifecycle.Environment(strings.ToLower(o.env))
	if env != lifecycle.Sandbox && env != lifecycle.Production {
		return u, "", "", lifecycle.Product{}, time.Time{}, fmt.Errorf("--env: expected sandbox or production, got %q", o.env)
	}
	store := lifecycle.Store(strings.ToLower(o.store))
	if !slices.Contains(lifecycle.Stores, store) {
		return u, "", "", lifecycle.Product{}, time.Time{},
			fmt.Errorf("--store: expected app_store, play_store, amazon or stripe, got %q", o.store)
	}
	var p lifecycle.Product
	if o.product != "" || o.price != 0 || o.currency != "" {
		p = lifecycle.Product{ID: o.product, Period: "P1M", Price: o.price, Currency: strings.ToUpper(o.currency),
			Entitlement: "premium"}
		if p.ID == "" {
			p.ID = "premium.monthly"
			if store == lifecycle.PlayStore {
				p.ID = "premium:monthly"
			}
		}
		if p.Price == 0 {
			p.Price = 9.99
		}
		if p.Currency == "" {
			p.Currency = "USD"
		}
	}
	at := time.Now().UTC().Truncate(time.Millisecond)
	if o.at != "" {
		t, err := time.Parse(time.RFC3339, o.at)
		if err != nil {
			return u, "", "", p, at, fmt.Errorf("--at: expected an RFC 3339 time such as 2026-01-01T00:00:00Z, got %q", o.at)
		}
		at = t.UTC()
	}
	return u, store, env, p, at, nil
}

// buildWebhook makes the webhook, its fixed headers and the vendor's delivery policy.
func buildWebhook(e sources.Emitter, event string, o emitOptions) (sources.Webhook, http.Header, sources.Policy,
	error) {
	u, store, env, product, at, err := parseUserAndPurchase(o)
	if err != nil {
		return sources.Webhook{}, nil, sources.Policy{}, err
	}
	options := map[string]string{}
	for k, v := range o.vendor {
		options[k] = *v
	}
	h, err := e.Emit(event, sources.Single{User: u, Store: store, Environment: env, Product: product, At: at,
		Options: options})
	var skipped sources.Skipped
	if errors.As(err, &skipped) {
		return h, nil, sources.Policy{}, fmt.Errorf("%s would send nothing: %s", e.Info().Name, skipped.Reason)
	}
	header, policy := e.Delivery(sources.Credential{Value: o.credential}, options)
	return h, header, policy, err
}

// printRequest shows what is sent; credentials (Authorization and the AppsFlyer token header) are shortened so
// a terminal log does not keep them.
func printRequest(w io.Writer, target string, h sources.Webhook, p sources.Policy, now time.Time, tokenHeader string) {
	header := h.Header.Clone()
	if header == nil {
		header = http.Header{}
	}
	if p.Sign != nil {
		p.Sign(header, h.Body, now)
	}
	if len(h.Query) > 0 {
		target += "?" + h.Query.Encode()
	}
	fmt.Fprintf(w, "--> %s %s  [%s %s %s]\n", h.Method, target, h.Source, h.EventType, h.EventID)
	for _, k := range slices.Sorted(maps.Keys(header)) {
		v := header.Get(k)
		if k == "Authorization" || strings.EqualFold(k, tokenHeader) {
			v = clip.Secret(v)
		}
		fmt.Fprintf(w, "%s: %s\n", k, v)
	}
	if h.Body != nil {
		var pretty bytes.Buffer
		if json.Indent(&pretty, h.Body, "", "  ") == nil {
			fmt.Fprintf(w, "\n%s\n", pretty.String())
		} else {
			fmt.Fprintf(w, "\n%s\n", h.Body)
		}
	}
}
