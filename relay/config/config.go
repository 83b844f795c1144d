// Package config reads the relay's YAML config, which mirrors the vendors' consoles: per source its credentials
// and destinations, per destination region, account, passcode, enabled events, name overrides and revenue mode.
// A mistake stops start-up with a message naming the key.
package config

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"reflect"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/ctharness/ctharness/internal/filecheck"
	"github.com/ctharness/ctharness/relay"
	"github.com/ctharness/ctharness/relay/appsflyer"
	"github.com/ctharness/ctharness/relay/delivery"
	"github.com/ctharness/ctharness/relay/purchasely"
	"github.com/ctharness/ctharness/relay/revenuecat"
	"github.com/ctharness/ctharness/schemas"
)

// DefaultYAML is the default config: the simulator's default accounts (docs/relay.md).
//
//go:embed default.yaml
var DefaultYAML []byte

// Production endpoints, used when a config leaves them out.
const (
	ProductionCleverTap = "https://{region}.api.clevertap.com"
	ProductionPiano     = "https://{domain}"
)

// Config is the whole file.
type Config struct {
	CleverTap Endpoint          `yaml:"clevertap"`
	Piano     Endpoint          `yaml:"piano"`
	Intake    Intake            `yaml:"intake"`
	Outbox    Outbox            `yaml:"outbox"`
	Delivery  delivery.Settings `yaml:"delivery"`
	Sources   Sources           `yaml:"sources"`
}

// Outbox is where the relay keeps its queue (docs/relay.md, "Running several relays").
type Outbox struct {
	// Driver is bbolt (a file in the data dir, one relay; the default) or postgres (several relays on one
	// database).
	Driver string `yaml:"driver"`
	// DSN is the PostgreSQL URL: a secret, never logged (RELAY_OUTBOX_DSN overrides it).
	DSN string `yaml:"dsn"`
	// Lease is how long a replica's hold on a destination and its heartbeat last unrenewed (default 10s): how soon
	// another replica takes over from one that stopped.
	Lease time.Duration `yaml:"lease"`
	// MaxConns is each replica's pool of connections (default 16); StatementTimeout bounds a statement (10s).
	MaxConns         int32         `yaml:"max_conns"`
	StatementTimeout time.Duration `yaml:"statement_timeout"`
	// AllowAsyncCommit starts on a database with synchronous_commit=off (acknowledged webhooks could be lost in a
	// crash of the database server).
	AllowAsyncCommit bool `yaml:"allow_async_commit"`
}

// Endpoint is a URL template.
type Endpoint struct {
	Endpoint string `yaml:"endpoint"`
}

// Intake tunes the webhook side.
type Intake struct {
	// MaxBodyBytes refuses larger webhooks with 413 (default 1 MiB), before reading them when they say so.
	MaxBodyBytes int64 `yaml:"max_body_bytes"`
	// DedupeWindow is how long event ids are remembered (default 7 days, longer than any vendor's retries).
	DedupeWindow time.Duration `yaml:"dedupe_window"`
	// MaxInFlight is how many webhooks the relay handles at once (default 256); beyond it, 503 + Retry-After
	// (vendors retry), so an overload is shed instead of queued in memory.
	MaxInFlight int `yaml:"max_in_flight"`
	// MaxConnections is how many connections the relay holds (default 1024); beyond it a connection gets 503 +
	// Retry-After and is closed.
	MaxConnections int `yaml:"max_connections"`
	// MaxPendingJobs is the outbox's budget (default 2,000,000 jobs waiting for delivery): beyond it webhooks get
	// 503 + Retry-After, so an outage long enough cannot fill the disk.
	MaxPendingJobs int `yaml:"max_pending_jobs"`
	// ReadTimeout bounds reading a whole request, headers and body (default 10s); IdleTimeout a kept-alive
	// connection waiting for the next one (default 60s); WriteTimeout writing the answer (default 30s).
	ReadTimeout  time.Duration `yaml:"read_timeout"`
	IdleTimeout  time.Duration `yaml:"idle_timeout"`
	WriteTimeout time.Duration `yaml:"write_timeout"`
}

