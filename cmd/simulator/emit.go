package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/ctharness/ctharness/harness"
	"github.com/ctharness/ctharness/internal/cli"
	"github.com/ctharness/ctharness/internal/clip"
	"github.com/ctharness/ctharness/internal/redact"
	"github.com/ctharness/ctharness/internal/suggest"
	"github.com/ctharness/ctharness/simulator/lifecycle"
	"github.com/ctharness/ctharness/simulator/sources"
	"github.com/ctharness/ctharness/simulator/sources/vendors"
	"github.com/spf13/cobra"
)

// emitOptions are the flags of `simulator emit` every vendor shares; each vendor adds its credential and options.
type emitOptions struct {
	relay, to, user, anonymousID, clevertapID, atInternetID, customerUserID, email, country string
	env, store, product, currency, at                                                       string
	price                                                                                   float64
	print, list, retry                                                                      bool
	timeScale                                                                               float64
	sets                                                                                    []string
	credential                                                                              string
	vendor                                                                                  map[string]*string
}

func newEmitCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "emit <source> <event> [flags]",
		Short: "Send one RevenueCat, Purchasely or AppsFlyer webhook, as the vendor sends it",
		Long: `emit sends one webhook of a vendor, in its real format, signed as it signs, to a relay: by default the
relay of the stack "make run" starts (http://127.0.0.1:8080/webhooks/<source>), with that relay's default
credential. --print shows the request without sending it; --list lists the source's event types.`,
		Example: `  simulator emit revenuecat INITIAL_PURCHASE --user u1 --clevertap-id ct-1 --period-type TRIAL
  simulator emit purchasely TRIAL_STARTED --user u1 --clevertap-id ct-1
  simulator emit appsflyer af_subscribe --customer-user-id ct-1 --revenue 9.99 --currency EUR
  simulator emit revenuecat CANCELLATION --print --set event.cancel_reason=PRICE_INCREASE
  simulator emit purchasely --list`,
		Args: cobra.ArbitraryArgs,
		RunE: func(_ *cobra.Command, args []string) error {
			if len(args) == 0 {
				return cli.Usagef("emit: expected a source: %s", strings.Join(vendors.Names(), ", "))
			}
			_, err := vendors.Lookup(args[0])
			return cli.Usagef("emit: %w%s", err, suggest.DidYouMean(args[0], vendors.Names()))
		},
	}
	for _, name := range vendors.Names() {
		e, _ := vendors.Lookup(name)
		cmd.AddCommand(newEmitVendorCmd(e))
	}
	return cmd
}

// newEmitVendorCmd is `simulator emit <vendor> <event>`, with the vendor's own credential flag and options.
func newEmitVendorCmd(emitter sources.Emitter) *cobra.Command {
	info := emitter.Info()
	var o emitOptions
	cmd := &cobra.Command{
		Use: info.Name + " <event> [flags]",
		Short: "Send one " + info.Name + " webhook (" + strings.Join(info.EventTypes[:min(3, len(info.EventTypes))],
			", ") + ", ...)",
		Args: func(cmd *cobra.Command, args []string) error {
			// "--revenue 9.99 EUR": a currency code right after the revenue is taken as --currency
			if len(args) == 2 && regexp.MustCompile(`^[A-Z]{3}$`).MatchString(args[1]) && cmd.Flags().Changed("revenue") {
				return nil
			}
			if o.list {
				return cobra.NoArgs(cmd, args)
			}
			if len(args) != 1 {
				return fmt.Errorf("expected an event type, one of %s; got %d arguments",
					strings.Join(info.EventTypes, ", "), len(args))
			}
			return nil
		},
		ValidArgs: info.EventTypes,
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.list {
				for _, t := range info.EventTypes {
					fmt.Fprintln(cmd.OutOrStdout(), t)
				}
				return nil
			}
			if len(args) == 2 {
				o.currency = args[1]
			}
			return emitOne(cmd, emitter, args[0], o)
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&o.relay, "relay", defaultRelayURL, "the relay: the webhook goes to <relay>/webhooks/"+info.Name)
	fs.StringVar(&o.to, "to", "", "the full URL to send the webhook to, instead of the relay's route")
	fs.BoolVar(&o.print, "print", false, "print the request without sending it")
	fs.BoolVar(&o.list, "list", false, "list the event types of the source")
	fs.StringArrayVar(&o.sets, "set", nil,
		"override or add a body field, path=value (repeatable), e.g. event.price=4.99")
	fs.StringVar(&o.user, "user", "user-1", "app user id")
	fs.StringVar(&o.clevertapID, "clevertap-id", "", "CleverTap id the app set as an attribute")
	// the identities only one vendor carries are flags of that vendor's command alone
	switch info.Name {
	case "revenuecat":
		fs.StringVar(&o.anonymousID, "anonymous-id", "", "anonymous id ($RCAnonymousID:...)")
	case "purchasely":
		fs.StringVar(&o.atInternetID, "at-internet-id", "", "AT Internet / Piano idclient")
	case "appsflyer":
		fs.StringVar(&o.customerUserID, "customer-user-id", "", "customer user id (AppsFlyer sends nothing without it)")
	}
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
	fs.StringVar(&o.credential, info.Credential.Name, "", info.Credential.Usage+
		" (default: the default relay config's, as \"make run\" uses)")
	o.vendor = map[string]*string{}
	for _, opt := range info.Options {
		v := new(string)
		o.vendor[opt.Name] = v
		if opt.Bool {
			fs.StringVar(v, opt.Name, opt.Default, opt.Usage)
			fs.Lookup(opt.Name).NoOptDefVal = "true"
		} else {
			fs.StringVar(v, opt.Name, opt.Default, opt.Usage)
		}
	}
	return cmd
}

