package listener

import (
	"bytes"
	"fmt"
	"net/http"
	"strconv"
)

// MaxHeaderBytes bounds a request's headers on every server here (64 KiB; beyond it Go answers 431).
const MaxHeaderBytes = 64 << 10

// Answer is a whole HTTP/1.1 answer that closes the connection: what a listener writes to a connection it refuses
// before any handler sees it. Header values are written as http.Header writes them (line breaks removed).
func Answer(status int, header http.Header, body string) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "HTTP/1.1 %d %s\r\n", status, http.StatusText(status))
	h := header.Clone()
	if h == nil {
		h = http.Header{}
	}
	h.Set("Content-Length", strconv.Itoa(len(body)))
	h.Set("Connection", "close")
	_ = h.Write(&b)
	b.WriteString("\r\n")
	b.WriteString(body)
	return b.Bytes()
}
