package scenarios

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// StepKinds are the steps a story can take.
var StepKinds = []string{
	"purchase", "renew", "cancel", "uncancel", "expire", "billing_issue", "recover", "billing_expire", "refund",
	"change_product", "pause", "resume", "resubscribe", "transfer", "wait", "duplicate", "fault", "clear_faults",
	"webhook",
}

// Step is one move of the story.
type Step struct {
	Kind string
	Line int
	// Grace: billing_issue with a grace period.
	Grace bool
	// Product and Immediate: change_product.
	Product   Product
	Immediate bool
	// Wait: how long a wait step advances the clock.
	Wait time.Duration
	// Fault: an injected fault at the fake.
	Fault Fault
	// Webhook: a raw vendor webhook.
	Webhook RawWebhook
	// To: transfer's receiving user.
	To User
}

// Fault is a fault at the fake CleverTap, scoped to the story's account by default.
type Fault struct {
	Action  string `yaml:"action"`
	Status  int    `yaml:"status"`
	DelayMS int    `yaml:"delay_ms"`
	Times   int    `yaml:"times"`
	Account string `yaml:"account"`
	Region  string `yaml:"region"`
}

// RawWebhook is a vendor webhook from a file (relative to the repository root) or inline, with assignments.
type RawWebhook struct {
	Source string            `yaml:"source"`
	File   string            `yaml:"file"`
	Body   string            `yaml:"body"`
	Set    map[string]string `yaml:"set"`
}

// parseStep reads one step the schema has checked (schemas/scenario.schema.json: its kinds and arguments); an
// error names the step's key: "wait: expected a positive duration ...".
func parseStep(n *yaml.Node) (Step, error) {
	st := Step{Line: n.Line}
	var arg *yaml.Node
	if n.Kind == yaml.MappingNode && len(n.Content) == 2 {
		st.Kind, arg = n.Content[0].Value, n.Content[1]
	} else {
		st.Kind = n.Value
	}
	if !slices.Contains(StepKinds, st.Kind) {
		return st, fmt.Errorf("%s: unknown step; expected one of %s", st.Kind, strings.Join(StepKinds, ", "))
	}
	decode := func(v any) error {
		if arg == nil || arg.Kind == yaml.ScalarNode && arg.Tag == "!!null" {
			return nil
		}
		if err := arg.Decode(v); err != nil {
			return fmt.Errorf("%s: %v", st.Kind, strings.TrimPrefix(err.Error(), "yaml: "))
		}
		return nil
	}
	var err error
	switch st.Kind {
	case "billing_issue":
		var a struct {
			Grace bool `yaml:"grace"`
		}
		err = decode(&a)
		st.Grace = a.Grace
	case "change_product":
		var a struct {
			Product   Product `yaml:"product"`
			Immediate bool    `yaml:"immediate"`
		}
		err = decode(&a)
		st.Product, st.Immediate = a.Product, a.Immediate
	case "transfer":
		var a struct {
			To User `yaml:"to"`
		}
		err = decode(&a)
		st.To = a.To
	case "wait":
		var text string
		if err = decode(&text); err == nil {
			d, perr := time.ParseDuration(text)
			if perr != nil || d <= 0 {
				return st, fmt.Errorf("wait: expected a positive duration such as 72h, got %q", text)
			}
			st.Wait = d
		}
	case "fault":
		err = decode(&st.Fault)
	case "webhook":
		err = decode(&st.Webhook)
	}
	return st, err
}
