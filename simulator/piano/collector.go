// Package piano is a fake Piano Analytics (formerly AT Internet) collector: POST /<path>?s=<site>&idclient=<id>
// with {"events":[{"name","data"}]} (or GET with &events=), answered 204. Each site has a data model; events whose
// name is neither a Piano standard event nor declared for the site are accepted on the wire and ignored, as Piano
// does, and the collector records why.
package piano

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ctharness/ctharness/internal/clip"
)

// Site is one Piano site and its data model.
type Site struct {
	// ID is the numeric site id sent as ?s=.
	ID string `json:"id" yaml:"id"`
	// Domain is the collection domain requests for this site are sent to.
	Domain string `json:"domain" yaml:"domain"`
	// Events are the custom event names declared in Data Management; standard events are always accepted.
	Events []string `json:"events" yaml:"events"`
	// Properties, when set, are the declared property keys; others are kept but flagged "unexpected".
	Properties []string `json:"properties,omitempty" yaml:"properties,omitempty"`
}

// Validate names the first wrong field.
func (s Site) Validate() error {
	if _, err := strconv.ParseUint(s.ID, 10, 64); err != nil {
		return fmt.Errorf("id: expected a numeric site id such as 100001, got %q", s.ID)
	}
	if strings.TrimSpace(s.Domain) == "" {
		return fmt.Errorf(
			"domain: expected the collection domain of site %s, such as collect.piano.test, got an empty string", s.ID)
	}
	return nil
}

// DefaultDomain is the collection domain of the default site.
const DefaultDomain = "collect.piano.test"

// DefaultSites is the site the relay's default config sends Purchasely events to: the ten events Purchasely
// lists for Piano, declared under their default (Purchasely) names.
func DefaultSites() []Site {
	return []Site{{
		ID:     "100001",
		Domain: DefaultDomain,
		Events: []string{"SUBSCRIPTION_STARTED", "SUBSCRIPTION_RENEWED", "SUBSCRIPTION_EXPIRED", "SUBSCRIPTION_REACTIVATED",
			"SUBSCRIPTION_REFUNDED_REVOKED", "RENEWAL_DISABLED", "RENEWAL_ENABLED", "TRIAL_STARTED", "TRIAL_CONVERTED",
			"TRIAL_NOT_CONVERTED"},
	}}
}

// standardEvents are Piano's own event names, accepted on every site.
var standardEvents = []string{
	"page.display", "click.action", "click.navigation", "click.download", "click.exit",
	"transaction.confirmation", "product.display", "product.page_display", "product.add_to_cart",
	"product.remove_from_cart", "product.purchased", "cart.creation", "cart.display", "cart.update",
	"cart.delivery", "cart.payment", "cart.awaiting_payment", "internal_search_result.display",
	"internal_search_result.click", "publisher.impression", "publisher.click", "self_promotion.impression",
	"self_promotion.click", "mv_test.display", "av.play", "av.start", "av.stop", "av.pause",
}

// maxPropertyKey is Piano's property key limit.
const maxPropertyKey = 40

// Options configure a Collector.
type Options struct {
	Sites []Site
	// Limit bounds stored hits and journaled requests (default 100000 and 10000); JournalBytes the journal's
	// memory (default 64 MiB).
	Limit        int
	JournalLimit int
	JournalBytes int64
	Now          func() time.Time
}

// Collector is the fake Piano collector; safe for concurrent use.
type Collector struct {
	now     func() time.Time
	mu      sync.Mutex
	sites   map[string]Site
	domains map[string]bool
	reqs    uint64
	store   *store
	admin   http.Handler
}

