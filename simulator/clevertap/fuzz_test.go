package clevertap

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// FuzzUpload feeds arbitrary bodies to the upload validator: it must never panic, must answer either a
// request-level error or one outcome per record, and its answer must be valid JSON whose counts add up.
// Its seed corpus (the vendor's upload samples and hand-made edge cases) runs in every `go test`.
func FuzzUpload(f *testing.F) {
	samples, _ := filepath.Glob(filepath.Join("..", "..", "fixtures", "vendor-samples", "revenuecat", "clevertap-uploads",
		"*.json"))
	for _, p := range samples {
		if body, err := os.ReadFile(p); err == nil {
			f.Add(body)
		}
	}
	for _, seed := range []string{
		``, `{}`, `[]`, `null`, `{"d":null}`, `{"d":[]}`, `{"d":[null,1,"x",[],{}]}`,
		`{"d":[{"type":"event","identity":"u","ts":1e20,"evtName":"x","evtData":{}}]}`,
		`{"d":[{"type":"event","identity":"u","ts":-0,"evtName":"x","evtData":{"a":{"b":{"c":[1,{"d":2}]}}}}]}`,
		`{"d":[{"type":"profile","identity":"u","profileData":{"Age":1e400,"Phone":"+","Email":"@."}}]}`,
		`{"d":[{"type":"token","objectId":"","tokenData":{"id":"","type":"chrome","keys":null}}]}`,
		`{"d":[{"type":"event","identity":"\u0000\ud800","evtName":"\u00e9","evtData":{"\u0000":"\ud83d\ude00"}}]}`,
		`{"d":[{"type":"event","type":"profile","identity":"u","evtName":"x"}]}`,
		"{\"d\":[{\"type\":\"event\",\"identity\":\"\xff\xfe\"}]}",
	} {
		f.Add([]byte(seed))
	}
	acct := testAccount()
	f.Fuzz(func(t *testing.T, body []byte) {
		batch, reqErr := validateUpload(body, acct, testLimits)
		if reqErr != nil {
			if reqErr.status != 400 || reqErr.text == "" {
				t.Fatalf("request error must be a 400 with a text, got %+v", reqErr)
			}
			return
		}
		if len(batch.accepted)+len(batch.rejected) != batch.total {
			t.Fatalf("%d records but %d accepted + %d rejected", batch.total, len(batch.accepted), len(batch.rejected))
		}
		resp := appendUploadResponse(nil, batch)
		var decoded UploadResponse
		if err := json.Unmarshal(resp, &decoded); err != nil {
			t.Fatalf("answer is not JSON: %v\n%s", err, resp)
		}
		if decoded.Processed != len(batch.accepted) || len(decoded.Unprocessed) != len(batch.rejected) {
			t.Fatalf("answer counts %d/%d differ from the batch %d/%d", decoded.Processed, len(decoded.Unprocessed),
				len(batch.accepted), len(batch.rejected))
		}
		for _, rec := range batch.accepted {
			if !json.Valid(rec.raw.of(batch.buf)) {
				t.Fatalf("stored record is not valid JSON: %q", rec.raw.of(batch.buf))
			}
		}
	})
}
