package harness

import (
	"github.com/ctharness/ctharness/relay"
	"github.com/ctharness/ctharness/relay/config"
	"github.com/ctharness/ctharness/simulator/sources"
)

// Credential is what a relay source expects from its vendor, in the form the vendor's emitter sends it (the zero
// Credential for a nil source). The relay and the emitters share no code; this is where they meet.
func Credential(src relay.Source) sources.Credential {
	if src == nil {
		return sources.Credential{}
	}
	c := src.Credential()
	return sources.Credential{Value: c.Value, Header: c.Header}
}

// DefaultCredential is what the default relay config expects from a vendor (make run, compose, the suites).
func DefaultCredential(vendor string) sources.Credential {
	built, err := config.Default().Build()
	if err != nil {
		panic(err) // the embedded default config is tested to build
	}
	return Credential(built.Source(vendor))
}
