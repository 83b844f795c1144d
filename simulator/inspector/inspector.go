// Package inspector is the simulator's face: a page under /_sim/inspector/ that shows what arrived as it arrives
// (every CleverTap and Piano request, a user's records and profile, faults, the relay's dead letters, scenario
// runs), and the live stream (/_sim/stream, Server-Sent Events) that the page and `simulator tail` read. The
// page is plain HTML, CSS and JavaScript embedded in the binary: no build step, no CDN, no third-party script.
package inspector

import (
	"crypto/rand"
	"embed"
	"encoding/hex"
	"io/fs"
	"net/http"
	"strings"
	"sync"

	"github.com/gorilla/mux"

	"github.com/ctharness/ctharness/internal/httpjson"
	"github.com/ctharness/ctharness/simulator/clevertap/fake"
	"github.com/ctharness/ctharness/simulator/piano"
)

//go:embed assets
var assets embed.FS

// Prefix is where the inspector's routes live.
const Prefix = "/_sim/inspector/"

// Inspector serves the page, the stream, and the relay and scenario panels.
type Inspector struct {
	ct      *fake.Server
	piano   *piano.Collector
	version string
	// instance names this simulator's run in the stream's event ids, so a reader can tell a restart
	instance string
	router   *mux.Router

	// stopping ends the live streams when the server shuts down (they would hold a graceful shutdown)
	stopping chan struct{}
	stopOnce sync.Once

	mu     sync.Mutex
	relay  *Relay
	player Player
	runs   []Run
}

// New is an inspector of the two fakes; the relay and scenario panels stay empty until SetRelay and SetPlayer.
func New(ct *fake.Server, p *piano.Collector, version string) *Inspector {
	i := &Inspector{ct: ct, piano: p, version: version, instance: newInstance(), router: mux.NewRouter(),
		stopping: make(chan struct{})}
	static, _ := fs.Sub(assets, "assets")
	r := i.router
	r.HandleFunc("/_sim/inspector/info", i.handleInfo).Methods(http.MethodGet)
	r.HandleFunc("/_sim/stream", i.handleStream).Methods(http.MethodGet)
	r.HandleFunc("/_sim/relay/{what:status|deadletters|webhooks}", i.handleRelay).Methods(http.MethodGet)
	r.HandleFunc("/_sim/relay/deadletters/{id}/retry", i.handleRelay).Methods(http.MethodPost)
	r.HandleFunc("/_sim/scenarios", i.handleScenarios).Methods(http.MethodGet)
	r.HandleFunc("/_sim/scenarios/play", i.handlePlay).Methods(http.MethodPost)
	r.PathPrefix(Prefix).Handler(http.StripPrefix(Prefix, pageHeaders(http.FileServerFS(static))))
	r.NotFoundHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		httpjson.Error(w, http.StatusNotFound, "no inspector route %s %s; the page is GET %s", r.Method, r.URL.Path,
			Prefix)
	})
	return i
}

// Shutdown ends the live streams: an http.Server calls it on Shutdown (RegisterOnShutdown), which otherwise waits
// for them. Their readers reconnect to whatever serves next.
func (i *Inspector) Shutdown() { i.stopOnce.Do(func() { close(i.stopping) }) }

// Owns says whether a request is for the inspector.
func (i *Inspector) Owns(r *http.Request) bool {
	p := r.URL.Path
	return strings.HasPrefix(p, Prefix) || p == "/_sim/inspector" || p == "/_sim/stream" ||
		strings.HasPrefix(p, "/_sim/relay/") || p == "/_sim/scenarios" || strings.HasPrefix(p, "/_sim/scenarios/")
}

func (i *Inspector) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/_sim/inspector" {
		http.Redirect(w, r, Prefix, http.StatusMovedPermanently)
		return
	}
	i.router.ServeHTTP(w, r)
}

// pageCSP lets the page load only its own files and talk only to its own origin, and no other site frame it (its
// faults and relay views have Reset and Retry buttons a framing page could trick a click onto).
const pageCSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'; object-src 'none'"

// pageHeaders: no framing, no type sniffing, only the page's own code; and no-cache, so that browsers do not hold
// an old page after an upgrade of the binary.
func pageHeaders(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hdr := w.Header()
		hdr.Set("Cache-Control", "no-cache")
		hdr.Set("Content-Security-Policy", pageCSP)
		hdr.Set("X-Content-Type-Options", "nosniff")
		hdr.Set("X-Frame-Options", "DENY")
		hdr.Set("Referrer-Policy", "no-referrer")
		h.ServeHTTP(w, r)
	})
}

// handleInfo tells the page what this simulator has: its version, whether a relay and scenarios are linked.
func (i *Inspector) handleInfo(w http.ResponseWriter, _ *http.Request) {
	i.mu.Lock()
	defer i.mu.Unlock()
	info := map[string]any{"version": i.version, "relay": nil, "scenarios": i.player != nil}
	if i.relay != nil {
		info["relay"] = map[string]any{"url": i.relay.URL, "dev_token": i.relay.DevToken}
	}
	httpjson.Write(w, http.StatusOK, info)
}

// WantsPage says whether a request is a browser's for the root of a host that is not CleverTap's: the inspector
// answers it (CleverTap's hosts keep answering exactly as CleverTap does).
func WantsPage(r *http.Request) bool {
	if r.Method != http.MethodGet || r.URL.Path != "/" || !strings.Contains(r.Header.Get("Accept"), "text/html") {
		return false
	}
	host := strings.ToLower(r.Host)
	if h, _, found := strings.Cut(host, ":"); found {
		host = h
	}
	return !strings.HasSuffix(host, "clevertap.com")
}

func newInstance() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
