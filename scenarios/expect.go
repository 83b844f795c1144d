package scenarios

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/ctharness/ctharness/relay/adminclient"
	"github.com/ctharness/ctharness/relay/outbox"
	"github.com/ctharness/ctharness/simulator/clevertap"
	"github.com/ctharness/ctharness/simulator/piano"
)

// Received is a record that arrived at the fake CleverTap.
type Received struct {
	Account string         `json:"account"`
	Region  string         `json:"region"`
	Record  map[string]any `json:"record"`
	Seq     uint64         `json:"seq"`
}

func (rc Received) String() string {
	b, _ := json.Marshal(rc.Record)
	return fmt.Sprintf("%s/%s %s", rc.Region, rc.Account, b)
}

// Mismatches lists how a received record differs from an expected one (empty when it matches).
func (e Record) Mismatches(got Received, account string) []string {
	var out []string
	rec := got.Record
	kind, _ := rec["type"].(string)
	dataKey := "evtData"
	if e.Profile {
		dataKey = "profileData"
		if kind != "profile" {
			out = append(out, fmt.Sprintf("type: expected profile, got %v", kind))
		}
	} else if name, _ := rec["evtName"].(string); kind != "event" || name != e.Event {
		out = append(out, fmt.Sprintf("evtName: expected %q, got %q", e.Event, name))
	}
	if e.Identity != "" && rec["identity"] != e.Identity {
		out = append(out, fmt.Sprintf("identity: expected %q, got %v", e.Identity, rec["identity"]))
	}
	if e.ObjectID != "" && rec["objectId"] != e.ObjectID {
		out = append(out, fmt.Sprintf("objectId: expected %q, got %v", e.ObjectID, rec["objectId"]))
	}
	if account != "" && got.Account != account {
		out = append(out, fmt.Sprintf("account: expected %s, got %s", account, got.Account))
	}
	if e.Region != "" && got.Region != e.Region {
		out = append(out, fmt.Sprintf("region: expected %s, got %s", e.Region, got.Region))
	}
	data, _ := rec[dataKey].(map[string]any)
	for _, k := range sortedKeys(e.Data) {
		want := normalize(e.Data[k])
		have, ok := data[k]
		switch {
		case want == nil && ok:
			out = append(out, fmt.Sprintf("%s.%s: expected absent, got %v", dataKey, k, have))
		case want == nil:
		case !ok:
			out = append(out, fmt.Sprintf("%s.%s: expected %v, missing", dataKey, k, want))
		case !reflect.DeepEqual(want, have):
			out = append(out, fmt.Sprintf("%s.%s: expected %v, got %v", dataKey, k, want, have))
		}
	}
	return out
}

func (e Record) String() string {
	who := "identity=" + e.Identity
	if e.ObjectID != "" {
		who = "objectId=" + e.ObjectID
	}
	what := e.Event
	if e.Profile {
		what = "profile"
	}
	b, _ := json.Marshal(normalize(e.Data))
	return fmt.Sprintf("%s %s %s %s", e.Account, what, who, b)
}

