// Package scenarios loads and plays purchase stories written as data (*.yaml in this directory, embedded, or
// any file a user writes): a user, a store, a product and offer, the relay configuration they need, steps
// (lifecycle moves, clock advances, raw vendor webhooks, duplicate deliveries, faults at the fake) and, per
// source, the records expected at CleverTap and Piano, written by hand. Play runs one scenario through one
// source (emitter → relay → fake) and compares record by record.
package scenarios

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/ctharness/ctharness/internal/filecheck"
	"github.com/ctharness/ctharness/internal/suggest"
	"github.com/ctharness/ctharness/relay"
	"github.com/ctharness/ctharness/relay/config"
	"github.com/ctharness/ctharness/schemas"
	"github.com/ctharness/ctharness/simulator/lifecycle"
	"github.com/ctharness/ctharness/simulator/sources/vendors"
)

//go:embed *.yaml
var builtIn embed.FS

// Sources are the vendors a scenario can play through: the registry's.
var Sources = vendors.Names()

// Scenario is one story.
type Scenario struct {
	// BuiltIn marks the scenarios embedded in the binaries (LoadBuiltIn); the others are the user's own.
	BuiltIn bool `yaml:"-"`
	// Reviewed is false when `simulator run --write-expect` wrote the expectations and no one has reviewed them
	// yet: such a scenario never passes. Absent means written by hand.
	Reviewed *bool `yaml:"reviewed"`
	// OwnService says the expectations describe the user's own webhook service (played with Target.Webhooks):
	// its event names are the user's, not checked against the reference relay's, and it never plays through
	// the reference relay.
	OwnService  bool     `yaml:"own_service"`
	Name        string   `yaml:"name"`
	Description string   `yaml:"description"`
	Labels      []string `yaml:"labels"`
	// Sources are the vendors that play the story (default: every source with an expectation).
	Sources     []string              `yaml:"sources"`
	User        User                  `yaml:"user"`
	Store       lifecycle.Store       `yaml:"store"`
	Environment lifecycle.Environment `yaml:"environment"`
	Product     Product               `yaml:"product"`
	Offer       Offer                 `yaml:"offer"`
	// Start is when the story begins (default 2026-01-01T00:00:00Z).
	Start time.Time `yaml:"start"`
	// Accounts are extra CleverTap accounts the story creates at the fake; their ids are made unique per run.
	Accounts []Account `yaml:"accounts"`
	// Relay is "default" or a config whose sources replace the default config's (the story then runs with its
	// own in-process relay).
	Relay     RelaySetting            `yaml:"relay"`
	AppsFlyer AppsFlyerSetting        `yaml:"appsflyer"`
	Steps     []Step                  `yaml:"-"`
	Expect    map[string]Expectations `yaml:"expect"`

	// File is where the scenario was read from.
	File string `yaml:"-"`
}

// User is who buys; every id is made unique per run.
type User struct {
	AppUserID      string `yaml:"app_user_id"`
	CleverTapID    string `yaml:"clevertap_id"`
	ATInternetID   string `yaml:"at_internet_id"`
	CustomerUserID string `yaml:"customer_user_id"`
	Email          string `yaml:"email"`
	Country        string `yaml:"country"`
}

// Product is what is sold.
type Product struct {
	ID       string           `yaml:"id"`
	Group    string           `yaml:"group"`
	Plan     string           `yaml:"plan"`
	Period   lifecycle.Period `yaml:"period"`
	Price    float64          `yaml:"price"`
	Currency string           `yaml:"currency"`
}

// Offer is the first period's offer.
type Offer struct {
	Type   lifecycle.OfferType `yaml:"type"`
	Period lifecycle.Period    `yaml:"period"`
	Price  float64             `yaml:"price"`
	Code   string              `yaml:"code"`
}

// Account is a CleverTap account the story needs.
type Account struct {
	ID       string `yaml:"id"`
	Region   string `yaml:"region"`
	Passcode string `yaml:"passcode"`
	Token    string `yaml:"token"`
	// DiscardedEvents are discarded in the dashboard (per-record code 528).
	DiscardedEvents []string `yaml:"discarded_events"`
}

// AppsFlyerSetting is what the app and AppsFlyer know about the install.
type AppsFlyerSetting struct {
	MediaSource  string `yaml:"media_source"`
	Campaign     string `yaml:"campaign"`
	SendInstalls bool   `yaml:"send_installs"`
}

// RelaySetting is a preset name or a config fragment.
type RelaySetting struct {
	Preset string
	// Sources is the YAML of the config's sources key, replacing the default's per source.
	Sources yaml.Node
}

// UnmarshalYAML takes "default" or {sources: {...}} (the schema has checked which).
func (r *RelaySetting) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		r.Preset = n.Value
		return nil
	}
	var frag struct {
		Sources yaml.Node `yaml:"sources"`
	}
	if err := n.Decode(&frag); err != nil {
		return err
	}
	r.Sources = frag.Sources
	return nil
}

