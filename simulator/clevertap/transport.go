package clevertap

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
)

// InProcessTransport serves requests by calling a handler directly: no listener, no port, no httptest. A reset
// fault surfaces as a transport error, as a dropped connection does over the network.
type InProcessTransport struct {
	Handler http.Handler
}

// errConnectionReset is what a client sees when a reset fault drops its in-process "connection".
var errConnectionReset = errors.New("connection reset by peer (simulated)")

// RoundTrip runs the handler on a server-side copy of the request and returns what it wrote.
func (t InProcessTransport) RoundTrip(req *http.Request) (resp *http.Response, err error) {
	srvReq := req.Clone(req.Context())
	srvReq.RequestURI = req.URL.RequestURI()
	srvReq.RemoteAddr = "127.0.0.1:0"
	if srvReq.Host == "" {
		srvReq.Host = req.URL.Host
	}
	if srvReq.Body == nil {
		srvReq.Body = http.NoBody
	}
	rec := &responseRecorder{header: http.Header{}, status: http.StatusOK}
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				resp, err = nil, errConnectionReset
				return
			}
			resp, err = nil, fmt.Errorf("in-process handler panicked: %v", v)
		}
	}()
	t.Handler.ServeHTTP(rec, srvReq)
	if req.Body != nil {
		_ = req.Body.Close()
	}
	return &http.Response{
		Status:        fmt.Sprintf("%d %s", rec.status, http.StatusText(rec.status)),
		StatusCode:    rec.status,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        rec.header,
		Body:          io.NopCloser(bytes.NewReader(rec.body.Bytes())),
		ContentLength: int64(rec.body.Len()),
		Request:       req,
	}, nil
}

// responseRecorder is the minimal http.ResponseWriter the in-process transport needs.
type responseRecorder struct {
	header      http.Header
	status      int
	wroteHeader bool
	body        bytes.Buffer
}

func (r *responseRecorder) Header() http.Header { return r.header }

func (r *responseRecorder) WriteHeader(status int) {
	if r.wroteHeader {
		return
	}
	r.status, r.wroteHeader = status, true
}

func (r *responseRecorder) Write(p []byte) (int, error) {
	r.WriteHeader(http.StatusOK)
	return r.body.Write(p)
}
