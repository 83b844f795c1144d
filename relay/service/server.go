package service

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/ctharness/ctharness/internal/clip"
	"github.com/ctharness/ctharness/internal/listener"
	"github.com/ctharness/ctharness/relay"
)

// retryAfter is what an overloaded relay asks vendors to wait, in seconds; they retry on their own schedules.
const retryAfter = "5"

// headerTimeout bounds reading a request's headers when intake.read_timeout is longer (net/http's
// ReadHeaderTimeout did this before the relay served through fasthttp).
const headerTimeout = 10 * time.Second

// Server is the relay's one HTTP server: cmd/relay, the harness and a story's own relay all serve through it, so
// their limits cannot drift apart. It is fasthttp rather than net/http: at saturation net/http's serving (a
// goroutine reading ahead on every connection, an answer written in several steps) took a fifth of the relay's
// CPU (docs/performance.md); the routes stay http.Handlers, served through a bounded adapter (fastRequest).
type Server struct {
	svc *Service
	fs  *fasthttp.Server
}

// Server builds the relay's server with the intake's limits: headers up to listener.MaxHeaderBytes (beyond, 431),
// a whole request within intake.read_timeout, headers within headerTimeout, answers written within
// intake.write_timeout, kept-alive connections closed after intake.idle_timeout.
func (s *Service) Server() *Server {
	in := s.built.Intake
	srv := &Server{svc: s}
	srv.fs = &fasthttp.Server{
		Handler:      srv.serve,
		ErrorHandler: srv.refuse,
		// the body is read by the handler, after the credentials in the headers and the announced length passed
		// (beforeBody); the 1-byte limit makes fasthttp hand every body over as a stream instead of reading it first
		StreamRequestBody:  true,
		MaxRequestBodySize: 1,
		ExpectHandler:      srv.expect,
		ReadBufferSize:     listener.MaxHeaderBytes, // the longest headers fasthttp reads
		ReadTimeout:        min(in.ReadTimeout, headerTimeout),
		WriteTimeout:       in.WriteTimeout,
		IdleTimeout:        in.IdleTimeout,
		// its defaults would add a Server header and a text/plain type to answers that do not say theirs
		NoDefaultServerHeader:        true,
		NoDefaultContentType:         true,
		DisablePreParseMultipartForm: true,
		SecureErrorLogMessage:        true, // its log lines never carry what a request held
		Logger:                       fastLogger{s},
		CloseOnShutdown:              true,
	}
	// the body gets the rest of the window once the headers are in: fasthttp tells the handler nothing of when
	// they began, so the rest is counted from headerTimeout, a whole request never past intake.read_timeout
	if in.ReadTimeout > headerTimeout {
		srv.fs.HeaderReceived = func(*fasthttp.RequestHeader) fasthttp.RequestConfig {
			return fasthttp.RequestConfig{ReadTimeout: in.ReadTimeout - headerTimeout}
		}
	}
	return srv
}

// Serve serves on ln, bounded by Listener, until Shutdown or Close.
func (srv *Server) Serve(ln net.Listener) error { return srv.fs.Serve(srv.svc.Listener(ln)) }

// Shutdown stops taking connections and waits, until ctx ends, for the requests being handled.
func (srv *Server) Shutdown(ctx context.Context) error { return srv.fs.ShutdownWithContext(ctx) }

// Close stops taking connections and gives the requests being handled a second.
func (srv *Server) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := srv.fs.ShutdownWithContext(ctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return nil
}

// Listener caps the relay's open connections at intake.max_connections (beyond it a connection gets 503 +
// Retry-After and is closed) and refuses a request that announces its body both ways (400, closed).
func (s *Service) Listener(ln net.Listener) net.Listener {
	jsonType := http.Header{"Content-Type": {"application/json"}}
	busy := listener.Answer(http.StatusServiceUnavailable, http.Header{"Content-Type": {"application/json"},
		"Retry-After": {retryAfter}}, fmt.Sprintf(
		`{"status":"error","error":"the relay holds its limit of %d connections (intake.max_connections); `+
			`retry later"}`, s.built.Intake.MaxConnections))
	smuggled := listener.Answer(http.StatusBadRequest, jsonType, `{"status":"error","error":"expected Content-Length or `+
		`Transfer-Encoding, got both: refused as request smuggling (RFC 9112 section 6.1)"}`)
	limited := listener.Limit(listener.Guard(ln, smuggled), s.built.Intake.MaxConnections, busy)
	s.conns.Store(limited)
	return limited
}

// crowded says whether the relay's connections are near their cap (then answers close their connections).
func (s *Service) crowded() bool {
	l := s.conns.Load()
	return l != nil && l.Crowded()
}