// New builds a collector; it fails on an invalid site.
func New(opts Options) (*Collector, error) {
	if opts.Sites == nil {
		opts.Sites = DefaultSites()
	}
	if opts.Limit <= 0 {
		opts.Limit = 100000
	}
	if opts.JournalLimit <= 0 {
		opts.JournalLimit = 10000
	}
	if opts.JournalBytes <= 0 {
		opts.JournalBytes = 64 << 20
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	c := &Collector{now: opts.Now, sites: map[string]Site{}, domains: map[string]bool{},
		store: newStore(opts.Limit, opts.JournalLimit, opts.JournalBytes)}
	c.admin = c.adminRoutes()
	for i, s := range opts.Sites {
		if err := c.PutSite(s); err != nil {
			return nil, fmt.Errorf("piano.sites[%d]: %w", i, err)
		}
	}
	return c, nil
}

// PutSite creates or replaces a site.
func (c *Collector) PutSite(s Site) error {
	if err := s.Validate(); err != nil {
		return err
	}
	s.Domain = strings.ToLower(s.Domain)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sites[s.ID] = s
	c.domains[s.Domain] = true
	return nil
}

// Sites lists the configured sites.
func (c *Collector) Sites() []Site {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]Site, 0, len(c.sites))
	for _, s := range c.sites {
		out = append(out, s)
	}
	slices.SortFunc(out, func(a, b Site) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// PathPrefix routes requests on any host to the collector.
const PathPrefix = "/piano/"

// Owns reports whether a request is for the collector: its Host is a collection domain, or its path starts with
// /piano/.
func (c *Collector) Owns(r *http.Request) bool {
	if strings.HasPrefix(r.URL.Path, PathPrefix) {
		return true
	}
	host := strings.ToLower(r.Host)
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.domains[host]
}

// collectedEvent is one entry of the events array.
type collectedEvent struct {
	Name json.RawMessage `json:"name"`
	Data json.RawMessage `json:"data"`
}

// AdminPrefix is where the collector's admin routes live, on any host.
const AdminPrefix = "/_sim/piano/"

// ServeHTTP serves the admin routes under AdminPrefix and the collection endpoint everywhere else.
func (c *Collector) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, AdminPrefix) {
		c.admin.ServeHTTP(w, r)
		return
	}
	c.collect(w, r)
}

// collect is the collection endpoint.
func (c *Collector) collect(w http.ResponseWriter, r *http.Request) {
	c.mu.Lock()
	c.reqs++
	req := Request{RequestID: "piano-" + strconv.FormatUint(c.reqs, 10), ReceivedAt: c.now().UTC(), Method: r.Method,
		Host: clip.Text(r.Host, 256), Path: clip.Text(r.URL.Path, 2<<10)}
	c.mu.Unlock()
	w.Header().Set("X-Simulator-Request-Id", req.RequestID)
	fail := func(status int, format string, args ...any) {
		req.Status = status
		req.Diagnosis = clip.Note(req.Diagnosis, fmt.Sprintf(format, args...))
		c.store.record(req, nil)
		last := req.Diagnosis[len(req.Diagnosis)-1]
		w.Header().Set("X-Simulator-Diagnosis", clip.Header([]string{last}))
		http.Error(w, last, status)
	}
	path := strings.TrimPrefix(r.URL.Path, strings.TrimSuffix(PathPrefix, "/"))
	if !strings.HasPrefix(r.URL.Path, PathPrefix) {
		path = r.URL.Path
	}
	if strings.Trim(path, "/") == "" {
		fail(http.StatusBadRequest, "expected a collect path such as /event, got %q", r.URL.Path)
		return
	}
	q := r.URL.Query()
	site, idclient := q.Get("s"), q.Get("idclient")
	req.Site = site
	if _, err := strconv.ParseUint(site, 10, 64); err != nil {
		fail(http.StatusBadRequest, "expected a numeric site id in ?s=, got %q", site)
		return
	}
	events, status, refusal := readEvents(r)
	if status != 0 {
		fail(status, "%s", refusal)
		return
	}
	if idclient == "" {
		req.Diagnosis = clip.Note(req.Diagnosis,
			"no idclient: Piano will generate a visitor id, so these events are tied to no known user")
	}
	c.mu.Lock()
	s, known := c.sites[site]
	c.mu.Unlock()
	if known && !strings.HasPrefix(r.URL.Path, PathPrefix) && !strings.EqualFold(hostOnly(r.Host), s.Domain) {
		req.Diagnosis = clip.Note(req.Diagnosis, fmt.Sprintf("site %s collects on %s, this request went to %s", site,
			s.Domain, r.Host))
	}
	hits := make([]Hit, 0, len(events))
	for _, e := range events {
		h := judge(e, s, known, Hit{Site: site, IDClient: idclient, Path: path, ReceivedAt: req.ReceivedAt,
			RequestID: req.RequestID, Data: e.Data})
		if h.Ignored {
			req.Ignored++
			req.Diagnosis = clip.Note(req.Diagnosis, "ignored: "+h.Reason)
		} else {
			req.Accepted++
		}
		hits = append(hits, h)
	}
	req.Status = http.StatusNoContent
	c.store.record(req, hits)
	if len(req.Diagnosis) > 0 {
		w.Header().Set("X-Simulator-Diagnosis", clip.Header(req.Diagnosis))
	}
	w.WriteHeader(http.StatusNoContent)
}

