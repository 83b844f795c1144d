package clevertap

import (
	"fmt"
	"slices"
	"strings"
)

// Region is a CleverTap data centre code as it appears in API hostnames: eu1, in1, sg1, us1, aps3, mec1, sk1.
type Region string

// Regions lists every region the fake serves, in CleverTap's documentation order.
var Regions = []Region{"eu1", "in1", "sg1", "us1", "aps3", "mec1", "sk1"}

// DefaultRegion is where CleverTap sends a request made to the bare host api.clevertap.com.
const DefaultRegion Region = "eu1"

// APIDomain is the suffix of every CleverTap API host.
const APIDomain = "api.clevertap.com"

// ParseRegion accepts a region code in any case ("EU1", "eu1") and rejects anything else, naming the valid ones.
func ParseRegion(s string) (Region, error) {
	r := Region(strings.ToLower(strings.TrimSpace(s)))
	if r.Valid() {
		return r, nil
	}
	return "", fmt.Errorf("unknown region %q: expected one of %s", s, RegionList())
}

// Valid reports whether r is one of Regions.
func (r Region) Valid() bool {
	for _, known := range Regions {
		if r == known {
			return true
		}
	}
	return false
}

// Host is the production API host of the region, as CleverTap's own table spells it.
func (r Region) Host() string {
	if r == DefaultRegion {
		return APIDomain
	}
	return string(r) + "." + APIDomain
}

// Hostnames are every name the API answers on: api.clevertap.com, <region>.api.clevertap.com for each region
// (eu1 included) and the legacy in., sg. and us. hosts; a certificate for the fake covers them all.
func Hostnames() []string {
	hosts := []string{APIDomain}
	for _, r := range Regions {
		hosts = append(hosts, string(r)+"."+APIDomain)
	}
	return append(hosts, "in."+APIDomain, "sg."+APIDomain, "us."+APIDomain)
}

// RegionList is the comma-separated list of region codes, for error messages.
func RegionList() string {
	names := make([]string, len(Regions))
	for i, r := range Regions {
		names[i] = string(r)
	}
	return strings.Join(names, ", ")
}

// endpoints are the names the journal and faults give CleverTap's API routes, each once, in the order of CleverTap's
// API reference: writes, then reads, then identity management.
var endpoints = []string{"upload", "profile", "delete", "attribution", "events", "profiles", "counts", "now",
	"disassociate", "subscribe", "demerge"}

// Endpoints lists the endpoint names of the fake's routes, as /_sim/requests?endpoint= and faults take them.
func Endpoints() []string { return slices.Clone(endpoints) }