// serve answers a request: a webhook route's straight from the connection (webhook), any other through the
// relay's routes as an http.Request whose body is the connection's stream.
func (srv *Server) serve(ctx *fasthttp.RequestCtx) {
	defer func() {
		// net/http recovers a handler's panic and drops the connection; nothing a request holds may end the process
		if p := recover(); p != nil {
			srv.svc.log.Error("handler panicked; answering 500", "method", clip.Text(string(ctx.Method()), 20),
				"path", clip.Text(string(ctx.URI().PathOriginal()), 200), "panic", fmt.Sprint(p))
			ctx.Response.Reset()
			writeAnswer(ctx, http.StatusInternalServerError, answer{Status: "error", Error: "internal error"})
			ctx.SetConnectionClose()
		}
	}()
	if src, ok := srv.svc.webhookAt(ctx.URI().PathOriginal(), ctx.Method()); ok {
		srv.webhook(ctx, src)
		return
	}
	r, body, err := fastRequest(ctx)
	if err != nil {
		writeAnswer(ctx, http.StatusBadRequest, answer{Status: "error", Error: err.Error()})
		ctx.SetConnectionClose()
		return
	}
	w := &fastResponse{ctx: ctx, header: make(http.Header, 2)}
	srv.svc.ServeHTTP(w, r)
	w.commit()
	body.lingerIfLeft(ctx, r.ContentLength)
}

// webhook is handleWebhook without building an http.Request and its answer's http.Header: the relay's one hot path
// (the adapter cost about a sixth of what fasthttp saves, docs/performance.md).
func (srv *Server) webhook(ctx *fasthttp.RequestCtx, src relay.Source) {
	s := srv.svc
	start := time.Now()
	s.received.Add(1)
	rh := &ctx.Request.Header
	var body *streamBody
	wh := webhook{method: http.MethodPost, header: fastHeader(rh), length: int64(rh.ContentLength()), body: http.NoBody}
	if !rh.IsPost() {
		wh.method = string(rh.Method())
	}
	switch {
	case wh.length == -2: // neither Content-Length nor chunked: no body (RFC 9112 section 6.3)
		wh.length = 0
	case wh.length != 0:
		body = &streamBody{r: ctx.RequestBodyStream()}
		wh.body = body
	}
	if q := ctx.URI().QueryString(); len(q) > 0 {
		wh.rawQuery = string(q)
	}
	outcome, status, a := s.admit(src, wh)
	s.noteWebhook(ctx, src.Name(), outcome, status, a, ctx.RemoteAddr(), start)
	if s.crowded() { // kept-alive connections must not hold every place while other senders wait
		ctx.SetConnectionClose()
	}
	answerWebhook(ctx, status, a)
	body.lingerIfLeft(ctx, wh.length)
}

// expect answers "Expect: 100-continue": a webhook refused by what its headers say gets its refusal at once, never
// "100 Continue" (a sender would then send a body only to have it refused).
func (srv *Server) expect(ctx *fasthttp.RequestCtx) int {
	s := srv.svc
	src, ok := s.webhookAt(ctx.URI().PathOriginal(), ctx.Method())
	if !ok {
		return fasthttp.StatusContinue
	}
	start := time.Now()
	outcome, status, a := s.beforeBody(src, fastHeader(&ctx.Request.Header), int64(ctx.Request.Header.ContentLength()))
	if outcome == "" {
		return fasthttp.StatusContinue
	}
	s.received.Add(1)
	s.noteWebhook(ctx, src.Name(), outcome, status, a, ctx.RemoteAddr(), start)
	answerWebhook(ctx, status, a)
	return status
}

// webhookAt is the source whose webhook route is exactly path (as sent: a path the router would clean or decode
// first goes through it) with method.
func (s *Service) webhookAt(path, method []byte) (relay.Source, bool) {
	name, ok := bytes.CutPrefix(path, []byte("/webhooks/"))
	if !ok {
		return nil, false
	}
	src, ok := s.sources[string(name)]
	if !ok {
		return nil, false
	}
	for _, m := range src.Methods() {
		if m == string(method) {
			return src, true
		}
	}
	return nil, false
}

// refuse answers a request fasthttp could not read, in the relay's JSON: headers over the limit, the read timeout,
// anything not HTTP/1.x.
func (srv *Server) refuse(ctx *fasthttp.RequestCtx, err error) {
	var small *fasthttp.ErrSmallBuffer
	var ne net.Error
	switch {
	case errors.As(err, &small):
		writeAnswer(ctx, http.StatusRequestHeaderFieldsTooLarge, answer{Status: "error", Error: fmt.Sprintf(
			"expected request headers of at most %d bytes, got more", listener.MaxHeaderBytes)})
	case errors.As(err, &ne) && ne.Timeout():
		writeAnswer(ctx, http.StatusRequestTimeout, answer{Status: "error", Error: fmt.Sprintf(
			"expected the whole request within %s (intake.read_timeout), got part of it",
			srv.svc.built.Intake.ReadTimeout)})
	default:
		// fasthttp's text may quote the request: bounded, and JSON-escaped by writeAnswer
		writeAnswer(ctx, http.StatusBadRequest, answer{Status: "error", Error: "expected an HTTP/1.1 request, got " +
			"one that could not be read: " + clip.Text(err.Error(), 200)})
	}
}

