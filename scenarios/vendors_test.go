package scenarios

import (
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/ctharness/ctharness/relay/config"
	"github.com/ctharness/ctharness/simulator/sources/vendors"
)

// Every registered vendor is whole: an emitter with event types and a load mix drawn from them, a relay source in
// the default config, at least one built-in scenario, and its row in the vendor table of docs/developing.md; and
// the relay knows no vendor the registry lacks.
func TestEveryVendorIsWhole(t *testing.T) {
	built, err := config.Default().Build()
	if err != nil {
		t.Fatal(err)
	}
	all, err := LoadBuiltIn()
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile("../docs/developing.md")
	if err != nil {
		t.Fatal(err)
	}
	_, table, found := strings.Cut(string(readme), "\n### Vendors\n")
	if !found {
		t.Fatal(`docs/developing.md has no "### Vendors" section`)
	}
	table, _, _ = strings.Cut(table, "\n#")
	for _, e := range vendors.All {
		name := e.Info().Name
		if len(e.Info().EventTypes) == 0 || len(e.Info().LoadMix) == 0 || e.Info().Credential.Name == "" {
			t.Errorf("%s: expected event types, a load mix and a credential flag, got %d, %d and %q", name,
				len(e.Info().EventTypes), len(e.Info().LoadMix), e.Info().Credential.Name)
		}
		for _, ev := range e.Info().LoadMix {
			if !slices.Contains(e.Info().EventTypes, ev) {
				t.Errorf("%s: load mix event %q is not one of its event types", name, ev)
			}
		}
		if built.Source(name) == nil {
			t.Errorf("%s: the default relay config has no source by that name", name)
		}
		if !slices.ContainsFunc(all, func(s *Scenario) bool { return slices.Contains(s.Sources, name) }) {
			t.Errorf("%s: no built-in scenario plays it", name)
		}
		if !strings.Contains(table, "\n| `"+name+"` |") {
			t.Errorf("%s: no row in the vendor table of docs/developing.md", name)
		}
	}
	for _, name := range config.SourceNames() {
		if _, err := vendors.Lookup(name); err != nil {
			t.Errorf("the relay's config knows %s, the emitter registry does not: %v", name, err)
		}
	}
}
