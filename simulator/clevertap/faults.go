package clevertap

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
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
	if f.Endpoint != "" && !slices.Contains(endpointNames(), f.Endpoint) {
		return fmt.Errorf("endpoint: expected one of %s, got %q", strings.Join(endpointNames(), ", "), f.Endpoint)
	}
	return nil
}

// faultBook holds the injected faults in the order they were added; the first that matches a request wins.
type faultBook struct {
	mu     sync.Mutex
	next   int
	faults []*Fault
}

func (b *faultBook) add(f Fault) (Fault, error) {
	if err := f.Validate(); err != nil {
		return Fault{}, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.next++
	f.ID = "fault-" + strconv.Itoa(b.next)
	f.Applied = 0
	b.faults = append(b.faults, &f)
	return f, nil
}

func (b *faultBook) list() []Fault {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]Fault, 0, len(b.faults))
	for _, f := range b.faults {
		out = append(out, *f)
	}
	return out
}

func (b *faultBook) remove(id string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	for i, f := range b.faults {
		if f.ID == id {
			b.faults = append(b.faults[:i], b.faults[i+1:]...)
			return true
		}
	}
	return false
}

func (b *faultBook) clear() {
	b.mu.Lock()
	b.faults = nil
	b.mu.Unlock()
}

// take returns the fault that answers this request, if any, consuming one of its times.
func (b *faultBook) take(endpoint, account string, region Region) (Fault, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for i, f := range b.faults {
		if (f.Account != "" && f.Account != account) || (f.Region != "" && f.Region != region) ||
			(f.Endpoint != "" && f.Endpoint != endpoint) {
			continue
		}
		if f.Probability > 0 && rand.Float64() >= f.Probability {
			continue
		}
		f.Applied++
		taken := *f
		if f.Times > 0 {
			f.Times--
			if f.Times == 0 {
				b.faults = append(b.faults[:i], b.faults[i+1:]...)
			}
		}
		return taken, true
	}
	return Fault{}, false
}

// applyFault answers the request with an injected fault when one matches; it reports whether it did. A delay
// fault is remembered and served by pause, an after-processing one by finish.
func (s *Server) applyFault(w http.ResponseWriter, r *http.Request, c *call) bool {
	f, ok := s.faults.take(c.entry.Endpoint, c.entry.Account, c.entry.Region)
	if !ok {
		return false
	}
	c.fault = &f
	if f.Action == FaultDelay || f.AfterProcessing {
		return false
	}
	c.entry.Fault = f.ID
	c.diagnose("fault %s: %s", f.ID, f.Action)
	switch f.Action {
	case FaultRespond:
		if f.DelayMS > 0 && !sleep(r.Context(), time.Duration(f.DelayMS)*time.Millisecond) {
			return true
		}
		body := []byte(f.Body)
		if f.Body == "" {
			body = envelope(f.Status, faultText(f.Status))
		}
		c.entry.Outcome, c.entry.Status, c.entry.Response = OutcomeFault, f.Status, body
		w.Header().Set("X-Simulator-Request-Id", c.entry.RequestID)
		w.Header().Set("X-Simulator-Diagnosis", headerSafe(strings.Join(c.entry.Diagnosis, "; ")))
		s.record(c)
		writeAnswer(w, f.Status, body)
	case FaultReset:
		c.entry.Outcome = OutcomeFault
		s.record(c)
		resetConnection(w)
	case FaultMalformed:
		c.entry.Outcome, c.entry.Status = OutcomeFault, http.StatusOK
		s.record(c)
		writeMalformed(w)
	}
	return true
}

// pause serves a delay fault; it returns false when the client went away first.
func (s *Server) pause(r *http.Request, c *call) bool {
	if c.fault == nil || c.fault.Action != FaultDelay {
		return true
	}
	c.entry.Fault = c.fault.ID
	c.diagnose("fault %s: delayed %d ms", c.fault.ID, c.fault.DelayMS)
	return sleep(r.Context(), time.Duration(c.fault.DelayMS)*time.Millisecond)
}

// sleep waits d; it returns false when the context (the client's request) ended first.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

func faultText(status int) string {
	switch status {
	case http.StatusServiceUnavailable:
		return textServiceUnavailable
	case http.StatusTooManyRequests:
		return textTooManyConcurrent
	case http.StatusUnauthorized:
		return textAccountInvalid
	}
	if t := http.StatusText(status); t != "" {
		return t
	}
	return "Error"
}

// faultAfterProcessing finds a reset or malformed fault marked after_processing and notes it in the journal
// entry: the request is processed and stored, and the client never hears so (finish breaks the answer).
func (s *Server) faultAfterProcessing(c *call, status int) *Fault {
	f := c.fault
	if f == nil || !f.AfterProcessing || (f.Action != FaultReset && f.Action != FaultMalformed) {
		return nil
	}
	c.entry.Fault = f.ID
	c.entry.Diagnosis = append(c.entry.Diagnosis, fmt.Sprintf(
		"fault %s: %s after the request was processed (real answer was HTTP %d)", f.ID, f.Action, status))
	return f
}

// malformedBody is the first half of a success answer: what a client reads when the connection breaks mid-body.
const malformedBody = `{"status":"success","proc`

func writeMalformed(w http.ResponseWriter) {
	writeAnswer(w, http.StatusOK, []byte(malformedBody))
}

// resetConnection drops the TCP connection with a RST where it can, so the client sees "connection reset by peer".
func resetConnection(w http.ResponseWriter) {
	if hj, ok := w.(http.Hijacker); ok {
		if conn, _, err := hj.Hijack(); err == nil {
			if wrapped, ok := conn.(interface{ NetConn() net.Conn }); ok {
				conn = wrapped.NetConn()
			}
			if tcp, ok := conn.(*net.TCPConn); ok {
				_ = tcp.SetLinger(0)
			}
			_ = conn.Close()
			return
		}
	}
	panic(http.ErrAbortHandler)
}
