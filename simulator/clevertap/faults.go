package clevertap

import (
	"fmt"
	"slices"
	"strings"
)

// Fault actions.
const (
	FaultRespond   = "respond"   // answer with Status (and Body, or CleverTap's body for that status), after DelayMS
	FaultDelay     = "delay"     // wait DelayMS, then answer normally
	FaultReset     = "reset"     // drop the connection without an answer
	FaultMalformed = "malformed" // answer 200 with a truncated body
)

// Fault is an injected failure on the CleverTap routes (upload, profile, delete, attribution).
type Fault struct {
	ID     string `json:"id"`
	Action string `json:"action"`
	Status int    `json:"status,omitempty"`
	// Body replaces CleverTap's body for Status when set.
	Body    string `json:"body,omitempty"`
	DelayMS int    `json:"delay_ms,omitempty"`
	// Times is how many matching requests the fault still applies to; 0 means until deleted.
	Times int `json:"times,omitempty"`
	// Probability applies the fault to that share of matching requests; 0 means always.
	Probability float64 `json:"probability,omitempty"`
	Account     string  `json:"account,omitempty"`
	Region      Region  `json:"region,omitempty"`
	// Endpoint limits the fault to one endpoint: upload, profile, delete, attribution, events, profiles, counts,
	// now, disassociate, subscribe or demerge.
	Endpoint string `json:"endpoint,omitempty"`
	// AfterProcessing makes reset and malformed happen after the request was processed and stored: the client
	// never learns that CleverTap took its records, the case that catches relays resending what was accepted.
	AfterProcessing bool `json:"after_processing,omitempty"`
	// Applied counts the requests the fault has answered.
	Applied int `json:"applied"`
}

// Validate names the field that is wrong, what it expected and what arrived.
func (f Fault) Validate() error {
	switch f.Action {
	case FaultRespond:
		if f.Status < 100 || f.Status > 599 {
			return fmt.Errorf("status: expected an HTTP status from 100 to 599 with action respond, got %d", f.Status)
		}
	case FaultDelay:
		if f.DelayMS <= 0 {
			return fmt.Errorf("delay_ms: expected a positive number of milliseconds with action delay, got %d", f.DelayMS)
		}
	case FaultReset, FaultMalformed:
	default:
		if f.DelayMS < 0 {
			return fmt.Errorf("delay_ms: expected 0 or more milliseconds, got %d", f.DelayMS)
		}
		return fmt.Errorf("action: expected one of respond, delay, reset, malformed, got %q", f.Action)
	}
	if f.Times < 0 {
		return fmt.Errorf("times: expected 0 (until deleted) or a positive count, got %d", f.Times)
	}
	if f.Probability < 0 || f.Probability > 1 {
		return fmt.Errorf("probability: expected a number from 0 to 1, got %v", f.Probability)
	}
	if f.Region != "" && !f.Region.Valid() {
		return fmt.Errorf("region: expected one of %s, got %q", RegionList(), f.Region)
	}
	if f.Endpoint != "" && !slices.Contains(endpoints, f.Endpoint) {
		return fmt.Errorf("endpoint: expected one of %s, got %q", strings.Join(endpoints, ", "), f.Endpoint)
	}
	return nil
}
