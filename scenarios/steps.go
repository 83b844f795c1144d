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

func parseStep(n *yaml.Node) (Step, error) {
	st := Step{Line: n.Line}
	var arg *yaml.Node
	switch n.Kind {
	case yaml.ScalarNode:
		st.Kind = n.Value
	case yaml.MappingNode:
		if len(n.Content) != 2 {
			return st, fmt.Errorf("line %d: a step is one key (%s), got %d keys", n.Line, strings.Join(StepKinds, ", "),
				len(n.Content)/2)
		}
		st.Kind, arg = n.Content[0].Value, n.Content[1]
	default:
		return st, fmt.Errorf("line %d: expected a step such as \"renew\" or {wait: 72h}, got a list", n.Line)
	}
	if !slices.Contains(StepKinds, st.Kind) {
		return st, fmt.Errorf("line %d: unknown step %q; expected one of %s", n.Line, st.Kind, strings.Join(StepKinds, ", "))
	}
	decode := func(v any) error {
		if arg == nil {
			return fmt.Errorf("line %d: %s needs arguments", n.Line, st.Kind)
		}
		if err := arg.Decode(v); err != nil {
			return fmt.Errorf("line %d: %s: %v", n.Line, st.Kind, err)
		}
		return nil
	}
	switch st.Kind {
	case "billing_issue":
		if arg != nil {
			var a struct {
				Grace bool `yaml:"grace"`
			}
			if err := decode(&a); err != nil {
				return st, err
			}
			st.Grace = a.Grace
		}
	case "change_product":
		var a struct {
			Product   Product `yaml:"product"`
			Immediate bool    `yaml:"immediate"`
		}
		if err := decode(&a); err != nil {
			return st, err
		}
		if a.Product.ID == "" {
			return st, fmt.Errorf("line %d: change_product: expected product with an id, got none", n.Line)
		}
		st.Product, st.Immediate = a.Product, a.Immediate
	case "transfer":
		var a struct {
			To User `yaml:"to"`
		}
		if err := decode(&a); err != nil {
			return st, err
		}
		if a.To.AppUserID == "" {
			return st, fmt.Errorf("line %d: transfer: expected to.app_user_id, got none", n.Line)
		}
		st.To = a.To
	case "wait":
		var s string
		if err := decode(&s); err != nil {
			return st, err
		}
		d, err := time.ParseDuration(s)
		if err != nil || d <= 0 {
			return st, fmt.Errorf("line %d: wait: expected a positive duration such as 72h, got %q", n.Line, s)
		}
		st.Wait = d
	case "fault":
		if err := decode(&st.Fault); err != nil {
			return st, err
		}
		if !slices.Contains([]string{"respond", "delay", "reset", "malformed"}, st.Fault.Action) {
			return st, fmt.Errorf("line %d: fault.action: expected respond, delay, reset or malformed, got %q", n.Line,
				st.Fault.Action)
		}
	case "webhook":
		if err := decode(&st.Webhook); err != nil {
			return st, err
		}
		if !slices.Contains(Sources, st.Webhook.Source) {
			return st, fmt.Errorf("line %d: webhook.source: expected one of %s, got %q", n.Line, strings.Join(Sources, ", "),
				st.Webhook.Source)
		}
		if (st.Webhook.File == "") == (st.Webhook.Body == "") {
			return st, fmt.Errorf("line %d: webhook: expected file or body, got %s", n.Line, map[bool]string{true: "both",
				false: "neither"}[st.Webhook.File != ""])
		}
	default:
		if arg != nil && !(arg.Kind == yaml.MappingNode && len(arg.Content) == 0) {
			return st, fmt.Errorf("line %d: %s takes no arguments", n.Line, st.Kind)
		}
	}
	return st, nil
}
