// Package adminguard keeps the admin routes of the simulator and the relay, local developer tools, out of reach
// of the web pages their user opens. Two attacks are refused:
//
//   - DNS rebinding: a page on a name the attacker controls re-resolves that name to 127.0.0.1 and then reads
//     the tool as same-origin. Its requests carry the attacker's name in Host, so admin routes answer only Host
//     values that cannot be rebound: loopback names, IP addresses, and names the user admits.
//   - Cross-site requests that change state: a form or a no-cors fetch may POST to any address without asking.
//     A state change needs Content-Type: application/json, which a browser sends across sites only after a
//     preflight this package never grants, and is refused when Origin or Sec-Fetch-Site says another site sent it.
//
// See https://developer.mozilla.org/en-US/docs/Web/Security/Attacks/CSRF and
// https://developer.mozilla.org/en-US/docs/Web/HTTP/Reference/Headers/Sec-Fetch-Site.
package adminguard

import (
	"fmt"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strings"

	"github.com/ctharness/ctharness/internal/clip"
	"github.com/ctharness/ctharness/internal/httpjson"
)

// Flag is the command-line flag that admits more Host names; refusals name it. FlagHelp is its help text.
const (
	Flag     = "--allowed-hosts"
	FlagHelp = "Host names the admin routes answer besides loopback names and IP addresses, comma-separated " +
		"(a name, .domain for the names below it, * for any): what a page on another name that resolves here " +
		"cannot reach"
)

// Guard decides which requests may reach admin routes. The zero value admits loopback names and IP addresses.
type Guard struct {
	names    []string // exact names, lower case, no port
	suffixes []string // ".example.test" admits every name below example.test
	any      bool     // "*": every Host (behind the user's own proxy, say)
}

// New admits, besides loopback names and IP addresses, each entry: a name, ".domain" for every name below it, or
// "*" for any Host. Entries may carry a port (ignored) and may be comma-separated lists, as a flag gives them.
func New(entries ...string) (*Guard, error) {
	g := &Guard{}
	for _, list := range entries {
		for _, e := range strings.Split(list, ",") {
			e = strings.ToLower(strings.TrimSpace(e))
			switch {
			case e == "":
			case e == "*":
				g.any = true
			case strings.ContainsAny(e, "/@?#") || strings.Contains(e, "://"):
				return nil, fmt.Errorf("%s: expected host names like simulator or .example.test, got %q", Flag, e)
			case strings.HasPrefix(e, "."):
				g.suffixes = append(g.suffixes, strings.TrimSuffix(e, "."))
			default:
				g.names = append(g.names, hostname(e))
			}
		}
	}
	return g, nil
}

// MustNew is New for entries known to be valid (the caller's own constants).
func MustNew(entries ...string) *Guard {
	g, err := New(entries...)
	if err != nil {
		panic(err)
	}
	return g
}

// hostname is a Host value without its port, brackets and trailing dot, in lower case.
func hostname(host string) string {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	return strings.TrimSuffix(strings.ToLower(host), ".")
}

// AllowsHost says whether admin routes answer a request with this Host value.
func (g *Guard) AllowsHost(host string) bool {
	if g == nil {
		g = &Guard{}
	}
	name := hostname(host)
	switch {
	case g.any, name == "", net.ParseIP(name) != nil:
		return true // an address cannot be rebound: a page that uses it is on another origin
	case name == "localhost", strings.HasSuffix(name, ".localhost"): // RFC 6761: always loopback
		return true
	}
	for _, n := range g.names {
		if n == name {
			return true
		}
	}
	for _, s := range g.suffixes {
		if strings.HasSuffix(name, s) {
			return true
		}
	}
	return false
}

// Refusal is why a request may not reach an admin route (status 0: it may). Safe methods are checked for their
// Host only; a state change must also come from the tool's own pages or a program, as JSON.
func (g *Guard) Refusal(r *http.Request) (status int, reason string) {
	if !g.AllowsHost(r.Host) {
		return http.StatusForbidden, fmt.Sprintf("expected a Host this tool's admin routes answer (loopback "+
			"names and addresses, and the names given to %s), got %q: a web page on a name that resolves here "+
			"could otherwise read and change it; admit the name with %s %s", Flag, clip.Text(r.Host, 100), Flag,
			clip.Text(hostname(r.Host), 100))
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return 0, ""
	}
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" && site != "none" {
		return http.StatusForbidden, fmt.Sprintf("expected a request from this tool's own pages or a program, "+
			"got one a browser marks Sec-Fetch-Site: %s: another site cannot change this tool's state",
			clip.Text(site, 40))
	}
	if origin := r.Header.Get("Origin"); origin != "" && !sameOrigin(origin, r.Host) {
		return http.StatusForbidden, fmt.Sprintf("expected a request from this tool's own pages or a program, "+
			"got one from Origin %q: another site cannot change this tool's state", clip.Text(origin, 100))
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		return http.StatusUnsupportedMediaType, fmt.Sprintf("expected Content-Type: application/json on a "+
			"request that changes state (even with no body), got %q", clip.Text(r.Header.Get("Content-Type"), 100))
	}
	return 0, ""
}

// sameOrigin says whether an Origin header names the host (and port) the request was sent to.
func sameOrigin(origin, host string) bool {
	u, err := url.Parse(origin)
	return err == nil && u.Host != "" && strings.EqualFold(u.Host, host)
}

// Wrap answers a refused request {"error": reason} and passes the others to next.
func (g *Guard) Wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if status, reason := g.Refusal(r); status != 0 {
			httpjson.Error(w, status, "%s", reason)
			return
		}
		next.ServeHTTP(w, r)
	})
}
