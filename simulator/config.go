package simulator

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"

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

// LoadConfigFile reads an accounts file; errors name the file, the line and the key.
func LoadConfigFile(path string) (Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("accounts file: %w", err)
	}
	cfg, err := ParseConfig(data)
	if err != nil {
		return Config{}, fmt.Errorf("%s: %w", path, err)
	}
	return cfg, nil
}

// ParseConfig decodes and validates an accounts file's YAML. Unknown keys are errors: a misspelt
// "passcode:" must not silently leave an account without passcodes.
func ParseConfig(data []byte) (Config, error) {
	var cfg Config
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil {
		if errors.Is(err, io.EOF) {
			return cfg, fmt.Errorf("expected a YAML document with an accounts: list, got an empty file")
		}
		return cfg, err
	}
	var root yaml.Node
	_ = yaml.Unmarshal(data, &root)
	for i, a := range cfg.Accounts {
		if err := a.Validate(); err != nil {
			return cfg, fmt.Errorf("line %d: accounts[%d].%w", itemLine(&root, "accounts", i), i, err)
		}
	}
	if len(cfg.Accounts) == 0 {
		return cfg, fmt.Errorf("accounts: expected at least one account, got none")
	}
	for i, s := range cfg.Piano.Sites {
		if err := s.Validate(); err != nil {
			return cfg, fmt.Errorf("line %d: piano.sites[%d].%w", itemLine(&root, "piano", i), i, err)
		}
	}
	return cfg, nil
}

// itemLine finds the line of the i-th item of a top-level list (or of the list under piano.sites).
func itemLine(root *yaml.Node, key string, i int) int {
	if root == nil || len(root.Content) == 0 {
		return 0
	}
	list := mappingValue(root.Content[0], key)
	if key == "piano" {
		list = mappingValue(list, "sites")
	}
	if list == nil || i >= len(list.Content) {
		return 0
	}
	return list.Content[i].Line
}

func mappingValue(n *yaml.Node, key string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}
