package clevertap

import (
	"fmt"
	"net"
	"strings"
)

// Region is a CleverTap data centre code as it appears in API hostnames: eu1, in1, sg1, us1, aps3, mec1, sk1.
type Region string

// Regions lists every region the fake serves, in CleverTap's documentation order.
var Regions = []Region{"eu1", "in1", "sg1", "us1", "aps3", "mec1", "sk1"}

// DefaultRegion is where CleverTap sends a request made to the bare host api.clevertap.com.
const DefaultRegion Region = "eu1"

// apiDomain is the suffix of every CleverTap API host.
const apiDomain = "api.clevertap.com"

// legacyRegionHosts are host prefixes without the digit that old clients still use. Whether CleverTap still
// answers on them is UNCONFIRMED; the fake maps them to their region and says so in X-Simulator-Diagnosis.
var legacyRegionHosts = map[string]Region{"in": "in1", "sg": "sg1", "us": "us1", "eu": "eu1"}

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
		return apiDomain
	}
	return string(r) + "." + apiDomain
}

// Hostnames are every name the API answers on: api.clevertap.com, <region>.api.clevertap.com for each region
// (eu1 included) and the legacy in., sg. and us. hosts; a certificate for the fake covers them all.
func Hostnames() []string {
	hosts := []string{apiDomain}
	for _, r := range Regions {
		hosts = append(hosts, string(r)+"."+apiDomain)
	}
	return append(hosts, "in."+apiDomain, "sg."+apiDomain, "us."+apiDomain)
}

// RegionList is the comma-separated list of region codes, for error messages.
func RegionList() string {
	names := make([]string, len(Regions))
	for i, r := range Regions {
		names[i] = string(r)
	}
	return strings.Join(names, ", ")
}

// route is where a request is aimed: the region and the API path below any region prefix.
type route struct {
	region Region
	path   string
	// note explains a routing choice a human may want to know about (legacy host, path prefix).
	note string
	// unknownHost is set when the Host looks like CleverTap's but names no region: the real DNS would not resolve it.
	unknownHost string
}

// resolveRoute finds the region of a request: from the Host header when it is a CleverTap API host, otherwise
// from a /<region>/ path prefix, with a bare path meaning eu1 (design.md, "Region routing").
func resolveRoute(host, path string) route {
	h := strings.ToLower(host)
	if hostOnly, _, err := net.SplitHostPort(h); err == nil {
		h = hostOnly
	}
	h = strings.TrimSuffix(h, ".")
	if h == apiDomain {
		return route{region: DefaultRegion, path: path}
	}
	if prefix, ok := strings.CutSuffix(h, "."+apiDomain); ok {
		r := Region(prefix)
		if r.Valid() {
			return route{region: r, path: path}
		}
		if legacy, ok := legacyRegionHosts[prefix]; ok {
			return route{region: legacy, path: path,
				note: fmt.Sprintf("legacy host %s treated as %s (UNCONFIRMED that CleverTap still serves it)", host, legacy.Host())}
		}
		return route{path: path, unknownHost: host}
	}
	rest := strings.TrimPrefix(path, "/")
	first, tail, found := strings.Cut(rest, "/")
	if found && Region(first).Valid() {
		return route{region: Region(first), path: "/" + tail}
	}
	return route{region: DefaultRegion, path: path}
}
