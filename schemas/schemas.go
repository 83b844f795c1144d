// Package schemas holds the JSON Schemas of the files users write: scenarios, the simulator's accounts file and
// the relay's config. The loaders check every file against its schema before using it; editors use the same
// files for completion (the built-in files name them with a yaml-language-server comment).
package schemas

import (
	"embed"

	"github.com/ctharness/ctharness/internal/filecheck"
)

//go:embed *.schema.json
var files embed.FS

// PublicBase is where the schemas are published: the repository's files as served by GitHub. A file a user copies
// out of the repository names its schema there, so an editor finds it wherever the copy goes.
const PublicBase = "https://raw.githubusercontent.com/ctharness/ctharness/main/schemas/"

// Names of the schema files, as the yaml-language-server comments name them.
const (
	ScenarioFile    = "scenario.schema.json"
	AccountsFile    = "accounts.schema.json"
	RelayConfigFile = "relay-config.schema.json"
)

// The compiled schemas; a schema that does not compile is a bug the package's test catches.
var (
	Scenario    = compile(ScenarioFile)
	Accounts    = compile(AccountsFile)
	RelayConfig = compile(RelayConfigFile)
)

// base names the schemas as one directory, so that scenario.schema.json's reference to the relay config's
// sources resolves as it does for an editor reading the files side by side.
const base = "file:///schemas/"

func compile(name string) *filecheck.Schema {
	docs := map[string][]byte{}
	for _, f := range []string{ScenarioFile, AccountsFile, RelayConfigFile} {
		raw, err := files.ReadFile(f)
		if err != nil {
			panic(err)
		}
		docs[base+f] = raw
	}
	s, err := filecheck.Compile(base+name, docs)
	if err != nil {
		panic(err)
	}
	return s
}
