package fake

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ctharness/ctharness/simulator/clevertap"

	"github.com/ctharness/ctharness/internal/clip"
)

// The query body of the read endpoints (reference §9.2): an event name, a date range of YYYYMMDD integers in the
// account's time zone (to inclusive), and CleverTap Query Language filters on the event's properties, its
// session and its profile.

// readQuery is a parsed query body.
type readQuery struct {
	EventName string
	// Start and End bound the range: Start is midnight of from, End midnight after to, in the account's zone.
	Start, End time.Time
	// FromDay and ToDay are the range's dates as sent (YYYYMMDD).
	FromDay, ToDay int
	eventProps     []condition
	sessionProps   []condition
	// profileProps filter on profileData (profile_fields, demographics); reachability on what reaches the user.
	profileProps []condition
	reachability []condition
	// unheld are filter groups on data no profile uploaded through the API has (geo_fields, technographics...):
	// a query with one matches nothing.
	unheld []string
	// body is the whole body, for the counts' own keys (groups, unique, sum_event_prop).
	body []byte
}

// condition is one filter: a property, an operator, and one value or several (any of them matches).
type condition struct {
	Name     string
	Operator string
	Values   []any
}

var queryOperators = []string{"equals", "contains", "greater_than", "greater_than_equals", "less_than",
	"less_than_equals"}

// readError is a read endpoint's refusal: CleverTap's code and text, and what the journal says of it.
type readError struct {
	code      int
	text      string
	diagnosis string
}

func (e *readError) Error() string { return e.text }

func badQuery(text, format string, args ...any) *readError {
	return &readError{code: 400, text: text, diagnosis: fmt.Sprintf(format, args...)}
}

// Texts of the query errors: CleverTap's own example client checks for the missing keys with these words
// [ct-examples]; the others are UNCONFIRMED, worded as the hints third-party clients match on ([mcp]).
const (
	textEventNameMissing = "Event Name is missing"
	textFromMissing      = "'From' is missing"
	textToMissing        = "'To' is missing"
	textInvalidDate      = "Invalid date. Dates should be integers in YYYYMMDD format"
	textDateRange        = "Invalid date range: 'from' greater than 'to'"
	textInvalidEvent     = `["Invalid event : %s"]`
	textInvalidOperator  = "Invalid operator : %s"
)

type rawCondition struct {
	Name     string          `json:"name"`
	Operator string          `json:"operator"`
	Value    json.RawMessage `json:"value"`
}

type rawQuery struct {
	EventName               *string                   `json:"event_name"`
	From                    json.RawMessage           `json:"from"`
	To                      json.RawMessage           `json:"to"`
	EventProperties         []rawCondition            `json:"event_properties"`
	Props                   []rawCondition            `json:"props"` // older clients' name for event_properties
	SessionProperties       []rawCondition            `json:"session_properties"`
	CommonProfileProperties map[string][]rawCondition `json:"common_profile_properties"`
}

