// Package vendors is the registry of the vendors the harness plays: the one list of emitters. Everything that
// works per vendor (scenarios, `simulator emit` and `load`, the load generator) loops over it or looks a vendor up
// by name; nothing else names a vendor. Adding a vendor: its emitter package under simulator/sources, one line
// here, its relay package with one field in relay/config's Sources, scenarios and README rows.
package vendors

import (
	"fmt"
	"strings"

	"github.com/ctharness/ctharness/simulator/sources"
	"github.com/ctharness/ctharness/simulator/sources/appsflyer"
	"github.com/ctharness/ctharness/simulator/sources/purchasely"
	"github.com/ctharness/ctharness/simulator/sources/revenuecat"
)

// All are the vendors, in the order reports and help list them.
var All = []sources.Emitter{revenuecat.Emitter{}, purchasely.Emitter{}, appsflyer.Emitter{}}

// Names are the vendors' names, in order.
func Names() []string {
	out := make([]string, len(All))
	for i, e := range All {
		out[i] = e.Info().Name
	}
	return out
}

// Lookup finds a vendor by name; the error names the known ones.
func Lookup(name string) (sources.Emitter, error) {
	for _, e := range All {
		if e.Info().Name == name {
			return e, nil
		}
	}
	return nil, fmt.Errorf("unknown source %q: expected one of %s", name, strings.Join(Names(), ", "))
}
