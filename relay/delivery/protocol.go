package delivery

import (
	"bytes"
	"fmt"
	"net/http"
	"strings"

	"github.com/ctharness/ctharness/relay"
	"github.com/ctharness/ctharness/relay/outbox"
)

// protocol is one destination kind's wire: how jobs are batched into a request, how the request is built with the
// endpoint's credentials, and what a 2xx answer means for each job. One file per protocol: upload.go,
// attribution.go, piano.go.
type protocol interface {
	// take splits the next batch off the queue's jobs.
	take(jobs []outbox.Job, s Settings) (batch, rest []outbox.Job)
	// full says whether jobs, the front of a queue or a batch taken, make a batch as large as the protocol
	// sends: only a partial one waits for the uploads in flight (Settings.MaxPartialUploads).
	full(jobs []outbox.Job, s Settings) bool
	build(s Settings, ep relay.Endpoint, batch []outbox.Job) (*http.Request, error)
	answer(batch []outbox.Job, status int, body []byte) outcome
}

// protocols are the destination kinds the relay delivers to.
var protocols = map[relay.Kind]protocol{
	relay.KindUpload:      upload{},
	relay.KindAttribution: attribution{},
	relay.KindPiano:       pianoCollect{},
}

// unknownKind refuses every job of a destination whose kind the relay cannot deliver.
type unknownKind struct{ kind relay.Kind }

func (u unknownKind) take(jobs []outbox.Job, _ Settings) ([]outbox.Job, []outbox.Job) {
	return jobs, nil
}

func (u unknownKind) full([]outbox.Job, Settings) bool { return true }

func (u unknownKind) build(Settings, relay.Endpoint, []outbox.Job) (*http.Request, error) {
	return nil, fmt.Errorf("unknown delivery kind %q", u.kind)
}

func (u unknownKind) answer(batch []outbox.Job, _ int, _ []byte) outcome { return outcome{done: batch} }

func protocolFor(kind relay.Kind) protocol {
	if p, ok := protocols[kind]; ok {
		return p
	}
	return unknownKind{kind}
}

// envelope is {"<key>":[payload,...]}: CleverTap's {"d":[...]} and Piano's {"events":[...]}.
func envelope(key string, batch []outbox.Job) *bytes.Buffer {
	size := len(key) + len(`{"":[]}`)
	for _, j := range batch {
		size += len(j.Payload) + 1
	}
	buf := bytes.NewBuffer(make([]byte, 0, size)) // grown by doubling, it was 6% of what the relay allocated
	buf.WriteString(`{"` + key + `":[`)
	for i, j := range batch {
		if i > 0 {
			buf.WriteByte(',')
		}
		buf.Write(j.Payload)
	}
	buf.WriteString("]}")
	return buf
}

// CleverTapBase is the template with the region filled in.
func CleverTapBase(template, region string) string {
	return strings.TrimSuffix(strings.ReplaceAll(template, "{region}", region), "/")
}