// Custom reports whether the story needs its own relay.
func (r RelaySetting) Custom() bool { return r.Sources.Kind != 0 }

// Expectations are what one source must produce.
type Expectations struct {
	// CleverTap are the records expected at CleverTap, in any order; no others may arrive for the user.
	CleverTap []Record `yaml:"clevertap"`
	// Piano are the events expected at the fake Piano collector.
	Piano []PianoEvent `yaml:"piano"`
	// DeadLetters are records the relay must give up on, with their code or status.
	DeadLetters []DeadLetter `yaml:"deadletters"`
	// Skipped is text the emitter or relay gives for sending nothing (e.g. no customer user id).
	Skipped string `yaml:"skipped"`
	line    int
}

// UnmarshalYAML keeps the line for error messages.
func (e *Expectations) UnmarshalYAML(n *yaml.Node) error {
	type plain Expectations
	var p plain
	if err := n.Decode(&p); err != nil {
		return err
	}
	*e = Expectations(p)
	e.line = n.Line
	return nil
}

// Record is one expected CleverTap record: event name (or profile), identity or objectId, account and region,
// and the evtData (or profileData) fields that matter.
type Record struct {
	Event    string         `yaml:"event,omitempty" json:"event,omitempty"`
	Profile  bool           `yaml:"profile,omitempty" json:"profile,omitempty"`
	Identity string         `yaml:"identity,omitempty" json:"identity,omitempty"`
	ObjectID string         `yaml:"object_id,omitempty" json:"object_id,omitempty"`
	Account  string         `yaml:"account,omitempty" json:"account,omitempty"`
	Region   string         `yaml:"region,omitempty" json:"region,omitempty"`
	Data     map[string]any `yaml:"data,omitempty" json:"data,omitempty"`
	line     int
}

// UnmarshalYAML keeps the line.
func (r *Record) UnmarshalYAML(n *yaml.Node) error {
	type plain Record
	var p plain
	if err := n.Decode(&p); err != nil {
		return err
	}
	*r = Record(p)
	r.line = n.Line
	return nil
}

// PianoEvent is one expected Piano event.
type PianoEvent struct {
	Event    string         `yaml:"event" json:"event"`
	IDClient string         `yaml:"idclient,omitempty" json:"idclient,omitempty"`
	Site     string         `yaml:"site,omitempty" json:"site,omitempty"`
	Ignored  bool           `yaml:"ignored,omitempty" json:"ignored,omitempty"`
	Data     map[string]any `yaml:"data,omitempty" json:"data,omitempty"`
}

// DeadLetter is one expected dead letter.
type DeadLetter struct {
	EventType string `yaml:"event_type,omitempty"`
	Status    int    `yaml:"status,omitempty"`
	Code      int    `yaml:"code,omitempty"`
}

// LoadBuiltIn reads the embedded scenarios, sorted by name.
func LoadBuiltIn() ([]*Scenario, error) {
	var out []*Scenario
	err := fs.WalkDir(builtIn, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".yaml") {
			return err
		}
		data, err := builtIn.ReadFile(path)
		if err != nil {
			return err
		}
		s, err := Parse(data, "scenarios/"+path)
		if err != nil {
			return err
		}
		s.BuiltIn = true
		out = append(out, s)
		return nil
	})
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, err
}

// LoadFile reads one scenario file.
func LoadFile(path string) (*Scenario, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fileError(path, err)
	}
	return Parse(data, path)
}

// fileError says that a scenario file is missing or unreadable, naming it, without Go's "stat"/"open" words.
func fileError(path string, err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("scenario file %s not found (expected a .yaml file or a directory of them)", path)
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	return fmt.Errorf("scenario file %s: %w", path, err)
}

// LoadPaths reads files and directories (every *.yaml inside).
func LoadPaths(paths []string) ([]*Scenario, error) {
	var out []*Scenario
	for _, p := range paths {
		info, err := os.Stat(p)
		if err != nil {
			return nil, fileError(p, err)
		}
		files := []string{p}
		if info.IsDir() {
			files, _ = filepath.Glob(filepath.Join(p, "*.yaml"))
		}
		for _, f := range files {
			s, err := LoadFile(f)
			if err != nil {
				return nil, err
			}
			out = append(out, s)
		}
	}
	return out, nil
}

