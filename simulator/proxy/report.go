package proxy

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"

	"github.com/ctharness/ctharness/internal/clip"
	"github.com/ctharness/ctharness/internal/httpjson"
)

// Report is the summary of the exchanges so far: counts by outcome, drift kind and lint rule, the refused records,
// and the latest drift and lint items (each bounded), ready to read or to gate CI on.
type Report struct {
	Exchanges       int            `json:"exchanges"`
	Outcomes        map[string]int `json:"outcomes"`
	Drift           map[string]int `json:"drift"`
	Lint            map[string]int `json:"lint"`
	RefusedRecords  int            `json:"refused_records"`
	RefusedRequests int            `json:"refused_requests"`
	// Items are the latest exchanges with drift or lint (at most MaxItems), oldest first.
	Items        []Item `json:"items"`
	ItemsDropped int    `json:"items_dropped,omitempty"`
	CaptureError string `json:"capture_error,omitempty"`
}

// Item is one exchange the report names: what was asked, what CleverTap answered, the drift and the lint.
type Item struct {
	At       string    `json:"at"`
	Method   string    `json:"method"`
	Path     string    `json:"path"`
	Account  string    `json:"account,omitempty"`
	Endpoint string    `json:"endpoint"`
	Status   int       `json:"status"`
	Outcome  string    `json:"outcome"`
	Drift    Drift     `json:"drift"`
	Lint     []Finding `json:"lint,omitempty"`
}

// MaxItems bounds the report's items.
const MaxItems = 500

type reporter struct {
	mu sync.Mutex
	r  Report
}

func newReporter() *reporter {
	return &reporter{r: Report{Outcomes: map[string]int{}, Drift: map[string]int{}, Lint: map[string]int{},
		Items: []Item{}}}
}

func (rp *reporter) add(c *Checked) {
	rp.mu.Lock()
	defer rp.mu.Unlock()
	r := &rp.r
	r.Exchanges++
	r.Outcomes[string(c.Outcome)]++
	r.Drift[c.Drift.Kind]++
	for _, f := range c.Lint {
		r.Lint[f.Rule]++
		if f.Rule == "refused" && f.Index >= 0 {
			r.RefusedRecords++
		}
		if f.Rule == "refused" && f.Index < 0 {
			r.RefusedRequests++
		}
	}
	if c.Drift.Kind == DriftAgree && len(c.Lint) == 0 {
		return
	}
	r.Items = append(r.Items, Item{At: c.At.Format("2006-01-02T15:04:05.000Z07:00"), Method: c.Method,
		Path: c.Path, Account: c.Account, Endpoint: c.Endpoint, Status: c.Status, Outcome: string(c.Outcome),
		Drift: c.Drift, Lint: c.Lint})
	if len(r.Items) > MaxItems {
		r.Items = slices.Delete(r.Items, 0, 1)
		r.ItemsDropped++
	}
}

func (rp *reporter) captureFailed(err error) {
	rp.mu.Lock()
	defer rp.mu.Unlock()
	if rp.r.CaptureError == "" {
		rp.r.CaptureError = err.Error()
	}
}

func (rp *reporter) snapshot() Report {
	rp.mu.Lock()
	defer rp.mu.Unlock()
	r := rp.r
	r.Outcomes, r.Drift, r.Lint = cloneCounts(r.Outcomes), cloneCounts(r.Drift), cloneCounts(r.Lint)
	r.Items = slices.Clone(r.Items)
	return r
}

func cloneCounts(m map[string]int) map[string]int {
	out := make(map[string]int, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func (p *Proxy) serveReport(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", http.MethodGet)
		httpjson.Error(w, http.StatusMethodNotAllowed, "expected GET %s, got %s", ReportPath, r.Method)
		return
	}
	httpjson.Write(w, http.StatusOK, p.Report())
}

// FailOn are the kinds of trouble a CI run fails on: refused (records or requests CleverTap refused), drift (the
// fake differs from CleverTap: too lenient, too strict, different, shape), lint (anything lint found besides
// refusals).
var FailOn = []string{"refused", "drift", "lint"}

// ParseFailOn reads a --fail-on list.
func ParseFailOn(list string) ([]string, error) {
	var out []string
	for _, k := range strings.Split(list, ",") {
		k = strings.TrimSpace(k)
		if k == "" {
			continue
		}
		if !slices.Contains(FailOn, k) {
			return nil, fmt.Errorf("--fail-on: expected some of %s, comma-separated, got %q",
				strings.Join(FailOn, ","), k)
		}
		out = append(out, k)
	}
	return out, nil
}

// Failures says, for each kind asked for, what in the report fails it; none means the run passes.
func (r Report) Failures(kinds []string) []string {
	var out []string
	for _, k := range kinds {
		switch k {
		case "refused":
			if n := r.RefusedRecords + r.RefusedRequests; n > 0 {
				out = append(out, fmt.Sprintf("refused: CleverTap refused %d record(s) and %d whole request(s)",
					r.RefusedRecords, r.RefusedRequests))
			}
		case "drift":
			var parts []string
			for _, kind := range []string{DriftTooLenient, DriftTooStrict, DriftDifferent, DriftShape} {
				if r.Drift[kind] > 0 {
					parts = append(parts, fmt.Sprintf("%d %s", r.Drift[kind], kind))
				}
			}
			if len(parts) > 0 {
				out = append(out, "drift: "+strings.Join(parts, ", "))
			}
		case "lint":
			var parts []string
			for _, rule := range []string{"check", "concurrency", "duplicate", "upstream"} {
				if r.Lint[rule] > 0 {
					parts = append(parts, fmt.Sprintf("%d %s", r.Lint[rule], rule))
				}
			}
			if len(parts) > 0 {
				out = append(out, "lint: "+strings.Join(parts, ", "))
			}
		}
	}
	return out
}

// String is the report for a terminal: the counts, then each item on a line or two. What came over the network
// is escaped (clip.Printable): a path or an error text must not drive the terminal.
func (r Report) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d exchanges; drift: %s; lint: %s; CleverTap refused %d record(s), %d request(s)\n",
		r.Exchanges, counts(r.Drift), counts(r.Lint), r.RefusedRecords, r.RefusedRequests)
	for _, it := range r.Items {
		fmt.Fprintf(&b, "  %s %s %s -> %d %s [%s]\n", it.At, clip.Printable(it.Method),
			clip.Printable(clip.Text(it.Path, 200)), it.Status, it.Outcome, it.Drift.Kind)
		for _, d := range it.Drift.Details {
			fmt.Fprintf(&b, "      drift: %s\n", clip.Printable(clip.Text(d, 500)))
		}
		for _, f := range it.Lint {
			fmt.Fprintf(&b, "      %s: %s\n", f.Rule, clip.Printable(clip.Text(f.Text, 500)))
		}
	}
	if r.CaptureError != "" {
		fmt.Fprintf(&b, "the capture failed: %s\n", clip.Printable(r.CaptureError))
	}
	return b.String()
}

func counts(m map[string]int) string {
	if len(m) == 0 {
		return "none"
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %d", k, m[k])
	}
	return strings.Join(parts, ", ")
}
