package simulator

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/ctharness/ctharness/internal/filecheck"
	"github.com/ctharness/ctharness/schemas"
	"github.com/ctharness/ctharness/simulator/clevertap"
	"github.com/ctharness/ctharness/simulator/piano"
	"go.yaml.in/yaml/v3"
)

// Config is the accounts file: CleverTap accounts and, optionally, Piano sites. Without a file the defaults of
// both are used.
type Config struct {
	Accounts []clevertap.Account `yaml:"accounts"`
	Piano    struct {
		Sites []piano.Site `yaml:"sites"`
	} `yaml:"piano"`
}

// LoadConfigFile reads an accounts file; errors are file:line:column, the key path, what was expected and what
// arrived.
func LoadConfigFile(path string) (Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("accounts file: %w", err)
	}
	return ParseConfig(data, path)
}

// ParseConfig checks an accounts file entirely, against its JSON Schema (schemas/accounts.schema.json) and then
// account by account. Unknown keys are errors: a misspelt "passcode:" must not silently leave an account without
// passcodes.
func ParseConfig(data []byte, file string) (Config, error) {
	root, err := schemas.Accounts.Check(file, data)
	if err != nil {
		return Config{}, err
	}
	var cfg Config
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil {
		return cfg, filecheck.At(file, root, errors.New(strings.TrimPrefix(err.Error(), "yaml: ")))
	}
	for i, a := range cfg.Accounts {
		if err := a.Validate(); err != nil {
			return cfg, filecheck.At(file, root, fmt.Errorf("accounts[%d].%w", i, err))
		}
	}
	for i, s := range cfg.Piano.Sites {
		if err := s.Validate(); err != nil {
			return cfg, filecheck.At(file, root, fmt.Errorf("piano.sites[%d].%w", i, err))
		}
	}
	return cfg, nil
}
