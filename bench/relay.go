package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/ctharness/ctharness/harness"
	"github.com/ctharness/ctharness/simulator/load"
)

// recordsStored is how many records the fake has accepted since it started (kept plus dropped by its limit).
func recordsStored(ctx context.Context, simulatorURL string) (int, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, simulatorURL+"/_sim/health", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var h struct {
		Events        int `json:"events"`
		EventsDropped int `json:"events_dropped"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&h); err != nil {
		return 0, fmt.Errorf("simulator health: %w", err)
	}
	return h.Events + h.EventsDropped, nil
}

// waitStored waits until the fake holds want records and returns when that was seen.
func waitStored(ctx context.Context, simulatorURL string, want int, timeout time.Duration) (time.Time, error) {
	deadline := time.Now().Add(timeout)
	for {
		n, err := recordsStored(ctx, simulatorURL)
		if err == nil && n >= want {
			return time.Now(), nil
		}
		if time.Now().After(deadline) {
			return time.Time{},
				fmt.Errorf("after %s the fake holds %d records, expected %d: the relay did not deliver everything it acknowledged",
					timeout, n, want)
		}
		select {
		case <-ctx.Done():
			return time.Time{}, ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// relayRun is one load through a target, with what was delivered when.
type relayRun struct {
	report load.Report
	// sustained is acknowledged webhooks per second from the first send until the fake held all of them (for the
	// no-op baseline, until the last answer).
	sustained float64
	// cpu is the CPU time the target process used a webhook acknowledged, in µs; cpuErr says why it is 0.
	cpu    float64
	cpuErr error
}

// withCPU runs a load and notes the CPU time the target process (pid) used during it, a webhook.
func withCPU(pid int, run func() (relayRun, error)) (relayRun, error) {
	before, beforeErr := harness.ProcessCPU(pid)
	r, err := run()
	if err != nil {
		return r, err
	}
	after, afterErr := harness.ProcessCPU(pid)
	switch {
	case beforeErr != nil:
		r.cpuErr = beforeErr
	case afterErr != nil:
		r.cpuErr = afterErr
	case r.report.Acked == 0:
		r.cpuErr = errors.New("no webhook was acknowledged")
	default:
		r.cpu = float64(after-before) / float64(time.Microsecond) / float64(r.report.Acked)
	}
	return r, nil
}

// runLoad sends a load to target; when simulatorURL is set it waits until the fake holds stored+acked records.
// onAcked, when set, runs once after `at` webhooks were acknowledged.
func runLoad(ctx context.Context, o load.Options, simulatorURL string, at int, onAcked func()) (relayRun, error) {
	before := 0
	if simulatorURL != "" {
		var err error
		if before, err = recordsStored(ctx, simulatorURL); err != nil {
			return relayRun{}, err
		}
	}
	var acked atomic.Int64
	if onAcked != nil {
		o.OnResult = func(r load.Result) {
			if r.Acked && acked.Add(1) == int64(at) {
				onAcked()
			}
		}
	}
	start := time.Now()
	rep, err := load.Run(ctx, o)
	if err != nil {
		return relayRun{}, err
	}
	if rep.Refused > 0 {
		return relayRun{}, fmt.Errorf("%d of %d webhooks to %s were not acknowledged (answers %v)", rep.Refused, rep.Sent,
			o.Target, rep.Statuses)
	}
	end := start.Add(rep.Elapsed)
	if simulatorURL != "" {
		if end, err = waitStored(ctx, simulatorURL, before+rep.Acked, 2*time.Minute); err != nil {
			return relayRun{}, err
		}
	}
	return relayRun{report: rep, sustained: float64(rep.Acked) / end.Sub(start).Seconds()}, nil
}