// normalize turns YAML values into what JSON decoding gives (numbers as float64, maps with string keys).
func normalize(v any) any {
	b, err := json.Marshal(v)
	if err != nil {
		return v
	}
	var out any
	if json.Unmarshal(b, &out) != nil {
		return v
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// MatchRecords pairs expected and received records in any order; unmatched expectations come with their nearest
// miss, unmatched arrivals are reported as unexpected. The pairing is a maximum matching, not first come first
// served: records may arrive in any order (the relay sends in parallel), and an expectation that says little
// must not take the record a stricter one needs.
func MatchRecords(expected []Record, received []Received, defaultAccount string) []string {
	problems, _, _ := matchRecords(expected, received, defaultAccount)
	return problems
}

// matchRecords is MatchRecords, also saying which expectations found no record and which expectation each
// received record met (-1: none).
func matchRecords(expected []Record, received []Received, defaultAccount string) ([]string, []int, []int) {
	fits := make([][]bool, len(expected))
	for i, e := range expected {
		fits[i] = make([]bool, len(received))
		for j, got := range received {
			fits[i][j] = len(e.Mismatches(got, accountOf(e, defaultAccount))) == 0
		}
	}
	owner := make([]int, len(received)) // the expectation a received record is paired with, or -1
	for j := range owner {
		owner[j] = -1
	}
	// augment finds a record for expectation i, moving earlier pairs along if that frees one (Kuhn's algorithm)
	var augment func(i int, visited []bool) bool
	augment = func(i int, visited []bool) bool {
		for j, ok := range fits[i] {
			if !ok || visited[j] {
				continue
			}
			visited[j] = true
			if owner[j] < 0 || augment(owner[j], visited) {
				owner[j] = i
				return true
			}
		}
		return false
	}
	paired := make([]bool, len(expected))
	for i := range expected {
		// a later augmenting path moves earlier pairs along but never undoes one
		paired[i] = augment(i, make([]bool, len(received)))
	}
	var problems []string
	var unmatched []int
	nearest := make([]bool, len(received)) // named as an expectation's nearest miss: not "unexpected" as well
	for i, e := range expected {
		if paired[i] {
			continue
		}
		unmatched = append(unmatched, i)
		best, bestMiss := -1, []string(nil)
		for j, got := range received {
			if owner[j] >= 0 {
				continue
			}
			if miss := e.Mismatches(got, accountOf(e, defaultAccount)); best == -1 || len(miss) < len(bestMiss) {
				best, bestMiss = j, miss
			}
		}
		if best >= 0 {
			nearest[best] = true
			problems = append(problems, fmt.Sprintf("expected %s; nearest miss %s: %s", e, received[best],
				strings.Join(bestMiss, "; ")))
		} else {
			problems = append(problems, fmt.Sprintf("expected %s; nothing (else) arrived", e))
		}
	}
	for j, got := range received {
		if owner[j] < 0 && !nearest[j] {
			problems = append(problems, "unexpected record "+got.String())
		}
	}
	return problems, unmatched, owner
}

// pianoText is a Piano event as the report prints it.
func pianoText(site, event string, ignored bool) string {
	return fmt.Sprintf("piano %s %s ignored=%v", site, event, ignored)
}

// pairedRows are a run's records side by side as the matching paired them: each expectation with the record it
// met (or none), then each record nobody expected.
func pairedRows(kind string, expected []Record, received []Received, owner []int) []Row {
	rows := make([]Row, len(expected))
	for i, e := range expected {
		rows[i] = Row{Kind: kind, Expected: e, expectedText: e.String()}
	}
	for j, got := range received {
		if owner[j] >= 0 {
			rows[owner[j]].Received, rows[owner[j]].receivedText = got, got.String()
		} else {
			rows = append(rows, Row{Kind: kind, Received: got, receivedText: got.String()})
		}
	}
	return rows
}

// accountOf is the account an expected record names, or the source's.
func accountOf(e Record, defaultAccount string) string {
	if e.Account != "" {
		return e.Account
	}
	return defaultAccount
}

// check waits for what the story expects and compares.
func (r *run) check(ctx context.Context) error {
	e := r.s.Expect[r.source]
	deadline := time.Now().Add(r.target.Timeout)
	expected := make([]Record, len(e.CleverTap))
	for i, rec := range e.CleverTap {
		rec.Identity, rec.ObjectID, rec.Account = r.id(rec.Identity), r.id(rec.ObjectID), r.id(rec.Account)
		rec.Data = r.renameData(rec.Data)
		expected[i] = rec
		r.res.Expected = append(r.res.Expected, rec.String())
	}
	if e.Skipped != "" && !strings.Contains(r.skipped, e.Skipped) {
		r.res.problem("expected nothing sent because %q; got %q", e.Skipped, r.skipped)
	}
	if len(e.DeadLetters) > 0 {
		r.checkDeadLetters(ctx, e.DeadLetters, deadline)
	}
	received, err := r.waitRecords(ctx, expected, deadline)
	if err != nil {
		return err
	}
	if len(e.DeadLetters) == 0 {
		r.checkDeadLetters(ctx, nil, deadline) // none expected: any is a failure
	}
	for _, got := range received {
		r.res.Received = append(r.res.Received, got.String())
	}
	problems, unmatched, owner := matchRecords(expected, received, r.id(r.account()))
	r.res.Problems = append(r.res.Problems, problems...)
	r.res.Rows = append(r.res.Rows, pairedRows("clevertap", expected, received, owner)...)
	if len(unmatched) > 0 {
		r.res.Line = e.CleverTap[unmatched[0]].line // the first expectation nothing met
	}
	if len(e.Piano) > 0 || sendsToPiano(r.relaySource) {
		r.checkPiano(ctx, e.Piano, deadline)
	}
	return nil
}

// renameData gives string values that are story ids their run's name (user_id: u-props → u-props_1a2b3c4d).
func (r *run) renameData(data map[string]any) map[string]any {
	if data == nil {
		return nil
	}
	out := make(map[string]any, len(data))
	for k, v := range data {
		if s, ok := v.(string); ok {
			v = r.id(s)
		}
		out[k] = v
	}
	return out
}

// ids are the run's ids a record can carry.
func (r *run) ids() []string {
	var out []string
	for _, v := range r.ns {
		out = append(out, v)
	}
	sort.Strings(out)
	return out
}

// fetch reads every record carrying one of the run's ids, as identity or objectId.
func (r *run) fetch(ctx context.Context) ([]Received, error) {
	seen := map[uint64]bool{}
	var out []Received
	for _, id := range r.ids() {
		for _, f := range []clevertap.EventFilter{{Identity: id}, {ObjectID: id}} {
			events, err := r.ct.Events(ctx, f)
			if err != nil {
				return nil, fmt.Errorf("reading the fake's events: %w", err)
			}
			for _, ev := range events {
				if seen[ev.Seq] {
					continue
				}
				seen[ev.Seq] = true
				var rec map[string]any
				_ = json.Unmarshal(ev.Record, &rec)
				out = append(out, Received{Account: ev.Account, Region: string(ev.Region), Record: rec, Seq: ev.Seq})
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Seq < out[j].Seq })
	return out, nil
}

// waitRecords blocks on the fake's wait route until the expected records are there, then watches a settle
// window for any extra one.
func (r *run) waitRecords(ctx context.Context, expected []Record, deadline time.Time) ([]Received, error) {
	counts := map[[2]string]int{}
	for _, e := range expected {
		if e.ObjectID != "" {
			counts[[2]string{"objectId", e.ObjectID}]++
		} else {
			counts[[2]string{"identity", e.Identity}]++
		}
	}
	for key, n := range counts {
		req := clevertap.WaitRequest{Count: n, TimeoutMS: max(1, int(time.Until(deadline).Milliseconds()))}
		if key[0] == "objectId" {
			req.ObjectID = key[1]
		} else {
			req.Identity = key[1]
		}
		if _, err := r.ct.Wait(ctx, req); err != nil && !errors.Is(err, clevertap.ErrWaitTimeout) {
			return nil, err
		}
	}
	// Nothing more may arrive: the relay says when it has delivered everything of the run; one that cannot say
	// gets a settle window, watched for one record beyond the expected count.
	if err := r.settle(ctx, deadline); err != nil || r.settled {
		if err != nil {
			return nil, err
		}
		return r.fetch(ctx)
	}
	field, id := r.primaryKey()
	watch := clevertap.WaitRequest{Count: counts[[2]string{field, id}] + 1, TimeoutMS: int(r.target.Settle.Milliseconds())}
	if field == "objectId" {
		watch.ObjectID = id
	} else {
		watch.Identity = id
	}
	if _, err := r.ct.Wait(ctx, watch); err != nil && !errors.Is(err, clevertap.ErrWaitTimeout) {
		return nil, err
	}
	return r.fetch(ctx)
}

// settle waits until the relay has no job of the run's webhooks left (delivered or dead-lettered), asking its
// /admin/pending; it sets r.settled when the relay has said so. A relay without the route leaves it unset.
func (r *run) settle(ctx context.Context, deadline time.Time) error {
	if r.unknown {
		return nil
	}
	if len(r.eventIDs) == 0 {
		r.settled = true
		return nil
	}
	relay := r.relayAdmin()
	for {
		pending, err := relay.Pending(ctx, r.source, r.eventIDs)
		switch {
		case errors.Is(err, adminclient.ErrNotFound):
			return nil // a relay that cannot say: the settle window instead
		case err != nil:
			return fmt.Errorf("asking the relay what is left to deliver: %w", err)
		case pending == 0:
			r.settled = true
			return nil
		case time.Now().After(deadline):
			r.res.problem("the relay still had %d job(s) of this run to deliver when the run timed out", pending)
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(5 * time.Millisecond): // the relay has no blocking wait; poll its admin route
		}
	}
}

// primaryKey is where the vendor's integration files the user at CleverTap.
func (r *run) primaryKey() (string, string) { return r.emitter.UserKey(r.user) }

// checkDeadLetters polls the relay's dead letters for the run's records.
func (r *run) checkDeadLetters(ctx context.Context, want []DeadLetter, deadline time.Time) {
	if r.ownService {
		if len(want) > 0 {
			r.res.problem("the scenario expects %d dead letter(s), which only the reference relay keeps; your service "+
				"at %s cannot be asked", len(want), r.hook)
		}
		return
	}
	var mine []outbox.DeadLetter
	for {
		letters, err := r.relayAdmin().DeadLetters(ctx, r.source)
		if err != nil {
			if len(want) > 0 || !errors.Is(err, adminclient.ErrNotFound) {
				r.res.problem("reading the relay's dead letters: %v", err)
			}
			return // a relay without /admin/deadletters cannot be asked
		}
		mine = mine[:0]
		for _, d := range letters {
			if slices.ContainsFunc(r.ids(), func(id string) bool { return strings.Contains(string(d.Payload), id) }) {
				mine = append(mine, d)
			}
		}
		if len(mine) >= len(want) || r.settled || time.Now().After(deadline) {
			break
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(20 * time.Millisecond): // the relay has no blocking wait; poll its admin route
		}
	}
	used := make([]bool, len(mine))
outer:
	for _, w := range want {
		for i, d := range mine {
			if !used[i] && (w.EventType == "" || w.EventType == d.EventType) && (w.Status == 0 || w.Status == d.Status) &&
				(w.Code == 0 || w.Code == d.Code) {
				used[i] = true
				continue outer
			}
		}
		r.res.problem("expected a dead letter %+v; the relay has %d for this run: %+v", w, len(mine), mine)
	}
	if len(mine) > len(want) {
		r.res.problem("expected %d dead letters, the relay has %d", len(want), len(mine))
	}
}

// checkPiano polls the fake Piano collector for the run's visitor.
func (r *run) checkPiano(ctx context.Context, want []PianoEvent, deadline time.Time) {
	idclient := r.user.ATInternetID
	if idclient == "" {
		return
	}
	var mine []piano.Hit
	settleUntil := time.Now().Add(r.target.Settle)
	for {
		hits, err := piano.ReadHits(ctx, r.target.HTTP, r.target.SimulatorURL)
		if err != nil {
			r.res.problem("reading the fake Piano events: %v", err)
			return
		}
		mine = mine[:0]
		for _, h := range hits {
			if h.IDClient == idclient {
				mine = append(mine, h)
			}
		}
		// once the relay has delivered everything of the run, what is there is all there will be
		enough := r.settled || len(want) > 0 && len(mine) >= len(want) || len(want) == 0 && time.Now().After(settleUntil)
		if enough || time.Now().After(deadline) {
			break
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(20 * time.Millisecond): // the Piano fake has no blocking wait
		}
	}
	used := make([]bool, len(mine))
outer:
	for _, w := range want {
		site := w.Site
		if site == "" {
			site = "100001"
		}
		shown := pianoText(site, w.Event, w.Ignored)
		for i, h := range mine {
			var data map[string]any
			_ = json.Unmarshal(h.Data, &data)
			ok := !used[i] && h.Name == w.Event && h.Site == site && h.Ignored == w.Ignored
			for k, v := range w.Data {
				ok = ok && reflect.DeepEqual(normalize(v), data[k])
			}
			if ok {
				used[i] = true
				got := pianoText(h.Site, h.Name, h.Ignored)
				r.res.Received = append(r.res.Received, got)
				r.res.Rows = append(r.res.Rows, Row{Kind: "piano", Expected: w, Received: h, expectedText: shown,
					receivedText: got})
				continue outer
			}
		}
		r.res.Rows = append(r.res.Rows, Row{Kind: "piano", Expected: w, expectedText: shown})
		r.res.problem("expected Piano event %s on site %s (ignored=%v, data %v); received %d Piano events for %s", w.Event,
			site, w.Ignored, w.Data, len(mine), idclient)
	}
	for i, h := range mine {
		if !used[i] {
			r.res.problem("unexpected Piano event %s on site %s (ignored=%v) %s", h.Name, h.Site, h.Ignored, h.Data)
			r.res.Rows = append(r.res.Rows, Row{Kind: "piano", Received: h,
				receivedText: pianoText(h.Site, h.Name, h.Ignored)})
		}
	}
	for _, w := range want {
		r.res.Expected = append(r.res.Expected, pianoText(w.Site, w.Event, w.Ignored))
	}
}
