package proxy

import (
	"bufio"
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/ctharness/ctharness/internal/redact"
	"github.com/ctharness/ctharness/simulator/clevertap"
)

// CaptureVersion is the version of the capture format this build writes and reads.
const CaptureVersion = 1

// Captured is one line of a capture file: an exchange with the request as sent (credentials redacted, identities
// pseudonymised when asked), CleverTap's real answer, and the judgement the proxy made of it.
type Captured struct {
	Version  int       `json:"v"`
	At       time.Time `json:"at"`
	Request  Message   `json:"request"`
	Response Message   `json:"response"`
	// Local says why the proxy answered itself instead of CleverTap.
	Local      string    `json:"local,omitempty"`
	Lint       []Finding `json:"lint,omitempty"`
	Drift      Drift     `json:"drift"`
	DurationMS float64   `json:"duration_ms"`
}

// Message is one side of an exchange: a request (method, host, path, query, region, account) or an answer
// (status), with headers and body. A body that is not UTF-8 is written in base64 (Base64 true).
type Message struct {
	Method  string            `json:"method,omitempty"`
	Host    string            `json:"host,omitempty"`
	Path    string            `json:"path,omitempty"`
	Query   string            `json:"query,omitempty"`
	Region  clevertap.Region  `json:"region,omitempty"`
	Account string            `json:"account,omitempty"`
	Status  int               `json:"status,omitempty"`
	Headers map[string]string `json:"headers,omitempty"`
	Body    string            `json:"body,omitempty"`
	Base64  bool              `json:"base64,omitempty"`
}

// captureLine is the exchange as one capture line: passcodes, tokens and Authorization are never written (the
// headers and query are redacted); with a key, identities, emails and phone numbers become pseudonyms.
func (c *Checked) captureLine(key []byte) ([]byte, error) {
	reqBody, resBody := c.RequestBody, c.Response
	query := c.Query
	if key != nil {
		reqBody, resBody = pseudonymiseJSON(reqBody, key), pseudonymiseJSON(resBody, key)
		query = pseudonymiseQuery(query, key)
	}
	line := Captured{Version: CaptureVersion, At: c.At, Local: c.Local, Lint: c.Lint, Drift: c.Drift,
		DurationMS: c.DurationMS,
		Request: Message{Method: c.Method, Host: c.Host, Path: c.Path, Query: query, Region: c.Region,
			Account: c.Account, Headers: c.RequestHeaders},
		Response: Message{Status: c.Status, Headers: c.ResponseHeaders}}
	line.Request.Body, line.Request.Base64 = bodyText(reqBody)
	line.Response.Body, line.Response.Base64 = bodyText(resBody)
	if key != nil {
		line.Lint = nil // findings quote records; the pseudonymised capture keeps only their count in the report
	}
	b, err := json.Marshal(line)
	return append(b, '\n'), err
}

func bodyText(b []byte) (string, bool) {
	if utf8.Valid(b) {
		return string(b), false
	}
	return base64.StdEncoding.EncodeToString(b), true
}

// piiKeys are the JSON keys whose string values are people: CleverTap's identity and objectId, and the profile
// fields for email and phone (any case).
var piiKeys = map[string]bool{"identity": true, "objectid": true, "email": true, "phone": true, "fbid": true,
	"gpid": true, "name": true, "customer_user_id": true, "appsflyer_id": true}

// pseudonymiseJSON replaces the values of piiKeys anywhere in a JSON body by keyed hashes; a body that is not
// JSON is left out whole (it could hold anything).
func pseudonymiseJSON(body, key []byte) []byte {
	if len(body) == 0 {
		return body
	}
	var v any
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return []byte(`"(not JSON: left out of a pseudonymised capture)"`)
	}
	out, _ := json.Marshal(walkPII(v, key, false))
	return out
}

func walkPII(v any, key []byte, pii bool) any {
	switch t := v.(type) {
	case map[string]any:
		for k, x := range t {
			t[k] = walkPII(x, key, piiKeys[strings.ToLower(k)])
		}
	case []any:
		for i, x := range t {
			t[i] = walkPII(x, key, pii)
		}
	case string:
		if pii {
			return Pseudonym(t, key)
		}
	case json.Number:
		if pii {
			return Pseudonym(t.String(), key)
		}
	}
	return v
}

func pseudonymiseQuery(raw string, key []byte) string {
	q, err := url.ParseQuery(raw)
	if err != nil {
		return ""
	}
	for k, vs := range q {
		if piiKeys[strings.ToLower(k)] {
			for i := range vs {
				vs[i] = Pseudonym(vs[i], key)
			}
		}
	}
	return q.Encode()
}

// Pseudonym is a value's stand-in: the same value and key always give the same one, and it cannot be turned
// back without the key.
func Pseudonym(value string, key []byte) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(value))
	return "pseud-" + hex.EncodeToString(m.Sum(nil)[:10])
}

// ReadCapture reads a capture file line by line, calling each for every exchange; a line that does not read
// stops it with an error naming the line.
func ReadCapture(r io.Reader, each func(line int, c Captured) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 256<<20)
	n := 0
	for sc.Scan() {
		n++
		raw := bytes.TrimSpace(sc.Bytes())
		if len(raw) == 0 {
			continue
		}
		var c Captured
		dec := json.NewDecoder(bytes.NewReader(raw))
		if err := dec.Decode(&c); err != nil {
			return fmt.Errorf("line %d: expected one captured exchange as JSON, got %s: %v", n,
				redact.Text(clipLine(raw)), err)
		}
		switch {
		case c.Version > CaptureVersion:
			return fmt.Errorf("line %d: a capture of format version %d; this simulator reads version %d (a newer "+
				"simulator wrote it)", n, c.Version, CaptureVersion)
		case c.Version < 1:
			return fmt.Errorf("line %d: no format version (\"v\"): not a line of a capture file", n)
		case c.Request.Method == "" || c.Request.Path == "":
			return fmt.Errorf("line %d: the exchange has no request method or path", n)
		}
		if err := each(n, c); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return fmt.Errorf("line %d: longer than 256 MiB", n+1)
		}
		return fmt.Errorf("line %d: %w", n+1, err)
	}
	return nil
}

func clipLine(b []byte) string {
	if len(b) > 80 {
		return fmt.Sprintf("%q...", b[:80])
	}
	return fmt.Sprintf("%q", b)
}

// HTTPRequest rebuilds the captured request for the fake: its host, path, query and headers, the credentials
// standing in for the redacted ones (replay cannot know the real passcode: see Replay).
func (c Captured) HTTPRequest(passcode string) (*http.Request, []byte, error) {
	body := []byte(c.Request.Body)
	if c.Request.Base64 {
		var err error
		if body, err = base64.StdEncoding.DecodeString(c.Request.Body); err != nil {
			return nil, nil, err
		}
	}
	u := &url.URL{Scheme: "http", Host: c.Request.Host, Path: c.Request.Path, RawQuery: c.Request.Query}
	r, err := http.NewRequest(c.Request.Method, u.String(), bytes.NewReader(body))
	if err != nil {
		return nil, nil, err
	}
	for k, v := range c.Request.Headers {
		if v != redact.Mark {
			r.Header.Set(k, v)
		}
	}
	if c.Request.Account != "" {
		r.Header.Set("X-CleverTap-Account-Id", c.Request.Account)
		r.Header.Set("X-CleverTap-Passcode", passcode)
	}
	return r, body, nil
}
