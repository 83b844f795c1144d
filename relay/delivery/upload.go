package delivery

import (
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/ctharness/ctharness/internal/clip"
	"github.com/ctharness/ctharness/relay"
	"github.com/ctharness/ctharness/relay/outbox"
)

// upload is CleverTap's POST /1/upload: up to MaxBatch records in {"d":[...]}, the account's id and passcode in
// headers, and an answer that says per record what was processed.
type upload struct{}

func (upload) take(jobs []outbox.Job, s Settings) ([]outbox.Job, []outbox.Job) {
	n := min(len(jobs), s.MaxBatch)
	return append([]outbox.Job(nil), jobs[:n]...), jobs[n:]
}

func (upload) full(jobs []outbox.Job, s Settings) bool { return len(jobs) >= s.MaxBatch }

func (upload) build(s Settings, ep relay.Endpoint, batch []outbox.Job) (*http.Request, error) {
	req, err := http.NewRequest(http.MethodPost, CleverTapBase(s.CleverTapEndpoint, ep.Region)+"/1/upload",
		envelope("d", batch))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	req.Header.Set("X-CleverTap-Account-Id", ep.AccountID)
	req.Header.Set("X-CleverTap-Passcode", ep.Passcode)
	return req, nil
}

// uploadAnswer is CleverTap's upload answer.
type uploadAnswer struct {
	Status      string `json:"status"`
	Processed   int    `json:"processed"`
	Unprocessed []struct {
		Code   int             `json:"code"`
		Error  string          `json:"error"`
		Record json.RawMessage `json:"record"`
	} `json:"unprocessed"`
}

// answer reads success/partial/fail: refused records go to the dead letters with their code and text,
// matched to jobs by their canonical JSON; the others were processed.
func (upload) answer(batch []outbox.Job, status int, body []byte) outcome {
	var a uploadAnswer
	if err := json.Unmarshal(body, &a); err != nil || a.Status == "" {
		return retryAll(batch, fmt.Sprintf("HTTP %d with an unreadable answer %s", status, clip.Text(string(body), 300)))
	}
	if a.Status == "success" && len(a.Unprocessed) == 0 {
		return outcome{done: batch, label: "success"}
	}
	byRecord := map[string][]int{}
	for i, j := range batch {
		k := canonical(j.Payload)
		byRecord[k] = append(byRecord[k], i)
	}
	refused := map[int]outbox.DeadLetter{}
	for _, u := range a.Unprocessed {
		k := canonical(u.Record)
		idx := byRecord[k]
		if len(idx) == 0 {
			continue
		}
		i := idx[0]
		byRecord[k] = idx[1:]
		refused[i] = outbox.DeadLetter{Job: batch[i], Status: status, Code: u.Code, Reason: u.Error}
	}
	out := outcome{label: "partial"}
	for i, j := range batch {
		if dl, ok := refused[i]; ok {
			out.dead = append(out.dead, dl)
		} else {
			out.done = append(out.done, j)
		}
	}
	return out
}

func canonical(raw json.RawMessage) string {
	var v any
	if json.Unmarshal(raw, &v) != nil {
		return string(raw)
	}
	b, _ := json.Marshal(v)
	return string(b)
}
