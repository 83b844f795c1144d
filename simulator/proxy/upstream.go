package proxy

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/ctharness/ctharness/internal/redact"
	"github.com/ctharness/ctharness/simulator/clevertap/fake"
)

// checkUpstream refuses a base URL the proxy could not send to.
func checkUpstream(template string) error {
	u, err := url.Parse(strings.ReplaceAll(template, "{region}", "eu1"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" {
		return fmt.Errorf("--upstream: expected a base URL like %s (with {region} where the region goes), got %q",
			DefaultUpstream, template)
	}
	return nil
}

// NewTransport is the proxy's way to the upstream: the system's roots plus roots (a private CA), TLS 1.2 or
// later, bounded dialing and handshakes, the answer's headers within timeout, no compression asked for (the
// caller's Accept-Encoding goes as sent), HTTP/2 when the upstream offers it.
func NewTransport(roots []*x509.Certificate, timeout time.Duration) *http.Transport {
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	for _, c := range roots {
		pool.AddCert(c)
	}
	return &http.Transport{
		DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSClientConfig:       &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12},
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: timeout,
		ExpectContinueTimeout: time.Second,
		MaxIdleConnsPerHost:   64,
		IdleConnTimeout:       90 * time.Second,
		DisableCompression:    true,
		ForceAttemptHTTP2:     true,
	}
}

// errUpstreamTimeout is an upstream that did not answer in time.
var errUpstreamTimeout = errors.New("upstream timeout")

// upstreamAnswer is what came back: the status, headers and the body read (whole, or the first MaxAnswerBytes and
// the rest to pass on unread).
type upstreamAnswer struct {
	status int
	header http.Header
	body   []byte
	whole  bool
	rest   io.ReadCloser
}

// send is the request as the caller sent it (method, path, query, headers, body) to the region's real host. It
// is sent once: a write is never retried (CleverTap does not de-duplicate events), and a redirect is passed back
// to the caller, not followed.
func (p *Proxy) send(r *http.Request, body []byte) (*upstreamAnswer, error) {
	target, err := p.target(r)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(r.Context(), p.opts.Timeout)
	late := func(what string) error {
		return fmt.Errorf("%w: %s %s within %s (--upstream-timeout)", errUpstreamTimeout, redact.URL(target.String()),
			what, p.opts.Timeout)
	}
	out, err := http.NewRequestWithContext(ctx, r.Method, target.String(), bytes.NewReader(body))
	if err != nil {
		cancel()
		return nil, err
	}
	copyHeader(out.Header, r.Header)
	out.Header.Del("Host")
	if _, ok := r.Header["User-Agent"]; !ok {
		out.Header["User-Agent"] = nil // Go would add its own
	}
	out.ContentLength = int64(len(body))
	if len(body) == 0 && r.ContentLength <= 0 {
		out.Body = http.NoBody
	}
	res, err := p.opts.Transport.RoundTrip(out)
	if ctx.Err() != nil && r.Context().Err() == nil {
		// past the deadline, an answer too is a timeout: net/http hands back one that raced the deadline, and what
		// an upstream says once we hung up (the fake once wrote a bare 200) is not its answer to the request
		if err == nil {
			res.Body.Close()
		}
		cancel()
		return nil, late("did not answer")
	}
	if err != nil {
		cancel()
		return nil, fmt.Errorf("the upstream %s could not be reached: %s", redact.URL(target.String()),
			redact.Text(err.Error()))
	}
	a := &upstreamAnswer{status: res.StatusCode, header: res.Header}
	a.body, err = io.ReadAll(io.LimitReader(res.Body, p.opts.MaxAnswerBytes))
	if err != nil {
		timedOut := ctx.Err() != nil
		res.Body.Close()
		cancel()
		if timedOut {
			return nil, late("stopped answering")
		}
		return nil, fmt.Errorf("reading the answer of %s failed: %s", redact.URL(target.String()),
			redact.Text(err.Error()))
	}
	if int64(len(a.body)) < p.opts.MaxAnswerBytes {
		a.whole = true
		res.Body.Close()
		cancel()
		return a, nil
	}
	a.rest = cancelOnClose{res.Body, cancel}
	return a, nil
}

// target is the upstream URL for a request: the region's base and the path below any region prefix.
func (p *Proxy) target(r *http.Request) (*url.URL, error) {
	region, ok := fake.RegionOf(r.Host, r.URL.Path)
	if !ok {
		return nil, fmt.Errorf("host %s names no CleverTap region: not forwarded", r.Host)
	}
	u, err := url.Parse(strings.ReplaceAll(p.opts.Upstream, "{region}", string(region)))
	if err != nil {
		return nil, err
	}
	u.Path = strings.TrimSuffix(u.Path, "/") + fake.APIPath(r.Host, r.URL.Path)
	u.RawQuery = r.URL.RawQuery
	return u, nil
}

type cancelOnClose struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (c cancelOnClose) Close() error {
	err := c.ReadCloser.Close()
	c.cancel()
	return err
}
