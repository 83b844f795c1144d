// Package redact takes credentials out of what the harness shows and keeps: request headers in the journal, URLs
// in reports, logs, dead letters and error messages. A credential can sit in a header (Authorization,
// Proxy-Authorization, X-CleverTap-Passcode, X-Api-Key, a cookie), in a URL's userinfo (http://alice:PW@host/)
// or in a query parameter (CleverTap's attribution call carries account_passcode; many hooks carry ?token=).
package redact

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
)

// Mark replaces a credential's value.
const Mark = "REDACTED"

// secretWords mark a header or parameter name as carrying a credential wherever they appear in it.
var secretWords = []string{"passcode", "password", "passwd", "secret", "token", "apikey", "api-key", "api_key",
	"authorization", "cookie", "credential"}

// secretNames are whole names that carry a credential.
var secretNames = []string{"key", "auth", "pass", "pwd"}

// Secret says whether a header or query parameter of this name carries a credential.
func Secret(name string) bool {
	n := strings.ToLower(name)
	for _, w := range secretWords {
		if strings.Contains(n, w) {
			return true
		}
	}
	for _, w := range secretNames {
		if n == w {
			return true
		}
	}
	return false
}

// Headers flattens headers for a journal, one value per name, credentials replaced by Mark.
func Headers(h http.Header) map[string]string {
	out := make(map[string]string, len(h))
	for k, v := range h {
		if Secret(k) {
			out[k] = Mark
		} else {
			out[k] = strings.Join(v, ", ")
		}
	}
	return out
}

// Query encodes a query with the values of credential parameters replaced by Mark.
func Query(q url.Values) string {
	if len(q) == 0 {
		return ""
	}
	clean := make(url.Values, len(q))
	for k, v := range q {
		if Secret(k) {
			clean[k] = []string{Mark}
		} else {
			clean[k] = v
		}
	}
	return clean.Encode()
}

// userinfo finds what URL-like text carries before an @ in its authority, for text that does not parse as a URL.
var userinfo = regexp.MustCompile(`(?i)([a-z][a-z0-9+.-]*://)[^/?#@\s]*@`)

// URL is raw with its userinfo password and the values of credential parameters replaced by Mark; the user name
// stays, to say whose it was. Text that does not parse as a URL loses everything between :// and an @.
func URL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return userinfo.ReplaceAllString(raw, "${1}"+Mark+"@")
	}
	changed := false
	if u.User != nil {
		if _, has := u.User.Password(); has {
			u.User, changed = url.UserPassword(u.User.Username(), Mark), true
		}
	}
	if u.RawQuery != "" {
		q, err := url.ParseQuery(u.RawQuery)
		switch {
		case err != nil:
			u.RawQuery, changed = Mark, true
		case hasSecret(q):
			u.RawQuery, changed = Query(q), true
		}
	}
	if !changed {
		return raw // as given: re-encoding would change what the user recognises
	}
	return u.String()
}

func hasSecret(q url.Values) bool {
	for k := range q {
		if Secret(k) {
			return true
		}
	}
	return false
}

// Text replaces, in free text such as an error message, every URL's credentials as URL does.
func Text(s string) string {
	return urlInText.ReplaceAllStringFunc(s, URL)
}

// urlInText finds http(s) URLs in text, up to a space or a quote.
var urlInText = regexp.MustCompile(`(?i)https?://[^\s"'<>]+`)
