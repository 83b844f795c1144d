package fake

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ctharness/ctharness/simulator/clevertap/fake/store"

	"github.com/ctharness/ctharness/simulator/clevertap"
)

// The counts (https://developer.clevertap.com/docs/get-event-count-api, get-profile-count-api, top-property-counts-api,
// trends-api): events, profiles, top property counts and trends. The answer is computed when the query comes, then
// given as CleverTap gives it: {"req_id":N,"status":"partial"} first, and to GET ?req_id=N partial again until
// CountDelay has passed, then the success body.

// countJob is a count being "computed": its answer and when it is ready.
type countJob struct {
	account string
	// kind is the count (events, profiles, top, trends): a req_id is polled on its own route
	kind    string
	answer  []byte
	ready   time.Time
	created time.Time
}

// countBook holds the counts in progress, bounded: beyond maxResults the oldest goes.
type countBook struct {
	mu    sync.Mutex
	jobs  map[int64]*countJob
	order []int64
	ttl   time.Duration
}

func newCountBook(ttl time.Duration) *countBook {
	return &countBook{jobs: map[int64]*countJob{}, ttl: ttl}
}

// add keeps a job and returns its req_id, a long integer as in CleverTap's sample (384649162721759).
func (b *countBook) add(j *countJob) int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	for len(b.order) > 0 && (len(b.order) >= maxResults || j.created.Sub(b.jobs[b.order[0]].created) > b.ttl) {
		delete(b.jobs, b.order[0])
		b.order = b.order[1:]
	}
	id := 100_000_000_000_000 + rand.Int64N(900_000_000_000_000)
	b.jobs[id] = j
	b.order = append(b.order, id)
	return id
}

func (b *countBook) get(id int64, account, kind string, now time.Time) (*countJob, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	j, ok := b.jobs[id]
	if !ok || j.account != account || j.kind != kind || now.Sub(j.created) > b.ttl {
		return nil, false
	}
	return j, true
}

func (b *countBook) reset() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.jobs = map[int64]*countJob{}
	b.order = nil
}

const (
	textInvalidRequestID = "Invalid request id"
	// trends cover at most a year (github.com/leanderp/clevertap-mcp, secondary; the text is UNCONFIRMED)
	textTrendsRange = "Invalid date range: trends cover at most one year"
)

// counter computes one count's success body from its query.
type counter func(s *Server, acct *clevertap.Account, q *store.Query) ([]byte, *readError)

func (s *Server) handleCountEvents(w http.ResponseWriter, r *http.Request, c *call) {
	s.handleCount(w, r, c, "events", func(s *Server, acct *clevertap.Account, q *store.Query) ([]byte, *readError) {
		n := len(s.store.MatchEvents(acct.ID, q))
		// keys in the order a recorded answer gives them (github.com/gmalik1992/Projects, Clevertap_Connector)
		return fmt.Appendf(nil, `{"count":%d,"status":"success"}`, n), nil
	})
}

func (s *Server) handleCountProfiles(w http.ResponseWriter, r *http.Request, c *call) {
	s.handleCount(w, r, c, "profiles", func(s *Server, acct *clevertap.Account, q *store.Query) ([]byte, *readError) {
		matched := s.store.MatchEvents(acct.ID, q)
		n := len(store.DistinctProfiles(matched))
		// as recorded answers give them (github.com/gmalik1992/Projects, Clevertap_Connector, in1): tcount is
		// taken to be the events counted, nQCount is 0 in every recording (its meaning is unknown), and
		// userDeviceCount's devices equal its users (the profiles) in every recording
		return fmt.Appendf(nil, `{"count":%d,"nQCount":0,"status":"success","tcount":%d,`+
			`"userDeviceCount":{"devices":%d,"users":%d}}`, n, len(matched), n, n), nil
	})
}

func (s *Server) handleTopCounts(w http.ResponseWriter, r *http.Request, c *call) {
	s.handleCount(w, r, c, "top", (*Server).topCounts)
}

func (s *Server) handleTrends(w http.ResponseWriter, r *http.Request, c *call) {
	s.handleCount(w, r, c, "trends", (*Server).trends)
}

