package schemas

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ctharness/ctharness/internal/filecheck"
)

// Every file the project ships and every example validates against its schema (with a well-kept JSON Schema
// library), and names its schema for editors on its first line.
func TestEveryShippedFileValidatesAndNamesItsSchema(t *testing.T) {
	builtIn, _ := filepath.Glob("../scenarios/*.yaml")
	examples, _ := filepath.Glob("../examples/scenarios/*.yaml")
	services, _ := filepath.Glob("../examples/*-service/scenarios/*.yaml")
	examples = append(examples, services...)
	if len(builtIn) < 40 || len(examples) < 5 {
		t.Fatalf("expected the built-in and example scenarios, found %d and %d", len(builtIn), len(examples))
	}
	for _, c := range []struct {
		schema *filecheck.Schema
		name   string
		files  []string
	}{
		{Scenario, ScenarioFile, append(builtIn, examples...)},
		{RelayConfig, RelayConfigFile, []string{"../relay/config/default.yaml", "../docker/rootfs/etc/relay/relay.yaml"}},
		{Accounts, AccountsFile, []string{"../examples/accounts.yaml"}},
	} {
		for _, f := range c.files {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := c.schema.Check(f, data); err != nil {
				t.Errorf("%s does not validate:\n%v", f, err)
			}
			first, _, _ := strings.Cut(string(data), "\n")
			ref, ok := strings.CutPrefix(first, "# yaml-language-server: $schema=")
			if !ok || filepath.Base(ref) != c.name {
				t.Errorf("%s: expected a first line naming %s for editors, got %q", f, c.name, first)
				continue
			}
			// a file a user copies out (an example, the printed default config) names the schema by its public
			// address, which works wherever the copy goes; the built-in scenarios stay in the repository
			shipped := !strings.HasPrefix(f, "../scenarios/")
			switch {
			case shipped && ref != PublicBase+c.name:
				t.Errorf("%s: expected the schema's public address %s (a relative path breaks once the file is "+
					"copied out), got %s", f, PublicBase+c.name, ref)
			case !shipped:
				if _, err := os.Stat(filepath.Join(filepath.Dir(f), ref)); err != nil {
					t.Errorf("%s: its schema reference %s does not resolve: %v", f, ref, err)
				}
			}
		}
	}
}