// emitOne builds, prints and (unless --print) sends one webhook.
func emitOne(cmd *cobra.Command, emitter sources.Emitter, event string, o emitOptions) error {
	ctx, stdout := cmd.Context(), cmd.OutOrStdout()
	info := emitter.Info()
	source := info.Name
	cred := sources.Credential{Value: o.credential}
	if o.credential == "" {
		cred = harness.DefaultCredential(source)
		if cmd.Flags().Changed("token-header") {
			cred.Header = ""
		}
		if !o.print {
			fmt.Fprintf(stdout, "(--%s: the default relay config's, as `make run` uses)\n", info.Credential.Name)
		}
	}
	hook, header, policy, err := buildWebhook(emitter, event, o, cred)
	if err != nil {
		return cli.Usagef("emit %s: %w", source, err)
	}
	hook.Header = header
	if hook.Body != nil {
		if hook.Body, err = sources.Set(hook.Body, o.sets); err != nil {
			return cli.Usage(err)
		}
	} else if err := setQuery(hook.Query, o.sets); err != nil {
		return cli.Usage(err)
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
		o.to = strings.TrimSuffix(o.relay, "/") + "/webhooks/" + source
		fmt.Fprintf(stdout, "(to the relay at %s: --relay or --to to change)\n", o.relay)
	}
	if u, err := url.Parse(o.to); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return cli.Usagef("emit: --to: expected an http(s) URL such as %s/webhooks/%s, got %q", defaultRelayURL,
			source, redact.URL(o.to))
	}
	if !o.retry {
		policy.Retries = nil
	}
	clock := &lifecycle.ScaledWallClock{Factor: o.timeScale}
	printRequest(stdout, o.to, hook, policy, clock.Now(), secretHeader)
	res, err := sources.Deliverer{Clock: clock}.Deliver(ctx, o.to, hook, policy)
	reached := false
	for _, a := range res.Attempts {
		if a.Error != "" {
			fmt.Fprintf(stdout, "<-- attempt %d: %s\n", a.Number, a.Error)
			continue
		}
		reached = true
		fmt.Fprintf(stdout, "<-- attempt %d: HTTP %d (%s) %s\n", a.Number, a.Status, a.Took.Round(time.Millisecond),
			a.Response)
	}
	switch {
	case err == nil:
		return nil
	case !reached:
		return cli.Unreachable(fmt.Errorf("%w (is the stack running? `make run` starts it; --to names another "+
			"relay)", err))
	}
	return cli.Failed(err)
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
func buildWebhook(e sources.Emitter, event string, o emitOptions, cred sources.Credential) (sources.Webhook,
	http.Header, sources.Policy, error) {
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
	header, policy := e.Delivery(cred, options)
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
	fmt.Fprintf(w, "--> %s %s  [%s %s %s]\n", h.Method, redact.URL(target), h.Source, h.EventType, h.EventID)
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