// readEvents reads a hit's events from a POST body or a GET's ?events=; a refusal is its status and words.
func readEvents(r *http.Request) ([]collectedEvent, int, string) {
	var raw []byte
	switch r.Method {
	case http.MethodPost:
		body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, 1<<20))
		if err != nil {
			return nil, http.StatusRequestEntityTooLarge, fmt.Sprintf("body larger than 1 MiB or unreadable: %v", err)
		}
		var envelope struct {
			Events json.RawMessage `json:"events"`
		}
		if err := json.Unmarshal(body, &envelope); err != nil {
			return nil, http.StatusBadRequest, fmt.Sprintf("expected a body {\"events\":[{\"name\":...,\"data\":"+
				"{...}}]}, got something that is not that JSON: %v", err)
		}
		raw = envelope.Events
	case http.MethodGet:
		raw = []byte(r.URL.Query().Get("events"))
	default:
		return nil, http.StatusMethodNotAllowed, fmt.Sprintf("expected POST (or GET with &events=), got %s",
			r.Method)
	}
	var events []collectedEvent
	if err := json.Unmarshal(raw, &events); err != nil || len(raw) == 0 {
		return nil, http.StatusBadRequest, fmt.Sprintf("expected \"events\" to be an array of {\"name\",\"data\"}, "+
			"got %s", clip.Text(string(raw), 120))
	}
	return events, 0, ""
}

// judge is what the collector makes of one event: a hit, ignored (with the reason) unless it has a name, an object
// of data and a place in the site's data model; properties the model does not declare are listed.
func judge(e collectedEvent, s Site, known bool, h Hit) Hit {
	if len(h.Data) == 0 {
		h.Data = json.RawMessage("{}")
	}
	var data map[string]json.RawMessage
	nameErr := json.Unmarshal(e.Name, &h.Name)
	switch {
	case nameErr != nil || h.Name == "":
		h.Ignored, h.Reason = true, "event has no name string"
	case json.Unmarshal(h.Data, &data) != nil:
		h.Ignored, h.Reason = true, "event data is not a JSON object"
	case !known:
		h.Ignored, h.Reason = true, fmt.Sprintf("site %s is not configured in the simulator", h.Site)
	case !slices.Contains(standardEvents, h.Name) && !slices.Contains(s.Events, h.Name):
		h.Ignored, h.Reason = true,
			fmt.Sprintf("event %q is neither a Piano standard event nor declared in site %s's data model",
				clip.Text(h.Name, 200), h.Site)
	}
	for k := range data {
		if len(k) > maxPropertyKey || (len(s.Properties) > 0 && !slices.Contains(s.Properties, k)) {
			h.Unexpected = append(h.Unexpected, clip.Text(k, 200))
		}
	}
	slices.Sort(h.Unexpected)
	return h
}

func hostOnly(host string) string {
	if h, _, err := net.SplitHostPort(host); err == nil {
		return h
	}
	return host
}
