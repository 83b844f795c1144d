// Package lifecycle models a store subscription as the stores run it (purchase, free trial or intro offer,
// renewals, auto-renew off and on, billing issues with grace period or billing retry, refund, product change,
// pause, transfer, resubscription) on a virtual clock, and records what happened as neutral facts. It knows
// nothing of any vendor: the emitters in simulator/sources render the facts into RevenueCat, Purchasely and
// AppsFlyer webhooks.
package lifecycle

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// Clock is the time a story runs on. Advance moves it forward: at once on a virtual clock, by really waiting on
// the wall clock.
type Clock interface {
	Now() time.Time
	Advance(ctx context.Context, d time.Duration) error
}

// VirtualClock is the instant mode for tests: time moves only when advanced, and advancing never waits.
type VirtualClock struct {
	mu  sync.Mutex
	now time.Time
}

// NewVirtualClock starts a virtual clock at start.
func NewVirtualClock(start time.Time) *VirtualClock { return &VirtualClock{now: start.UTC()} }

// Now is the clock's time.
func (c *VirtualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d without waiting.
func (c *VirtualClock) Advance(ctx context.Context, d time.Duration) error {
	if d < 0 {
		return fmt.Errorf("advance: expected a duration of zero or more, got %s", d)
	}
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
	return ctx.Err()
}

// WallClock is real time: Advance sleeps (e.g. a sandbox story shown live, where a month lasts five minutes).
type WallClock struct{}

// Now is the current time.
func (WallClock) Now() time.Time { return time.Now().UTC() }

// Advance waits d or until the context ends.
func (WallClock) Advance(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// ScaledWallClock is real time compressed by Factor: Advance(5m) with Factor 0.01 waits 3 s. The emit command uses
// it to follow a vendor's retry schedule in a watchable time.
type ScaledWallClock struct {
	Factor float64
	start  time.Time
	mu     sync.Mutex
	offset time.Duration
}

// Now is the start time plus the virtual time advanced so far.
func (c *ScaledWallClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.start.IsZero() {
		c.start = time.Now().UTC()
	}
	return c.start.Add(c.offset)
}

// Advance waits d × Factor of real time and moves the clock by d.
func (c *ScaledWallClock) Advance(ctx context.Context, d time.Duration) error {
	if err := (WallClock{}).Advance(ctx, time.Duration(float64(d)*c.Factor)); err != nil {
		return err
	}
	c.Now()
	c.mu.Lock()
	c.offset += d
	c.mu.Unlock()
	return nil
}

// TimeScale says how long a store period really lasts: the production length, or a store's sandbox length.
type TimeScale string

const (
	RealTime        TimeScale = "real-time"
	AppStoreSandbox TimeScale = "appstore-sandbox"
	PlayTest        TimeScale = "play-test"
)

// sandboxLengths are the stores' published sandbox renewal rates. App Store sandbox: 3 days → 2 min,
// 1 week → 3 min, 1 month → 5 min, 2 months → 10 min, 3 months → 15 min, 6 months → 30 min, 1 year → 1 h.
// Play license testers: 1 week → 5 min, 1 month → 5 min, 3 months → 10 min, 6 months → 15 min, 1 year → 30 min
// (free trials and grace periods there last 3 and 5 minutes).
var sandboxLengths = map[TimeScale]map[Period]time.Duration{
	AppStoreSandbox: {"P3D": 2 * time.Minute, "P1W": 3 * time.Minute, "P1M": 5 * time.Minute, "P2M": 10 * time.Minute,
		"P3M": 15 * time.Minute, "P6M": 30 * time.Minute, "P1Y": time.Hour},
	PlayTest: {"P3D": 3 * time.Minute, "P1W": 5 * time.Minute, "P1M": 5 * time.Minute, "P3M": 10 * time.Minute,
		"P6M": 15 * time.Minute, "P1Y": 30 * time.Minute},
}

// Length is how long period lasts on this scale; periods a store has no sandbox rate for are scaled like a
// month (a month lasting five minutes).
func (s TimeScale) Length(p Period) (time.Duration, error) {
	real, err := p.Duration()
	if err != nil {
		return 0, err
	}
	lengths, ok := sandboxLengths[s]
	if !ok {
		return real, nil
	}
	if d, ok := lengths[p]; ok {
		return d, nil
	}
	month := 30 * 24 * time.Hour
	return time.Duration(float64(real) / float64(month) * float64(5*time.Minute)), nil
}

// ScaleFor is the time scale a store uses for an environment.
func ScaleFor(store Store, env Environment) TimeScale {
	if env != Sandbox {
		return RealTime
	}
	if store == PlayStore {
		return PlayTest
	}
	return AppStoreSandbox
}