// Defaults fills what is unset.
func (in *Intake) Defaults() {
	for _, d := range []struct {
		v   *int
		def int
	}{{&in.MaxInFlight, 256}, {&in.MaxConnections, 1024}, {&in.MaxPendingJobs, 2_000_000}} {
		if *d.v == 0 {
			*d.v = d.def
		}
	}
	for _, d := range []struct {
		v   *time.Duration
		def time.Duration
	}{{&in.DedupeWindow, 7 * 24 * time.Hour}, {&in.ReadTimeout, 10 * time.Second},
		{&in.IdleTimeout, time.Minute}, {&in.WriteTimeout, 30 * time.Second}} {
		if *d.v == 0 {
			*d.v = d.def
		}
	}
	if in.MaxBodyBytes == 0 {
		in.MaxBodyBytes = 1 << 20
	}
}

// Sources are the vendors, one field each: this struct is the relay's registry of vendors (a field's YAML key is
// the vendor's name). A missing one is not served.
type Sources struct {
	RevenueCat *revenuecat.Settings `yaml:"revenuecat"`
	Purchasely *purchasely.Settings `yaml:"purchasely"`
	AppsFlyer  *appsflyer.Settings  `yaml:"appsflyer"`
}

// namedSettings is one configured vendor.
type namedSettings struct {
	name     string
	settings relay.Settings
}

// configured lists the vendors that have settings, in the struct's order.
func (s Sources) configured() []namedSettings {
	var out []namedSettings
	v := reflect.ValueOf(s)
	for i := range v.NumField() {
		if f := v.Field(i); !f.IsNil() {
			out = append(out, namedSettings{name: sourceName(v.Type().Field(i)), settings: f.Interface().(relay.Settings)})
		}
	}
	return out
}

// Merge replaces the vendors other configures, keeping the rest (a story's relay over the default config).
func (s *Sources) Merge(other Sources) {
	dst, src := reflect.ValueOf(s).Elem(), reflect.ValueOf(other)
	for i := range src.NumField() {
		if f := src.Field(i); !f.IsNil() {
			dst.Field(i).Set(f)
		}
	}
}

// SourceNames are the vendors the relay knows, as the config's keys.
func SourceNames() []string {
	t := reflect.TypeFor[Sources]()
	out := make([]string, t.NumField())
	for i := range out {
		out[i] = sourceName(t.Field(i))
	}
	return out
}

func sourceName(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
	return name
}

// Default is the parsed default config.
func Default() Config {
	c, err := Parse(DefaultYAML, "default config")
	if err != nil {
		panic(err)
	}
	return c
}

// Load reads a config file and checks it entirely: against its JSON Schema (schemas/relay-config.schema.json),
// then what a schema cannot say (Build). Errors are file:line:column, the key path, what was expected and what
// arrived.
func Load(path string) (Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Config{}, err
	}
	c, err := Parse(data, path)
	if err != nil {
		return c, err
	}
	if _, err := c.Build(); err != nil {
		root, _ := schemas.RelayConfig.Check(path, data)
		return c, filecheck.At(path, root, err)
	}
	return c, nil
}

// Parse reads a config against its schema: unknown keys and wrong types are errors naming their place.
func Parse(data []byte, name string) (Config, error) {
	root, err := schemas.RelayConfig.Check(name, data)
	if err != nil {
		return Config{}, err
	}
	var c Config
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil && !errors.Is(err, io.EOF) {
		return Config{}, filecheck.At(name, root, errors.New(strings.TrimPrefix(err.Error(), "yaml: ")))
	}
	if c.CleverTap.Endpoint == "" {
		c.CleverTap.Endpoint = ProductionCleverTap
	}
	if c.Piano.Endpoint == "" {
		c.Piano.Endpoint = ProductionPiano
	}
	c.Intake.Defaults()
	c.Delivery.Defaults()
	if c.Outbox.Driver == "" {
		c.Outbox.Driver = "bbolt"
	}
	return c, nil
}

// Built is a validated config, ready for the service.
type Built struct {
	Sources   []relay.Source
	Endpoints map[string]relay.Endpoint
	Delivery  delivery.Settings
	Intake    Intake
	// Warnings are legal settings a user may not mean.
	Warnings []string
}

