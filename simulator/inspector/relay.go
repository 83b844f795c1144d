package inspector

import (
	"bufio"
	"bytes"
	"net/http"
	"regexp"
	"strconv"
	"strings"

	"github.com/gorilla/mux"

	"github.com/ctharness/ctharness/internal/httpjson"
	"github.com/ctharness/ctharness/relay/adminclient"
)

// Relay is the relay the inspector's relay panel shows: its status, webhooks per source and dead letters, and
// a retry of one. The page sends the relay's admin token with each call and the inspector passes it on: the
// simulator never holds it, so the panel opens no door the relay keeps shut.
type Relay struct {
	URL string
	// DevToken is a token the page may offer: the development stack's (simulator up), public anyway.
	DevToken string
	Client   *http.Client
}

// SetRelay links the relay panel to a relay.
func (i *Inspector) SetRelay(r *Relay) {
	if r.Client == nil {
		r.Client = adminclient.New(r.URL, "").HTTP // no redirects: the admin token stays with the relay
	}
	i.mu.Lock()
	defer i.mu.Unlock()
	i.relay = r
}

var receivedLine = regexp.MustCompile(`^relay_webhooks_received_total\{outcome="([^"]*)",source="([^"]*)"\} (\S+)`)

// handleRelay passes a panel's call to the relay's admin API, with the caller's Authorization; webhooks per
// source come from the relay's open /metrics.
func (i *Inspector) handleRelay(w http.ResponseWriter, r *http.Request) {
	i.mu.Lock()
	relay := i.relay
	i.mu.Unlock()
	if relay == nil {
		httpjson.Error(w, http.StatusNotFound, "no relay linked: the stack of simulator up has one; simulator serve "+
			"takes --relay URL")
		return
	}
	vars := mux.Vars(r)
	path := "/admin/" + vars["what"]
	if id := vars["id"]; id != "" {
		path = "/admin/deadletters/" + id + "/retry"
	}
	if vars["what"] == "webhooks" {
		path = "/metrics"
	}
	admin := &adminclient.Client{URL: strings.TrimSuffix(relay.URL, "/"), HTTP: relay.Client,
		Token: strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")}
	status, body, err := admin.Raw(r.Context(), r.Method, path)
	if err != nil {
		httpjson.Error(w, http.StatusBadGateway, "the relay at %s does not answer: %v", relay.URL, err)
		return
	}
	if vars["what"] == "webhooks" {
		httpjson.Write(w, http.StatusOK, map[string]any{"webhooks": webhooksBySource(body)})
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// webhooksBySource reads relay_webhooks_received_total from the relay's metrics: source → outcome → count.
func webhooksBySource(metrics []byte) map[string]map[string]float64 {
	out := map[string]map[string]float64{}
	sc := bufio.NewScanner(bytes.NewReader(metrics))
	for sc.Scan() {
		m := receivedLine.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		n, err := strconv.ParseFloat(m[3], 64)
		if err != nil {
			continue
		}
		if out[m[2]] == nil {
			out[m[2]] = map[string]float64{}
		}
		out[m[2]][m[1]] = n
	}
	return out
}
