package fake

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ctharness/ctharness/simulator/clevertap/fake/store"

	"github.com/ctharness/ctharness/internal/clip"
)

// The query body of the read endpoints (https://developer.clevertap.com/docs/get-events-api): an event name, a date
// range of YYYYMMDD integers in the account's time zone (to inclusive), and CleverTap Query Language filters on the
// event's properties, its session and its profile.

var queryOperators = []string{"equals", "contains", "greater_than", "greater_than_equals", "less_than",
	"less_than_equals"}

// readError is a read endpoint's refusal: CleverTap's code and text, and what the journal says of it.
type readError struct {
	code      int
	text      string
	diagnosis string
	// status is the HTTP status when errors come with one (ReadErrorsWithHTTPStatus); 0 takes the code
	status int
}

func (e *readError) Error() string { return e.text }

// badCursor is the answer to a cursor that names no page, unknown (or double-encoded) or expired: code 3, as live
// captures show (github.com/mmirzafahmi/quickhouse, github.com/bruin-data/ingestr).
func badCursor(format string, args ...any) *readError {
	return &readError{code: codeBadCursor, status: http.StatusBadRequest, text: textIncorrectUsage,
		diagnosis: fmt.Sprintf(format, args...)}
}

// codeBadCursor is the code of "Incorrect Usage" for a cursor.
const codeBadCursor = 3

func badQuery(text, format string, args ...any) *readError {
	return &readError{code: 400, text: text, diagnosis: fmt.Sprintf(format, args...)}
}

// Texts of the query errors: CleverTap's own example client checks for the missing keys with these words
// (github.com/CleverTap/clevertap-server-api-examples); the others are UNCONFIRMED, worded as the hints third-party
// clients match on (github.com/leanderp/clevertap-mcp).
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
func parseReadQuery(body []byte, loc *time.Location) (*store.Query, *readError) {
	var raw rawQuery
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&raw); err != nil {
		return nil, badQuery(textMalformed, "expected a JSON object {\"event_name\",\"from\",\"to\",...}: %s",
			clip.Text(err.Error(), 200))
	}
	if dec.More() {
		return nil, badQuery(textMalformed, "the body goes on after its JSON object")
	}
	q := &store.Query{Body: body}
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
	if q.EventProps, err = conditions("event_properties", append(raw.EventProperties, raw.Props...)); err != nil {
		return nil, err
	}
	if q.SessionProps, err = conditions("session_properties", raw.SessionProperties); err != nil {
		return nil, err
	}
	var size querySize
	size.add(q.EventProps)
	size.add(q.SessionProps)
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
			q.ProfileProps = append(q.ProfileProps, conds...)
		case "reachability":
			q.Reachability = append(q.Reachability, conds...)
		default:
			if len(conds) > 0 {
				q.Unheld = append(q.Unheld, group)
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

func (z *querySize) add(conds []store.Condition) {
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

func conditions(where string, raw []rawCondition) ([]store.Condition, *readError) {
	out := make([]store.Condition, 0, len(raw))
	for i, rc := range raw {
		c := store.Condition{Name: rc.Name, Operator: rc.Operator}
		if c.Operator == "" {
			c.Operator = "equals" // "The operator is optional and defaults to equals" (github.com/CleverTap/clevertap-node)
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