// handleCount is one count route: POST the query (a new count), or GET ?req_id= (POST too) to poll one.
func (s *Server) handleCount(w http.ResponseWriter, r *http.Request, c *call, kind string, count counter) {
	acct, release, ok := s.admitRead(w, r, c)
	if !ok {
		return
	}
	defer release()
	now := s.opts.Now()
	if q := r.URL.Query(); q.Has("req_id") {
		id, err := strconv.ParseInt(q.Get("req_id"), 10, 64)
		job, found := s.counts.get(id, acct.ID, kind, now)
		if err != nil || !found {
			s.readFail(w, c, badQuery(textInvalidRequestID, "req_id %q names no count of account %s on this "+
				"route (unknown, expired after CursorTTL, or polled on another count's route)", q.Get("req_id"), acct.ID))
			return
		}
		if now.Before(job.ready) {
			c.diagnose("still computing for %s (CountDelay)", job.ready.Sub(now).Round(time.Millisecond))
			s.finish(w, c, clevertap.OutcomePending, http.StatusOK, fmt.Appendf(nil, `{"req_id":%d,"status":"partial"}`, id))
			return
		}
		s.finish(w, c, clevertap.OutcomeAccepted, http.StatusOK, job.answer)
		return
	}
	if r.Method != http.MethodPost {
		s.readFail(w, c, badQuery(textIncorrectUsage, "a count starts with a POST of its query; GET polls ?req_id="))
		return
	}
	body, ok := s.queryBody(w, r, c)
	if !ok {
		return
	}
	query, err := s.readQuery(acct, body)
	if err != nil {
		s.readFail(w, c, err)
		return
	}
	answer, err := count(s, acct, query)
	if err != nil {
		s.readFail(w, c, err)
		return
	}
	c.diagnose("%s", query.Describe())
	job := &countJob{account: acct.ID, kind: kind, answer: answer, created: now,
		ready: now.Add(s.opts.CountDelay)}
	if s.opts.CountImmediate && s.opts.CountDelay <= 0 {
		s.finish(w, c, clevertap.OutcomeAccepted, http.StatusOK, answer)
		return
	}
	id := s.counts.add(job)
	c.diagnose("answered partial: poll GET %s?req_id=%d", c.entry.Path, id)
	s.finish(w, c, clevertap.OutcomePending, http.StatusOK, fmt.Appendf(nil, `{"req_id":%d,"status":"partial"}`, id))
}

// countGroups reads a counts body's "groups": name → group object, at least one.
func countGroups[G any](q *store.Query) (map[string]G, *readError) {
	var body struct {
		Groups map[string]G `json:"groups"`
	}
	if err := json.Unmarshal(q.Body, &body); err != nil {
		return nil, badQuery(textMalformed, "groups: expected an object of named groups: %v", err)
	}
	if len(body.Groups) == 0 {
		return nil, badQuery("Groups are missing", "expected \"groups\": {\"<name>\": {...}}, at least one")
	}
	return body.Groups, nil
}

type topGroup struct {
	PropertyType string `json:"property_type"`
	Name         string `json:"name"`
	TopN         int    `json:"top_n"`
	Order        string `json:"order"`
}

// topCounts is Top Property Counts: per group, the values of a property among the matched events
// (event_properties: one per event) or their profiles (profile_fields, demographics: one per profile), strings
// as "STR" {value: count} (the top_n, by count, desc unless order asc), numbers as "NUMBER" in ten ranges.
func (s *Server) topCounts(acct *clevertap.Account, q *store.Query) ([]byte, *readError) {
	groups, err := countGroups[topGroup](q)
	if err != nil {
		return nil, err
	}
	matched := s.store.MatchEvents(acct.ID, q)
	answer := map[string]any{}
	for name, g := range groups {
		var values []any
		switch g.PropertyType {
		case "event_properties":
			for _, e := range matched {
				if v, ok := store.EventProperties(e.Record)[g.Name]; ok {
					values = append(values, store.PropertyValues(v)...)
				}
			}
		case "profile_fields", "demographics":
			for _, p := range s.store.ProfilesByID(store.DistinctProfiles(matched)) {
				if v, ok := p.ProfileData[g.Name]; ok {
					values = append(values, store.PropertyValues(v)...)
				}
			}
		case "session_properties", "app_fields", "technographics", "reachability", "geo_fields":
			// the API records none of these: no values
		default:
			return nil, badQuery("Invalid group : "+name, "groups.%s.property_type: expected event_properties, "+
				"profile_fields, demographics, session_properties, app_fields, technographics, reachability or "+
				"geo_fields, got %q", name, g.PropertyType)
		}
		if g.Name == "" {
			return nil, badQuery("Invalid group : "+name, "groups.%s: expected a property \"name\"", name)
		}
		answer[name] = typedCounts(values, g.TopN, g.Order == "asc")
	}
	return successWith(answer), nil
}