// parseReadQuery reads a query body: an event name and a valid range are required, filters are optional.
func parseReadQuery(body []byte, loc *time.Location) (*readQuery, *readError) {
	var raw rawQuery
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&raw); err != nil {
		return nil, badQuery(textMalformed, "expected a JSON object {\"event_name\",\"from\",\"to\",...}: %s",
			clip.Text(err.Error(), 200))
	}
	if dec.More() {
		return nil, badQuery(textMalformed, "the body goes on after its JSON object")
	}
	q := &readQuery{body: body}
	if raw.EventName == nil || *raw.EventName == "" {
		return nil, badQuery(textEventNameMissing, "expected \"event_name\": the event to query, e.g. \"Charged\"")
	}
	q.EventName = *raw.EventName
	var err *readError
	if q.FromDay, q.Start, err = queryDate("from", textFromMissing, raw.From, loc); err != nil {
		return nil, err
	}
	if q.ToDay, q.End, err = queryDate("to", textToMissing, raw.To, loc); err != nil {
		return nil, err
	}
	if q.FromDay > q.ToDay {
		return nil, badQuery(textDateRange, "from %d is after to %d", q.FromDay, q.ToDay)
	}
	q.End = q.End.AddDate(0, 0, 1)
	if q.eventProps, err = conditions("event_properties", append(raw.EventProperties, raw.Props...)); err != nil {
		return nil, err
	}
	if q.sessionProps, err = conditions("session_properties", raw.SessionProperties); err != nil {
		return nil, err
	}
	var size querySize
	size.add(q.eventProps)
	size.add(q.sessionProps)
	groups := make([]string, 0, len(raw.CommonProfileProperties))
	for group := range raw.CommonProfileProperties {
		groups = append(groups, group)
	}
	slices.Sort(groups)
	for _, group := range groups {
		conds, err := conditions("common_profile_properties."+group, raw.CommonProfileProperties[group])
		if err != nil {
			return nil, err
		}
		size.add(conds)
		switch group {
		case "profile_fields", "demographics":
			q.profileProps = append(q.profileProps, conds...)
		case "reachability":
			q.reachability = append(q.reachability, conds...)
		default:
			if len(conds) > 0 {
				q.unheld = append(q.unheld, group)
			}
		}
	}
	if size.conditions > maxConditions || size.values > maxConditionValues {
		return nil, badQuery(textMalformed, "%d conditions with %d values; the simulator takes at most %d "+
			"conditions and %d values in all", size.conditions, size.values, maxConditions, maxConditionValues)
	}
	return q, nil
}

type querySize struct{ conditions, values int }

func (z *querySize) add(conds []condition) {
	z.conditions += len(conds)
	for _, c := range conds {
		z.values += len(c.Values)
	}
}

// A query's filters are bounded, so that no query holds the fake for long: every condition is tried on every
// event of the range (CleverTap's own limits are not documented).
const (
	maxConditions      = 50
	maxConditionValues = 500
)

// queryDate reads from or to: an integer YYYYMMDD that is a real date, as midnight in the account's zone.
func queryDate(key, missing string, raw json.RawMessage, loc *time.Location) (int, time.Time, *readError) {
	if len(raw) == 0 || string(raw) == "null" {
		return 0, time.Time{}, badQuery(missing, "expected %q: an integer date such as 20261202", key)
	}
	n, err := strconv.Atoi(string(raw))
	if err != nil {
		return 0, time.Time{}, badQuery(textInvalidDate, "%s is %s; CleverTap wants an integer such as 20261202 "+
			"(not a string, not epoch seconds)", key, clip.Text(string(raw), 40))
	}
	day, err := time.ParseInLocation("20060102", strconv.Itoa(n), loc)
	if err != nil || n < 10000101 || n > 99991231 {
		return 0, time.Time{}, badQuery(textInvalidDate, "%s is %d, not a date of the form YYYYMMDD", key, n)
	}
	return n, day, nil
}

func conditions(where string, raw []rawCondition) ([]condition, *readError) {
	out := make([]condition, 0, len(raw))
	for i, rc := range raw {
		c := condition{Name: rc.Name, Operator: rc.Operator}
		if c.Operator == "" {
			c.Operator = "equals" // "The operator is optional and defaults to equals" [ct-node-old]
		}
		if !slices.Contains(queryOperators, c.Operator) {
			return nil, badQuery(fmt.Sprintf(textInvalidOperator, c.Operator), "%s[%d].operator: expected one of %s, "+
				"got %q", where, i, strings.Join(queryOperators, ", "), c.Operator)
		}
		if c.Name == "" {
			return nil, badQuery(textMalformed, "%s[%d]: expected a \"name\"", where, i)
		}
		var value any
		dec := json.NewDecoder(bytes.NewReader(rc.Value))
		dec.UseNumber()
		if len(rc.Value) == 0 || dec.Decode(&value) != nil {
			return nil, badQuery(textMalformed, "%s[%d] (%s): expected a \"value\" (one value or a list)", where, i,
				c.Name)
		}
		if list, ok := value.([]any); ok {
			c.Values = list
		} else {
			c.Values = []any{value}
		}
		out = append(out, c)
	}
	return out, nil
}