// answerWebhook is a webhook's answer: a 503 says when to retry.
func answerWebhook(ctx *fasthttp.RequestCtx, status int, a answer) {
	if status == http.StatusServiceUnavailable {
		ctx.Response.Header.Set("Retry-After", retryAfter)
	}
	writeAnswer(ctx, status, a)
}

// writeAnswer sets the relay's JSON answer on ctx, as httpjson.WriteEncoded does on an http.ResponseWriter.
func writeAnswer(ctx *fasthttp.RequestCtx, status int, a answer) {
	ctx.SetStatusCode(status)
	ctx.SetContentType("application/json")
	ctx.Response.SetBodyRaw(append(a.appendJSON(make([]byte, 0, 160)), '\n'))
}

// fastRequest is ctx's request as net/http would have built it, its body the connection's stream (the handlers
// bound what they read; fasthttp drains up to 256 KiB of what they leave, then closes the connection).
func fastRequest(ctx *fasthttp.RequestCtx) (*http.Request, *streamBody, error) {
	uri := string(ctx.RequestURI())
	u, err := url.ParseRequestURI(uri)
	if err != nil {
		return nil, nil, fmt.Errorf("expected a request target such as /webhooks/revenuecat, got %q", clip.Text(uri, 200))
	}
	rh := &ctx.Request.Header
	r := &http.Request{Method: string(rh.Method()), URL: u, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: fastHeader(rh), Host: string(rh.Host()), RemoteAddr: ctx.RemoteAddr().String(), RequestURI: uri,
		Body: http.NoBody}
	if !rh.IsHTTP11() {
		r.Proto, r.ProtoMinor = "HTTP/1.0", 0
	}
	switch n := rh.ContentLength(); {
	case n == -1: // chunked
		r.ContentLength, r.TransferEncoding = -1, []string{"chunked"}
	case n > 0:
		r.ContentLength = int64(n)
	}
	var body *streamBody
	if r.ContentLength != 0 {
		body = &streamBody{r: ctx.RequestBodyStream()}
		r.Body = body
	}
	return r.WithContext(ctx), body, nil
}

// fastHeader is a request's headers as net/http keeps them: Host and Transfer-Encoding are not among them.
func fastHeader(rh *fasthttp.RequestHeader) http.Header {
	h := make(http.Header, rh.Len())
	for k, v := range rh.All() {
		key := string(k)
		if key == "Host" || key == "Transfer-Encoding" {
			continue
		}
		h[key] = append(h[key], string(v))
	}
	return h
}

// streamBody is a request's body stream, and how much of it the handler read; closing it leaves the rest to the
// server, which drains up to 256 KiB of it or closes the connection.
type streamBody struct {
	r    io.Reader
	read int64
	done bool
}

func (b *streamBody) Read(p []byte) (int, error) {
	if b.r == nil {
		return 0, io.EOF
	}
	n, err := b.r.Read(p)
	b.read += int64(n)
	b.done = err == io.EOF
	return n, err
}

func (*streamBody) Close() error { return nil }

// lingerIfLeft makes the connection linger when it is closed (listener.LingerFor) if the handler left part of a
// body of length (-1: chunked) unread: a sender still writing a body the relay refused then reads the refusal
// instead of a reset. net/http did this on its own.
func (b *streamBody) lingerIfLeft(ctx *fasthttp.RequestCtx, length int64) {
	if b == nil || b.done || (length >= 0 && b.read >= length) {
		return
	}
	if c, ok := ctx.Conn().(interface{ Linger() }); ok {
		c.Linger()
	}
}

// fastResponse gathers what a handler answers into ctx's response; the headers are taken when the status is
// written, as net/http takes them.
type fastResponse struct {
	ctx       *fasthttp.RequestCtx
	header    http.Header
	status    int
	committed bool
}

func (w *fastResponse) Header() http.Header { return w.header }

func (w *fastResponse) WriteHeader(status int) {
	if w.committed {
		return
	}
	w.committed, w.status = true, status
	w.ctx.SetStatusCode(status)
	for k, vs := range w.header {
		for _, v := range vs {
			w.ctx.Response.Header.Add(k, v)
		}
	}
}

func (w *fastResponse) Write(p []byte) (int, error) {
	if !w.committed {
		if w.header.Get("Content-Type") == "" {
			w.header.Set("Content-Type", http.DetectContentType(p))
		}
		w.WriteHeader(http.StatusOK)
	}
	w.ctx.Response.AppendBody(p)
	return len(p), nil
}

// commit writes the status of a handler that wrote nothing (net/http answers 200).
func (w *fastResponse) commit() { w.WriteHeader(http.StatusOK) }

// fastLogger sends fasthttp's own lines (connections it gave up on) to the relay's log, at debug: a stranger can
// cause them at will.
type fastLogger struct{ s *Service }

func (l fastLogger) Printf(format string, args ...any) {
	l.s.log.Debug("http: " + fmt.Sprintf(format, args...))
}