// Source is the built source with that name, or nil when the config does not serve it.
func (b Built) Source(name string) relay.Source {
	for _, s := range b.Sources {
		if s.Name() == name {
			return s
		}
	}
	return nil
}

// Build validates everything and builds the sources; errors name the key.
func (c Config) Build() (Built, error) {
	b := Built{Endpoints: map[string]relay.Endpoint{}, Intake: c.Intake}
	if err := checkTemplate("clevertap.endpoint", c.CleverTap.Endpoint); err != nil {
		return b, err
	}
	if err := checkTemplate("piano.endpoint", c.Piano.Endpoint); err != nil {
		return b, err
	}
	if c.Outbox.Driver == "postgres" && c.Outbox.DSN == "" {
		return b, errors.New("outbox.dsn: expected a PostgreSQL URL (or RELAY_OUTBOX_DSN) for outbox.driver " +
			"postgres, got none")
	}
	if !strings.Contains(c.CleverTap.Endpoint, "{region}") {
		b.Warnings = append(b.Warnings,
			"clevertap.endpoint has no {region}: every region's records go to "+c.CleverTap.Endpoint)
	}
	if c.Intake.MaxBodyBytes < 1024 {
		return b, fmt.Errorf("intake.max_body_bytes: expected at least 1024, got %d", c.Intake.MaxBodyBytes)
	}
	switch in := c.Intake; {
	case in.MaxInFlight < 1:
		return b, fmt.Errorf("intake.max_in_flight: expected at least 1, got %d", in.MaxInFlight)
	case in.MaxConnections < 1:
		return b, fmt.Errorf("intake.max_connections: expected at least 1, got %d", in.MaxConnections)
	case in.MaxPendingJobs < 1:
		return b, fmt.Errorf("intake.max_pending_jobs: expected at least 1, got %d", in.MaxPendingJobs)
	case in.ReadTimeout <= 0 || in.IdleTimeout <= 0 || in.WriteTimeout <= 0:
		return b, fmt.Errorf("intake.read_timeout, idle_timeout, write_timeout: expected positive durations, got %s, "+
			"%s, %s", in.ReadTimeout, in.IdleTimeout, in.WriteTimeout)
	}
	if c.Intake.DedupeWindow < time.Hour {
		return b, fmt.Errorf("intake.dedupe_window: expected at least 1h (vendors retry for hours), got %s",
			c.Intake.DedupeWindow)
	}
	if err := c.Delivery.Validate("delivery"); err != nil {
		return b, err
	}
	b.Delivery = c.Delivery
	b.Delivery.CleverTapEndpoint, b.Delivery.PianoEndpoint = c.CleverTap.Endpoint, c.Piano.Endpoint
	for _, v := range c.Sources.configured() {
		in, err := v.settings.Build("sources." + v.name)
		if err != nil {
			return b, err
		}
		b.Sources = append(b.Sources, in)
		b.Warnings = append(b.Warnings, in.Warnings()...)
		for k, v := range in.Destinations() {
			b.Endpoints[k] = v
		}
	}
	if len(b.Sources) == 0 {
		return b, fmt.Errorf("sources: expected at least one of %s, got none", strings.Join(SourceNames(), ", "))
	}
	return b, nil
}

func checkTemplate(key, template string) error {
	u, err := url.Parse(strings.NewReplacer("{region}", "eu1", "{domain}", "collect.example").Replace(template))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%s: expected an http(s) URL template such as https://{region}.api.clevertap.com, got %q", key,
			template)
	}
	return nil
}

// Secrets lists every credential in the config, for tests that check logs never contain one.
func (c Config) Secrets() []string {
	var out []string
	if c.Outbox.DSN != "" {
		out = append(out, c.Outbox.DSN)
		if u, err := url.Parse(c.Outbox.DSN); err == nil && u.User != nil {
			if pw, ok := u.User.Password(); ok && pw != "" {
				out = append(out, pw)
			}
		}
	}
	for _, v := range c.Sources.configured() {
		for _, secret := range v.settings.Secrets() {
			if secret != "" {
				out = append(out, secret)
			}
		}
	}
	return out
}
