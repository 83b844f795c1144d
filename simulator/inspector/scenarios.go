package inspector

import (
	"context"
	"net/http"
	"slices"
	"time"

	"github.com/ctharness/ctharness/internal/httpjson"
)

// Player plays scenarios for the scenario panel: the built-in list and one run on request (the scenarios
// package provides one; the inspector does not import it, as scenarios start relays through the harness, which
// builds simulators).
type Player interface {
	Scenarios() []Scenario
	Play(ctx context.Context, name, source string) (Run, error)
}

// Scenario is one scenario the panel can play.
type Scenario struct {
	Name        string   `json:"name"`
	Description string   `json:"description"`
	Labels      []string `json:"labels"`
	Sources     []string `json:"sources"`
}

// Run is one scenario × source played, as the panel shows it.
type Run struct {
	Scenario string    `json:"scenario"`
	Source   string    `json:"source"`
	RunID    string    `json:"run"`
	File     string    `json:"file"`
	Line     int       `json:"line"`
	Passed   bool      `json:"passed"`
	Problems []string  `json:"problems"`
	Expected []string  `json:"expected"`
	Received []string  `json:"received"`
	Webhooks int       `json:"webhooks"`
	TookMS   float64   `json:"took_ms"`
	At       time.Time `json:"at"`
}

// maxRuns bounds the runs the panel keeps.
const maxRuns = 1000

// SetPlayer links the scenario panel to a player.
func (i *Inspector) SetPlayer(p Player) {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.player = p
}

// Record adds runs to the panel's report (simulator up records the runs it played at start).
func (i *Inspector) Record(runs ...Run) {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.runs = append(i.runs, runs...)
	if over := len(i.runs) - maxRuns; over > 0 {
		i.runs = slices.Delete(i.runs, 0, over)
	}
}

func (i *Inspector) handleScenarios(w http.ResponseWriter, _ *http.Request) {
	i.mu.Lock()
	runs := append([]Run{}, i.runs...) // [] rather than null when none ran yet
	player := i.player
	i.mu.Unlock()
	slices.Reverse(runs)
	list := []Scenario{}
	if player != nil {
		list = player.Scenarios()
	}
	httpjson.Write(w, http.StatusOK, map[string]any{"scenarios": list, "runs": runs, "can_play": player != nil})
}

// handlePlay plays one scenario through one source, records the run and answers it.
func (i *Inspector) handlePlay(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Scenario string `json:"scenario"`
		Source   string `json:"source"`
	}
	if err := httpjson.Decode(r, &req); err != nil {
		httpjson.Error(w, http.StatusBadRequest, "play: %v", err)
		return
	}
	i.mu.Lock()
	player := i.player
	i.mu.Unlock()
	if player == nil {
		httpjson.Error(w, http.StatusNotFound, "no scenarios linked: simulator up plays them (simulator serve has no "+
			"relay to play through)")
		return
	}
	run, err := player.Play(r.Context(), req.Scenario, req.Source)
	if err != nil {
		httpjson.Error(w, http.StatusBadRequest, "play: %v", err)
		return
	}
	i.Record(run)
	httpjson.Write(w, http.StatusOK, run)
}
