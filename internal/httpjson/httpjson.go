// Package httpjson writes and reads the JSON of the harness's own HTTP APIs (the relay's answers and admin
// routes, the simulator's admin API): one way to answer, one way to say what went wrong, one strict reader.
// CleverTap's own answers are not written here; the fake writes those byte for byte as CleverTap does.
package httpjson

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/ctharness/ctharness/internal/suggest"
)

// Write answers with v as JSON and a trailing newline (an error answer when v cannot be encoded).
func Write(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		status, body = http.StatusInternalServerError, []byte(`{"error":"encoding the answer failed"}`)
	}
	WriteEncoded(w, status, body)
}

// WriteEncoded answers with body, JSON already encoded (by hand, where an answer is written for every request),
// as Write does.
func WriteEncoded(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(body, '\n'))
}

// Error answers {"error": text}; the text names what was expected and what arrived.
func Error(w http.ResponseWriter, status int, format string, args ...any) {
	Write(w, status, map[string]string{"error": fmt.Sprintf(format, args...)})
}

// MaxBody bounds what Decode reads.
const MaxBody = 1 << 20

// Decode reads a JSON object strictly: unknown fields are errors, so a typo is not silently ignored.
func Decode(r *http.Request, v any) error {
	dec := json.NewDecoder(io.LimitReader(r.Body, MaxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		if errors.Is(err, io.EOF) {
			return errors.New("expected a JSON object in the body, got an empty body")
		}
		return fmt.Errorf("expected a JSON object of the documented fields: %v", err)
	}
	return nil
}

// Params checks that a query names only the parameters a route takes: a mistyped one (acount=) would otherwise
// be ignored and widen the answer to everything. The error names it, a likely meaning and the valid ones.
func Params(q url.Values, valid ...string) error {
	for name := range q {
		if !slices.Contains(valid, name) {
			return fmt.Errorf("unknown query parameter %q%s; expected %s", name, suggest.DidYouMean(name, valid),
				strings.Join(valid, ", "))
		}
	}
	return nil
}
