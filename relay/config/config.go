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
	"regexp"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/ctharness/ctharness/relay"
	"github.com/ctharness/ctharness/relay/appsflyer"
	"github.com/ctharness/ctharness/relay/delivery"
	"github.com/ctharness/ctharness/relay/purchasely"
	"github.com/ctharness/ctharness/relay/revenuecat"
)

// DefaultYAML is the default config: the simulator's default accounts (design.md "Default relay config").
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
	Delivery  delivery.Settings `yaml:"delivery"`
	Sources   Sources           `yaml:"sources"`
}

// Endpoint is a URL template.
type Endpoint struct {
	Endpoint string `yaml:"endpoint"`
}

// Intake tunes the webhook side.
type Intake struct {
	// MaxBodyBytes refuses larger webhooks with 413 (default 1 MiB).
	MaxBodyBytes int64 `yaml:"max_body_bytes"`
	// DedupeWindow is how long event ids are remembered (default 7 days, longer than any vendor's retries).
	DedupeWindow time.Duration `yaml:"dedupe_window"`
}

// Sources are the vendors; a missing one is not served.
type Sources struct {
	RevenueCat *revenuecat.Settings `yaml:"revenuecat"`
	Purchasely *purchasely.Settings `yaml:"purchasely"`
	AppsFlyer  *appsflyer.Settings  `yaml:"appsflyer"`
}

// Default is the parsed default config.
func Default() Config {
	c, err := Parse(DefaultYAML, "default config")
	if err != nil {
		panic(err)
	}
	return c
}

// Load reads a config file.
func Load(path string) (Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Config{}, err
	}
	return Parse(data, path)
}

var yamlLine = regexp.MustCompile(`line (\d+): field (\S+) not found in type (\S+)`)

// Parse reads YAML strictly: unknown keys are errors.
func Parse(data []byte, name string) (Config, error) {
	var c Config
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil && !errors.Is(err, io.EOF) {
		msg := err.Error()
		if m := yamlLine.FindAllStringSubmatch(msg, -1); m != nil {
			parts := make([]string, len(m))
			for i, g := range m {
				parts[i] = fmt.Sprintf("line %s: unknown key %q (in %s)", g[1], g[2], strings.TrimPrefix(g[3], "config."))
			}
			msg = strings.Join(parts, "; ")
		}
		return Config{}, fmt.Errorf("%s: %s", name, strings.TrimPrefix(msg, "yaml: "))
	}
	if c.CleverTap.Endpoint == "" {
		c.CleverTap.Endpoint = ProductionCleverTap
	}
	if c.Piano.Endpoint == "" {
		c.Piano.Endpoint = ProductionPiano
	}
	if c.Intake.MaxBodyBytes == 0 {
		c.Intake.MaxBodyBytes = 1 << 20
	}
	if c.Intake.DedupeWindow == 0 {
		c.Intake.DedupeWindow = 7 * 24 * time.Hour
	}
	c.Delivery.Defaults()
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

// Build validates everything and builds the sources; errors name the key.
func (c Config) Build() (Built, error) {
	b := Built{Endpoints: map[string]relay.Endpoint{}, Intake: c.Intake}
	if err := checkTemplate("clevertap.endpoint", c.CleverTap.Endpoint); err != nil {
		return b, err
	}
	if err := checkTemplate("piano.endpoint", c.Piano.Endpoint); err != nil {
		return b, err
	}
	if !strings.Contains(c.CleverTap.Endpoint, "{region}") {
		b.Warnings = append(b.Warnings, "clevertap.endpoint has no {region}: every region's records go to "+c.CleverTap.Endpoint)
	}
	if c.Intake.MaxBodyBytes < 1024 {
		return b, fmt.Errorf("intake.max_body_bytes: expected at least 1024, got %d", c.Intake.MaxBodyBytes)
	}
	if c.Intake.DedupeWindow < time.Hour {
		return b, fmt.Errorf("intake.dedupe_window: expected at least 1h (vendors retry for hours), got %s", c.Intake.DedupeWindow)
	}
	if err := c.Delivery.Validate("delivery"); err != nil {
		return b, err
	}
	b.Delivery = c.Delivery
	b.Delivery.CleverTapEndpoint, b.Delivery.PianoEndpoint = c.CleverTap.Endpoint, c.Piano.Endpoint
	add := func(s relay.Source) {
		b.Sources = append(b.Sources, s)
		for k, v := range s.Destinations() {
			b.Endpoints[k] = v
		}
	}
	if s := c.Sources.RevenueCat; s != nil {
		in, err := revenuecat.New("sources.revenuecat", *s)
		if err != nil {
			return b, err
		}
		if s.Authorization == "" {
			b.Warnings = append(b.Warnings, "sources.revenuecat.authorization is empty: any request is accepted as RevenueCat")
		}
		add(in)
	}
	if s := c.Sources.Purchasely; s != nil {
		in, err := purchasely.New("sources.purchasely", *s)
		if err != nil {
			return b, err
		}
		if s.Secret == "" {
			b.Warnings = append(b.Warnings, "sources.purchasely.secret is empty: signatures are not checked")
		}
		add(in)
	}
	if s := c.Sources.AppsFlyer; s != nil {
		in, err := appsflyer.New("sources.appsflyer", *s)
		if err != nil {
			return b, err
		}
		b.Warnings = append(b.Warnings, in.Warnings...)
		if s.Token == "" {
			b.Warnings = append(b.Warnings, "sources.appsflyer.token is empty: any request is accepted as AppsFlyer")
		}
		add(in)
	}
	if len(b.Sources) == 0 {
		return b, errors.New("sources: expected at least one of revenuecat, purchasely, appsflyer, got none")
	}
	return b, nil
}

func checkTemplate(key, template string) error {
	u, err := url.Parse(strings.NewReplacer("{region}", "eu1", "{domain}", "collect.example").Replace(template))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%s: expected an http(s) URL template such as https://{region}.api.clevertap.com, got %q", key, template)
	}
	return nil
}

// Secrets lists every credential in the config, for tests that check logs never contain one.
func (c Config) Secrets() []string {
	var out []string
	if s := c.Sources.RevenueCat; s != nil {
		out = append(out, s.Authorization, s.CleverTap.Passcode, s.CleverTap.SandboxPasscode)
	}
	if s := c.Sources.Purchasely; s != nil {
		out = append(out, s.Secret)
		if s.CleverTap != nil {
			out = append(out, s.CleverTap.Passcode)
		}
	}
	if s := c.Sources.AppsFlyer; s != nil {
		out = append(out, s.Token, s.CleverTap.AccountToken, s.CleverTap.AccountPasscode)
	}
	var nonEmpty []string
	for _, s := range out {
		if s != "" {
			nonEmpty = append(nonEmpty, s)
		}
	}
	return nonEmpty
}
