package piano

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/gorilla/mux"

	"github.com/ctharness/ctharness/internal/httpjson"
)

// adminRoutes is the Piano part of the simulator's admin API (under AdminPrefix).
func (c *Collector) adminRoutes() http.Handler {
	r := mux.NewRouter()
	r.HandleFunc("/_sim/piano/events", c.handleEvents).Methods(http.MethodGet)
	r.HandleFunc("/_sim/piano/requests", c.handleRequests).Methods(http.MethodGet)
	r.HandleFunc("/_sim/piano/sites", c.handleSites).Methods(http.MethodGet)
	r.HandleFunc("/_sim/piano/sites", c.handlePutSite).Methods(http.MethodPost)
	r.NotFoundHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		httpjson.Error(w, http.StatusNotFound,
			"no admin route %s %s; routes: GET /_sim/piano/events?site=&include_ignored=true, "+
				"GET /_sim/piano/requests, GET|POST /_sim/piano/sites", r.Method, r.URL.Path)
	})
	r.MethodNotAllowedHandler = r.NotFoundHandler
	return r
}

func (c *Collector) handleEvents(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if err := httpjson.Params(q, "site", "include_ignored"); err != nil {
		httpjson.Error(w, http.StatusBadRequest, "%v", err)
		return
	}
	include := q.Get("include_ignored")
	if include != "" && include != "true" && include != "false" {
		httpjson.Error(w, http.StatusBadRequest, "include_ignored: expected true or false, got %q", include)
		return
	}
	httpjson.Write(w, http.StatusOK, map[string]any{"events": c.Hits(q.Get("site"), include == "true")})
}

func (c *Collector) handleRequests(w http.ResponseWriter, r *http.Request) {
	if err := httpjson.Params(r.URL.Query()); err != nil {
		httpjson.Error(w, http.StatusBadRequest, "%v", err)
		return
	}
	httpjson.Write(w, http.StatusOK, map[string]any{"requests": c.Requests()})
}

func (c *Collector) handleSites(w http.ResponseWriter, r *http.Request) {
	httpjson.Write(w, http.StatusOK, map[string]any{"sites": c.Sites()})
}

func (c *Collector) handlePutSite(w http.ResponseWriter, r *http.Request) {
	var site Site
	if err := httpjson.Decode(r, &site); err != nil {
		httpjson.Error(w, http.StatusBadRequest,
			"site: expected a JSON object {\"id\",\"domain\",\"events\",\"properties\"}: %v", err)
		return
	}
	if err := c.PutSite(site); err != nil {
		httpjson.Error(w, http.StatusBadRequest, "site: %v", err)
		return
	}
	httpjson.Write(w, http.StatusOK, site)
}

// ReadHits reads GET /_sim/piano/events?include_ignored=true from a running simulator: every hit the fake
// collector took, ignored ones included.
func ReadHits(ctx context.Context, client *http.Client, simulatorURL string) ([]Hit, error) {
	url := strings.TrimSuffix(simulatorURL, "/") + "/_sim/piano/events?include_ignored=true"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return nil, fmt.Errorf("GET %s: HTTP %d %s", url, resp.StatusCode, body)
	}
	var out struct {
		Events []Hit `json:"events"`
	}
	return out.Events, json.NewDecoder(resp.Body).Decode(&out)
}