// matches says whether a property value (absent when !present) meets the condition: any of the condition's
// values against any of a multi-value property's values.
func (c condition) matches(prop any, present bool) bool {
	if !present {
		return false
	}
	for _, have := range propertyValues(prop) {
		for _, want := range c.Values {
			if compare(c.Operator, have, want) {
				return true
			}
		}
	}
	return false
}

func propertyValues(prop any) []any {
	switch p := prop.(type) {
	case []any:
		return p
	case []string:
		out := make([]any, len(p))
		for i, s := range p {
			out[i] = s
		}
		return out
	}
	return []any{prop}
}

func compare(op string, have, want any) bool {
	hs, ws := scalarString(have), scalarString(want)
	hn, hNum := number(have)
	wn, wNum := number(want)
	switch op {
	case "equals":
		if hNum && wNum {
			return hn == wn
		}
		return hs == ws || (isBoolText(hs) && strings.EqualFold(hs, ws))
	case "contains":
		return strings.Contains(hs, ws)
	}
	if !hNum || !wNum {
		return false
	}
	switch op {
	case "greater_than":
		return hn > wn
	case "greater_than_equals":
		return hn >= wn
	case "less_than":
		return hn < wn
	default:
		return hn <= wn
	}
}

func isBoolText(s string) bool { return strings.EqualFold(s, "true") || strings.EqualFold(s, "false") }

// scalarString is a value as text, as the query language compares it.
func scalarString(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case nil:
		return ""
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	case json.Number:
		return v.String()
	case bool:
		return strconv.FormatBool(v)
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// number reads a value as a number: JSON numbers, numeric strings, and "$D_" dates as their epoch seconds.
func number(v any) (float64, bool) {
	switch v := v.(type) {
	case float64:
		return v, true
	case json.Number:
		f, err := v.Float64()
		return f, err == nil
	case string:
		f, err := strconv.ParseFloat(strings.TrimPrefix(v, "$D_"), 64)
		return f, err == nil
	}
	return 0, false
}

// matchesProfile applies the profile filters: profileData for profile_fields and demographics (Gender sent as
// Male/Female matches the M/F uploads hold), the push token for reachability's has_token.
func (q *readQuery) matchesProfile(p *clevertap.Profile) bool {
	if len(q.unheld) > 0 {
		return false
	}
	for _, c := range q.profileProps {
		v, ok := p.ProfileData[c.Name]
		if c.Name == "Gender" {
			c = genderCondition(c)
		}
		if !c.matches(v, ok) {
			return false
		}
	}
	for _, c := range q.reachability {
		var v any
		switch c.Name {
		case "has_token":
			v = hasPushToken(p)
		case "has_email":
			v = email(p) != ""
		case "has_phone":
			v = phone(p) != ""
		default:
			return false
		}
		if !c.matches(v, true) {
			return false
		}
	}
	return true
}

func genderCondition(c condition) condition {
	values := make([]any, len(c.Values))
	for i, v := range c.Values {
		switch s := scalarString(v); {
		case strings.EqualFold(s, "male"):
			values[i] = "M"
		case strings.EqualFold(s, "female"):
			values[i] = "F"
		default:
			values[i] = v
		}
	}
	c.Values = values
	return c
}

func hasPushToken(p *clevertap.Profile) bool {
	for _, d := range p.Devices {
		if d.PushToken != "" {
			return true
		}
	}
	return false
}

// matchesEvent applies the event and session filters to an event's properties (sessions: the API records none,
// so a session filter matches nothing).
func (q *readQuery) matchesEvent(props map[string]any) bool {
	if len(q.sessionProps) > 0 {
		return false
	}
	for _, c := range q.eventProps {
		v, ok := props[c.Name]
		if !c.matches(v, ok) {
			return false
		}
	}
	return true
}

// describe is the query for the journal.
func (q *readQuery) describe() string {
	d := fmt.Sprintf("%q from %d to %d", q.EventName, q.FromDay, q.ToDay)
	if len(q.unheld) > 0 {
		d += fmt.Sprintf("; filters on %s match nothing: API-uploaded profiles hold no such data",
			strings.Join(q.unheld, ", "))
	}
	if len(q.sessionProps) > 0 {
		d += "; session_properties match nothing: events uploaded through the API have no session"
	}
	return d
}
