package fake

import (
	"fmt"
	"net"
	"strings"

	"github.com/ctharness/ctharness/simulator/clevertap"
)

// legacyRegionHosts are host prefixes without the digit that old clients still use. Whether CleverTap still
// answers on them is UNCONFIRMED; the fake maps them to their region and says so in X-Simulator-Diagnosis.
var legacyRegionHosts = map[string]clevertap.Region{"in": "in1", "sg": "sg1", "us": "us1", "eu": "eu1"}

// route is where a request is aimed: the region and the API path below any region prefix.
type route struct {
	region clevertap.Region
	path   string
	// note explains a routing choice a human may want to know about (legacy host, path prefix).
	note string
	// unknownHost is set when the Host looks like CleverTap's but names no region: the real DNS would not resolve it.
	unknownHost string
}

// resolveRoute finds the region of a request: from the Host header when it is a CleverTap API host, otherwise
// from a /<region>/ path prefix, with a bare path meaning eu1 (docs/clevertap-api.md, "Region routing").
func resolveRoute(host, path string) route {
	h := strings.ToLower(host)
	if hostOnly, _, err := net.SplitHostPort(h); err == nil {
		h = hostOnly
	}
	h = strings.TrimSuffix(h, ".")
	if h == clevertap.APIDomain {
		return route{region: clevertap.DefaultRegion, path: path}
	}
	if prefix, ok := strings.CutSuffix(h, "."+clevertap.APIDomain); ok {
		r := clevertap.Region(prefix)
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
	if found && clevertap.Region(first).Valid() {
		return route{region: clevertap.Region(first), path: "/" + tail}
	}
	return route{region: clevertap.DefaultRegion, path: path}
}

// RegionOf is the region a request to this host and path is for, as the fake routes it (host, then path
// prefix); ok is false for a host that looks like CleverTap's but names no region.
func RegionOf(host, path string) (region clevertap.Region, ok bool) {
	rt := resolveRoute(host, path)
	return rt.region, rt.unknownHost == ""
}

// APIPath is the path below any /<region>/ prefix: what the request asks of the region's host.
func APIPath(host, path string) string { return resolveRoute(host, path).path }
