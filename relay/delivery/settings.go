package delivery

import (
	"fmt"
	"time"
)

// Settings tune delivery.
type Settings struct {
	// CleverTapEndpoint is the host template: https://{region}.api.clevertap.com in production,
	// http://127.0.0.1:8081/{region} against the simulator.
	CleverTapEndpoint string `yaml:"-"`
	// PianoEndpoint is the collect server template: https://{domain} in production.
	PianoEndpoint string `yaml:"-"`
	// MaxBatch is the most records per upload (CleverTap allows 1000).
	MaxBatch int `yaml:"max_batch"`
	// PianoMaxBatch is the most events per Piano request.
	PianoMaxBatch int `yaml:"piano_max_batch"`
	// MaxConcurrentPerAccount caps requests in flight per account (CleverTap refuses beyond 15).
	MaxConcurrentPerAccount int `yaml:"max_concurrent_per_account"`
	// MaxPartialUploads caps the uploads of fewer than MaxBatch records in flight per destination (default 1):
	// while one is out, the jobs that arrive wait for it and leave together, so uploads grow with the load
	// instead of splitting it into many small ones (Nagle's rule, RFC 896, for uploads). A full batch never waits.
	MaxPartialUploads int `yaml:"max_partial_uploads"`
	// MinBackoff and MaxBackoff bound the wait after a failed request; it doubles per consecutive failure.
	MinBackoff time.Duration `yaml:"min_backoff"`
	MaxBackoff time.Duration `yaml:"max_backoff"`
	// MaxAttempts is how many failed tries a job gets before it goes to the dead letters.
	MaxAttempts int `yaml:"max_attempts"`
	// Window is how many jobs per destination delivery holds in memory (default 10000); the rest wait in the
	// outbox on disk, so memory stays bounded whatever the backlog.
	Window int `yaml:"window"`
	// Timeout bounds one request.
	Timeout time.Duration `yaml:"timeout"`
	// AfterCrash is what happens to jobs that were in an upload when the relay stopped without shutting down
	// (kill -9, power loss): CleverTap may or may not have them, and its upload API has no idempotency key.
	// "hold" (default) moves them to the dead letters to be checked and retried, so nothing is sent twice;
	// "resend" sends them again, so nothing waits for a human but some may arrive twice.
	AfterCrash string `yaml:"after_crash"`
}

// After-crash policies.
const (
	AfterCrashHold   = "hold"
	AfterCrashResend = "resend"
)

// Defaults fills what is unset.
func (s *Settings) Defaults() {
	if s.MaxBatch == 0 {
		s.MaxBatch = 1000
	}
	if s.PianoMaxBatch == 0 {
		s.PianoMaxBatch = 50
	}
	if s.MaxConcurrentPerAccount == 0 {
		s.MaxConcurrentPerAccount = 10
	}
	if s.MaxPartialUploads == 0 {
		s.MaxPartialUploads = 1
	}
	if s.MinBackoff == 0 {
		s.MinBackoff = time.Second
	}
	if s.MaxBackoff == 0 {
		s.MaxBackoff = 5 * time.Minute
	}
	if s.MaxAttempts == 0 {
		s.MaxAttempts = 15
	}
	if s.Window == 0 {
		s.Window = 10000
	}
	if s.Timeout == 0 {
		s.Timeout = 30 * time.Second
	}
	if s.AfterCrash == "" {
		s.AfterCrash = AfterCrashHold
	}
}

// Validate names the first wrong key under prefix.
func (s Settings) Validate(prefix string) error {
	switch {
	case s.MaxBatch < 1 || s.MaxBatch > 1000:
		return fmt.Errorf("%s.max_batch: expected 1 to 1000 (CleverTap's limit per upload), got %d", prefix, s.MaxBatch)
	case s.PianoMaxBatch < 1:
		return fmt.Errorf("%s.piano_max_batch: expected at least 1, got %d", prefix, s.PianoMaxBatch)
	case s.MaxConcurrentPerAccount < 1 || s.MaxConcurrentPerAccount > 15:
		return fmt.Errorf("%s.max_concurrent_per_account: expected 1 to 15 (CleverTap answers 429 beyond 15), got %d", prefix,
			s.MaxConcurrentPerAccount)
	case s.MaxPartialUploads < 1 || s.MaxPartialUploads > s.MaxConcurrentPerAccount:
		return fmt.Errorf("%s.max_partial_uploads: expected 1 to max_concurrent_per_account (%d), got %d", prefix,
			s.MaxConcurrentPerAccount, s.MaxPartialUploads)
	case s.MinBackoff <= 0 || s.MaxBackoff < s.MinBackoff:
		return fmt.Errorf("%s.min_backoff/max_backoff: expected 0 < min_backoff ≤ max_backoff, got %s and %s", prefix,
			s.MinBackoff, s.MaxBackoff)
	case s.MaxAttempts < 1:
		return fmt.Errorf("%s.max_attempts: expected at least 1, got %d", prefix, s.MaxAttempts)
	case s.Window < s.MaxBatch:
		return fmt.Errorf("%s.window: expected at least max_batch (%d), got %d", prefix, s.MaxBatch, s.Window)
	case s.Timeout <= 0:
		return fmt.Errorf("%s.timeout: expected a positive duration, got %s", prefix, s.Timeout)
	case s.AfterCrash != AfterCrashHold && s.AfterCrash != AfterCrashResend:
		return fmt.Errorf("%s.after_crash: expected hold or resend, got %q", prefix, s.AfterCrash)
	}
	return nil
}