// Parse reads and checks a scenario entirely: against its JSON Schema first (schemas/scenario.schema.json), then
// what a schema cannot say (event names per source, the relay config). Errors are *filecheck.Error:
// file:line:column, the key path, what was expected and what arrived.
func Parse(data []byte, file string) (*Scenario, error) {
	doc, err := schemas.Scenario.Check(file, data)
	if err != nil {
		return nil, err
	}
	var stepsNode *yaml.Node
	for i := 0; i+1 < len(doc.Content); i += 2 {
		if doc.Content[i].Value == "steps" {
			stepsNode = doc.Content[i+1]
		}
	}
	s := &Scenario{File: file}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var withSteps struct {
		Scenario `yaml:",inline"`
		Steps    yaml.Node `yaml:"steps"`
	}
	if err := dec.Decode(&withSteps); err != nil {
		// the schema has checked every key and type; what is left is a value YAML cannot read as its type
		return nil, filecheck.At(file, doc, errors.New(strings.TrimPrefix(err.Error(), "yaml: ")))
	}
	*s = withSteps.Scenario
	s.File = file
	for i, n := range stepsNode.Content {
		step, err := parseStep(n)
		if err != nil {
			return nil, filecheck.At(file, doc, fmt.Errorf("steps[%d].%v", i, err))
		}
		s.Steps = append(s.Steps, step)
	}
	if err := s.check(); err != nil {
		return nil, filecheck.At(file, doc, err)
	}
	return s, nil
}

// check validates what YAML decoding cannot.
func (s *Scenario) check() error {
	if s.Name == "" {
		return fmt.Errorf("name: expected a scenario name, got none")
	}
	if s.Start.IsZero() {
		s.Start = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	if s.Store == "" {
		s.Store = lifecycle.AppStore
	}
	if s.Environment == "" {
		s.Environment = lifecycle.Production
	}
	if s.Offer.Type == "" {
		s.Offer.Type = lifecycle.NoOffer
	}
	if s.Relay.Preset == "" && !s.Relay.Custom() {
		s.Relay.Preset = "default"
	}
	if len(s.Expect) == 0 {
		return fmt.Errorf("expect: expected what each source must produce (%s), got nothing", strings.Join(Sources, ", "))
	}
	if len(s.Sources) == 0 {
		for _, src := range Sources {
			if _, ok := s.Expect[src]; ok {
				s.Sources = append(s.Sources, src)
			}
		}
	}
	for _, src := range s.Sources {
		if _, ok := s.Expect[src]; !ok {
			return fmt.Errorf("sources: the scenario plays %s but says nothing about what it must produce (expect.%s)",
				src, src)
		}
	}
	for _, src := range sortedKeys(s.Expect) {
		if !slices.Contains(s.Sources, src) {
			return fmt.Errorf("expect.%s: an expectation for a source the scenario does not use (sources: %s)", src,
				strings.Join(s.Sources, ", "))
		}
	}
	cfg, err := s.RelayConfig()
	if err != nil {
		return err
	}
	built, err := cfg.Build()
	if err != nil {
		return relayError(err)
	}
	for _, src := range sortedKeys(s.Expect) {
		e := s.Expect[src]
		relaySource := built.Source(src)
		var valid []string
		if relaySource != nil {
			valid = relaySource.EventNames()
		}
		for i, r := range e.CleverTap {
			if !r.Profile && !s.OwnService && !slices.Contains(valid, r.Event) {
				return fmt.Errorf("expect.%s.clevertap[%d].event: unknown event name %q%s; expected one of %s", src, i,
					r.Event, suggest.DidYouMean(r.Event, valid), strings.Join(valid, ", "))
			}
			if r.Identity == "" && r.ObjectID == "" {
				return fmt.Errorf("expect.%s.clevertap[%d]: expected identity or object_id, got neither", src, i)
			}
		}
		if len(e.Piano) > 0 && !sendsToPiano(relaySource) {
			return fmt.Errorf("expect.%s.piano: %s sends nothing to Piano with this relay config", src, src)
		}
	}
	return nil
}

// relayError is a relay config error of the story's relay: its key path is below relay.
func relayError(err error) error {
	if strings.HasPrefix(err.Error(), "sources.") {
		return errors.New("relay." + err.Error())
	}
	return fmt.Errorf("relay: %w", err)
}

// sendsToPiano reports whether a relay source has a Piano destination.
func sendsToPiano(src relay.Source) bool {
	if src == nil {
		return false
	}
	for _, ep := range src.Destinations() {
		if ep.Kind == relay.KindPiano {
			return true
		}
	}
	return false
}

// RelayConfig is the relay configuration the story runs with: the default, with the story's sources replacing
// the default's.
func (s *Scenario) RelayConfig() (config.Config, error) {
	return s.relayConfig(nil)
}

// relayConfig is RelayConfig with scalar values renamed (a run's account ids).
func (s *Scenario) relayConfig(names map[string]string) (config.Config, error) {
	cfg := config.Default()
	if !s.Relay.Custom() {
		return cfg, nil
	}
	var srcs config.Sources
	if err := renameScalars(&s.Relay.Sources, names).Decode(&srcs); err != nil {
		return cfg, fmt.Errorf("relay.sources: %v", err)
	}
	cfg.Sources.Merge(srcs)
	if _, err := cfg.Build(); err != nil {
		return cfg, relayError(err)
	}
	return cfg, nil
}

// HasLabel reports whether the scenario carries a label.
func (s *Scenario) HasLabel(l string) bool { return slices.Contains(s.Labels, l) }
