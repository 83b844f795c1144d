package proxy

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ctharness/ctharness/simulator"
	"github.com/ctharness/ctharness/simulator/clevertap/fake"
)

// BenchmarkJudgeUpload1000 is the judgement of one answered 1000-record upload: the fake's check, the verdict,
// lint, drift, the journal entry and the capture line.
func BenchmarkJudgeUpload1000(b *testing.B) {
	var sb strings.Builder
	sb.WriteString(`{"d":[`)
	for i := range 1000 {
		if i > 0 {
			sb.WriteByte(',')
		}
		fmt.Fprintf(&sb, `{"type":"event","identity":"u%d","ts":%d,"evtName":"rc_renewal_event","evtData":`+
			`{"amount":4.99,"currency":"USD","product_id":"monthly.sub.1","store":"APP_STORE"}}`, i, 1700000000+i)
	}
	sb.WriteString(`]}`)
	body := []byte(sb.String())
	v := viewForBench(b)
	p, err := New(Options{Upstream: "https://{region}.api.clevertap.com", View: v, Capture: io.Discard})
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	req, _ := http.NewRequest(http.MethodPost, "http://127.0.0.1:8082/eu1/1/upload", nil)
	req.Header.Set("X-CleverTap-Account-Id", "SIM-EU1-0001")
	req.Header.Set("X-CleverTap-Passcode", "sim-eu1-pass")
	answer := []byte(`{"status":"success","processed":1000,"unprocessed":[]}`)
	b.SetBytes(int64(len(body)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		p.judge(&exchange{received: time.Now(), request: req, body: body, status: 200, answer: answer, whole: true})
	}
}

func viewForBench(b *testing.B) *simulator.Simulator {
	b.Helper()
	v, err := simulator.New(simulator.Config{}, fake.Options{})
	if err != nil {
		b.Fatal(err)
	}
	return v
}
