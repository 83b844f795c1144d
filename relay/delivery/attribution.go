package delivery

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sort"

	"github.com/ctharness/ctharness/relay"
	"github.com/ctharness/ctharness/relay/outbox"
)

// attribution is CleverTap's attribution-partner endpoint: one event per GET, its parameters and the account's
// credentials in the query; a 2xx answer means it was taken.
type attribution struct{}

func (attribution) take(jobs []outbox.Job, _ Settings) ([]outbox.Job, []outbox.Job) {
	return []outbox.Job{jobs[0]}, jobs[1:]
}

// full: every call is one event, so none waits for another.
func (attribution) full([]outbox.Job, Settings) bool { return true }

func (attribution) build(s Settings, ep relay.Endpoint, batch []outbox.Job) (*http.Request, error) {
	var params map[string]string
	if err := json.Unmarshal(batch[0].Payload, &params); err != nil {
		return nil, fmt.Errorf("attribution parameters: %v", err)
	}
	q := url.Values{}
	keys := make([]string, 0, len(params))
	for k := range params {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		q.Set(k, params[k])
	}
	for k, v := range map[string]string{"account_id": ep.AccountID, "account_token": ep.Token,
		"account_passcode": ep.Passcode} {
		if v != "" {
			q.Set(k, v)
		}
	}
	return http.NewRequest(http.MethodGet, CleverTapBase(s.CleverTapEndpoint, ep.Region)+"/attribution?"+q.Encode(), nil)
}

func (attribution) answer(batch []outbox.Job, _ int, _ []byte) outcome {
	return outcome{done: batch, label: "success"}
}
