package delivery

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/ctharness/ctharness/relay"
	"github.com/ctharness/ctharness/relay/outbox"
)

// pianoCollect is Piano Analytics' collection request: the events of one visitor (up to PianoMaxBatch) in
// {"events":[...]} posted to the site's collect domain and path; a 2xx answer means they were taken.
type pianoCollect struct{}

func (pianoCollect) take(jobs []outbox.Job, s Settings) ([]outbox.Job, []outbox.Job) {
	group := jobs[0].Group
	var batch []outbox.Job
	rest := jobs[:0:0]
	for _, j := range jobs {
		if j.Group == group && len(batch) < s.PianoMaxBatch {
			batch = append(batch, j)
		} else {
			rest = append(rest, j)
		}
	}
	return batch, rest
}

// full: a request is one visitor's events, so visitors' requests do not wait for each other.
func (pianoCollect) full([]outbox.Job, Settings) bool { return true }

func (pianoCollect) build(s Settings, ep relay.Endpoint, batch []outbox.Job) (*http.Request, error) {
	target := strings.ReplaceAll(s.PianoEndpoint, "{domain}", ep.Domain) + "/" + ep.Path +
		"?s=" + url.QueryEscape(ep.SiteID) + "&idclient=" + url.QueryEscape(batch[0].Group)
	req, err := http.NewRequest(http.MethodPost, target, envelope("events", batch))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "text/plain")
	return req, nil
}

func (pianoCollect) answer(batch []outbox.Job, _ int, _ []byte) outcome {
	return outcome{done: batch, label: "success"}
}