func typedCounts(values []any, topN int, ascending bool) map[string]any {
	if topN <= 0 {
		topN = 10
	}
	strs := map[string]int{}
	var nums []float64
	for _, v := range values {
		switch v := v.(type) {
		case json.Number, float64:
			n, _ := store.Number(v)
			nums = append(nums, n)
		default:
			strs[store.ScalarString(v)]++
		}
	}
	out := map[string]any{}
	if len(strs) > 0 {
		out["STR"] = top(strs, topN, ascending)
	}
	if len(nums) > 0 {
		out["NUMBER"] = ranges(nums)
	}
	return out
}

func top(counts map[string]int, n int, ascending bool) map[string]int {
	keys := make([]string, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if counts[keys[i]] != counts[keys[j]] {
			return (counts[keys[i]] < counts[keys[j]]) == ascending
		}
		return keys[i] < keys[j]
	})
	out := map[string]int{}
	for _, k := range keys[:min(n, len(keys))] {
		out[k] = counts[k]
	}
	return out
}

// ranges counts numbers in ten-ish ranges of a round width, named "low-high" as in CleverTap's sample
// ("0-100", "100-200"...): the width is the power of ten that covers the spread in at most ten ranges.
func ranges(nums []float64) map[string]int {
	lo, hi := slices.Min(nums), slices.Max(nums)
	width := 1.0
	for (hi-lo)/width >= 10 {
		width *= 10
	}
	out := map[string]int{}
	for _, n := range nums {
		start := math.Floor(n/width) * width
		key := strconv.FormatFloat(start, 'f', -1, 64) + "-" + strconv.FormatFloat(start+width, 'f', -1, 64)
		out[key]++
	}
	return out
}

type trendGroup struct {
	TrendType string `json:"trend_type"`
}

// trends is the Trends API: per group, the events (or, with unique, the profiles; or with sum_event_prop, the sum
// of that property) per day (YYYYMMDD), ISO week (YYYYWW) or month (YYYYMM), every period of the range present.
func (s *Server) trends(acct *clevertap.Account, q *store.Query) ([]byte, *readError) {
	groups, err := countGroups[trendGroup](q)
	if err != nil {
		return nil, err
	}
	var opts struct {
		Unique       bool   `json:"unique"`
		SumEventProp string `json:"sum_event_prop"`
	}
	if err := json.Unmarshal(q.Body, &opts); err != nil {
		return nil, badQuery(textMalformed, "unique must be a boolean and sum_event_prop a property name: %v", err)
	}
	if q.End.After(q.Start.AddDate(1, 0, 1)) {
		return nil, badQuery(textTrendsRange, "from %d to %d is more than a year", q.FromDay, q.ToDay)
	}
	loc := acct.Location()
	matched := s.store.MatchEvents(acct.ID, q)
	answer := map[string]any{}
	for name, g := range groups {
		period := trendPeriods[g.TrendType]
		if period == nil {
			return nil, badQuery("Invalid group : "+name, "groups.%s.trend_type: expected daily, weekly or monthly, "+
				"got %q", name, g.TrendType)
		}
		totals := map[string]float64{}
		for day := q.Start; day.Before(q.End); day = day.AddDate(0, 0, 1) {
			totals[period(day)] = 0
		}
		seen := map[string]map[int64]bool{}
		for _, e := range matched {
			key := period(e.At.In(loc))
			switch {
			case opts.Unique:
				if seen[key] == nil {
					seen[key] = map[int64]bool{}
				}
				if e.ProfileID != 0 && !seen[key][e.ProfileID] {
					seen[key][e.ProfileID] = true
					totals[key]++
				}
			case opts.SumEventProp != "":
				if n, ok := store.Number(store.EventProperties(e.Record)[opts.SumEventProp]); ok {
					totals[key] += n
				}
			default:
				totals[key]++
			}
		}
		answer[name] = totals
	}
	return successWith(answer), nil
}

var trendPeriods = map[string]func(time.Time) string{
	"daily": func(t time.Time) string { return t.Format("20060102") },
	"weekly": func(t time.Time) string {
		year, week := t.ISOWeek()
		return fmt.Sprintf("%04d%02d", year, week)
	},
	"monthly": func(t time.Time) string { return t.Format("200601") },
}

// successWith is {"status":"success", ...fields}, status first as in CleverTap's samples.
func successWith(fields map[string]any) []byte {
	names := make([]string, 0, len(fields))
	for k := range fields {
		names = append(names, k)
	}
	slices.Sort(names)
	var b strings.Builder
	b.WriteString(`{"status":"success"`)
	for _, k := range names {
		key, _ := json.Marshal(k)
		value, _ := json.Marshal(fields[k])
		b.WriteString(",")
		b.Write(key)
		b.WriteString(":")
		b.Write(value)
	}
	b.WriteString("}")
	return []byte(b.String())
}
