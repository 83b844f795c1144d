package fake

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/ctharness/ctharness/internal/clip"
	"github.com/ctharness/ctharness/simulator/clevertap"
)

// faultBook holds the injected faults in the order they were added; the first that matches a request wins.
type faultBook struct {
	mu     sync.Mutex
	next   int
	faults []*clevertap.Fault
}

func (b *faultBook) add(f clevertap.Fault) (clevertap.Fault, error) {
	if err := f.Validate(); err != nil {
		return clevertap.Fault{}, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.next++
	f.ID = "fault-" + strconv.Itoa(b.next)
	f.Applied = 0
	b.faults = append(b.faults, &f)
	return f, nil
}

func (b *faultBook) list() []clevertap.Fault {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]clevertap.Fault, 0, len(b.faults))
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
func (b *faultBook) take(endpoint, account string, region clevertap.Region) (clevertap.Fault, bool) {
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
	return clevertap.Fault{}, false
}

// applyFault answers the request with an injected fault when one matches; it reports whether it did. A delay
// fault is remembered and served by pause, an after-processing one by finish.
func (s *Server) applyFault(w http.ResponseWriter, r *http.Request, c *call) bool {
	f, ok := s.faults.take(c.entry.Endpoint, c.entry.Account, c.entry.Region)
	if !ok {
		return false
	}
	c.fault = &f
	if f.Action == clevertap.FaultDelay || f.AfterProcessing {
		return false
	}
	c.entry.Fault = f.ID
	c.diagnose("fault %s: %s", f.ID, f.Action)
	switch f.Action {
	case clevertap.FaultRespond:
		if f.DelayMS > 0 && !sleep(r.Context(), time.Duration(f.DelayMS)*time.Millisecond) {
			s.abandon(c)
		}
		body := []byte(f.Body)
		if f.Body == "" {
			body = envelope(f.Status, faultText(f.Status))
		}
		c.entry.Outcome, c.entry.Status, c.entry.Response = clevertap.OutcomeFault, f.Status, body
		w.Header().Set("X-Simulator-Request-Id", c.entry.RequestID)
		w.Header().Set("X-Simulator-Diagnosis", clip.Header(c.entry.Diagnosis))
		s.record(c)
		writeAnswer(w, f.Status, body)
	case clevertap.FaultReset:
		c.entry.Outcome = clevertap.OutcomeFault
		s.record(c)
		resetConnection(w)
	case clevertap.FaultMalformed:
		c.entry.Outcome, c.entry.Status = clevertap.OutcomeFault, http.StatusOK
		s.record(c)
		writeMalformed(w)
	}
	return true
}

// pause serves a delay fault. A client that goes away first is abandoned, after release (when given) gives back
// what the request holds.
func (s *Server) pause(r *http.Request, c *call, release func()) {
	if c.fault == nil || c.fault.Action != clevertap.FaultDelay {
		return
	}
	c.entry.Fault = c.fault.ID
	c.diagnose("fault %s: delayed %d ms", c.fault.ID, c.fault.DelayMS)
	if !sleep(r.Context(), time.Duration(c.fault.DelayMS)*time.Millisecond) {
		if release != nil {
			release()
		}
		s.abandon(c)
	}
}

// abandon ends a request whose client went away during a delay without an answer, journaled as client_gone.
// Returning would let net/http send a bare 200, and a client whose deadline raced it may take that for
// CleverTap's answer (net/http's transport hands back a response that arrives as the request's context ends).
func (s *Server) abandon(c *call) {
	c.entry.Fault = c.fault.ID
	c.entry.Outcome, c.entry.Status = clevertap.OutcomeClientGone, 0
	c.diagnose("the client hung up during the delay: no answer was written, nothing was stored")
	s.record(c)
	panic(http.ErrAbortHandler)
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
func (s *Server) faultAfterProcessing(c *call, status int) *clevertap.Fault {
	f := c.fault
	if f == nil || !f.AfterProcessing || (f.Action != clevertap.FaultReset && f.Action != clevertap.FaultMalformed) {
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
