package fake_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/ctharness/ctharness/bench"
	"github.com/ctharness/ctharness/simulator/clevertap/fake"
)

type discardWriter struct{ h http.Header }

func (d *discardWriter) Header() http.Header         { return d.h }
func (d *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (d *discardWriter) WriteHeader(int)             {}

// fixedSuccess is the baseline of issue 2: read the body, write a fixed success answer.
func fixedSuccess(w http.ResponseWriter, r *http.Request) {
	_, _ = io.ReadAll(r.Body)
	w.Header().Set("Content-Type", "application/json;charset=utf-8")
	_, _ = w.Write([]byte(`{"status":"success","processed":1000,"unprocessed":[]}`))
}

// decodeThenSucceed is the baseline of the performance issue: decode with encoding/json into generic values,
// then write a fixed success answer (the least work a faithful fake must do).
func decodeThenSucceed(w http.ResponseWriter, r *http.Request) {
	var body map[string]any
	_ = json.NewDecoder(r.Body).Decode(&body)
	w.Header().Set("Content-Type", "application/json;charset=utf-8")
	_, _ = w.Write([]byte(`{"status":"success","processed":1000,"unprocessed":[]}`))
}

// BenchmarkUpload runs 1000-record uploads through the real handler (validate, store, journal) and through
// the baseline in the same run; compare records/s (make bench prints the ratio).
func BenchmarkUpload(b *testing.B) {
	const records = 1000
	body := bench.UploadBody(records)
	s, err := fake.New(fake.Options{})
	if err != nil {
		b.Fatal(err)
	}
	run := func(b *testing.B, h http.Handler) {
		b.SetBytes(int64(len(body)))
		b.ReportAllocs()
		w := &discardWriter{h: http.Header{}}
		for i := 0; i < b.N; i++ {
			req, _ := http.NewRequest(http.MethodPost, "http://api.clevertap.com/1/upload", bytes.NewReader(body))
			req.Header.Set("X-CleverTap-Account-Id", "SIM-EU1-0001")
			req.Header.Set("X-CleverTap-Passcode", "sim-eu1-pass")
			h.ServeHTTP(w, req)
		}
		b.ReportMetric(float64(b.N*records)/b.Elapsed().Seconds(), "records/s")
	}
	b.Run("fake", func(b *testing.B) { run(b, s) })
	b.Run("baseline-read-only", func(b *testing.B) { run(b, http.HandlerFunc(fixedSuccess)) })
	b.Run("baseline-json-decode", func(b *testing.B) { run(b, http.HandlerFunc(decodeThenSucceed)) })
}

// BenchmarkGetEvents downloads 100,000 stored events through Get Events (the first call, then 20 pages of 5000,
// each cursor followed as a client does) and, as the baseline in the same run, through the admin API's
// /_sim/events (one filtered JSON dump of the same records); compare records/s.
func BenchmarkGetEvents(b *testing.B) {
	const records = 100_000
	s, err := fake.New(fake.Options{})
	if err != nil {
		b.Fatal(err)
	}
	body := bench.UploadBody(1000)
	for i := 0; i < records/1000; i++ {
		req, _ := http.NewRequest(http.MethodPost, "http://api.clevertap.com/1/upload", bytes.NewReader(body))
		req.Header.Set("X-CleverTap-Account-Id", "SIM-EU1-0001")
		req.Header.Set("X-CleverTap-Passcode", "sim-eu1-pass")
		s.ServeHTTP(&discardWriter{h: http.Header{}}, req)
	}
	const name = "rc_renewal_event" // bench.UploadBody's
	c := s.Client()
	get := func(b *testing.B, method, path, body string) []byte {
		req, _ := http.NewRequest(method, c.BaseURL+path, bytes.NewReader([]byte(body)))
		req.Header.Set("X-CleverTap-Account-Id", "SIM-EU1-0001")
		req.Header.Set("X-CleverTap-Passcode", "sim-eu1-pass")
		res, err := c.Do(req)
		if err != nil || res.StatusCode != 200 {
			b.Fatalf("%s %s: %v %+v", method, path, err, res)
		}
		return res.Body
	}
	query := `{"event_name":"` + name + `","from":20000101,"to":21001231}`
	b.Run("get-events", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			var page struct {
				Cursor     string            `json:"cursor"`
				NextCursor string            `json:"next_cursor"`
				Records    []json.RawMessage `json:"records"`
			}
			_ = json.Unmarshal(get(b, "POST", "/eu1/1/events.json?batch_size=5000", query), &page)
			n := 0
			for cursor := page.Cursor; cursor != ""; cursor = page.NextCursor {
				page.NextCursor, page.Records = "", nil
				_ = json.Unmarshal(get(b, "GET", "/eu1/1/events.json?cursor="+cursor, ""), &page)
				n += len(page.Records)
			}
			if n == 0 {
				b.Fatal("no records")
			}
		}
		b.ReportMetric(float64(b.N*records)/b.Elapsed().Seconds(), "records/s")
	})
	b.Run("baseline-admin-dump", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			var out struct {
				Events []json.RawMessage `json:"events"`
			}
			_ = json.Unmarshal(get(b, "GET", "/_sim/events?account=SIM-EU1-0001&name="+name, ""), &out)
			if len(out.Events) == 0 {
				b.Fatal("no records")
			}
		}
		b.ReportMetric(float64(b.N*records)/b.Elapsed().Seconds(), "records/s")
	})
}

// BenchmarkNewestPage is what the inspector asks first: the newest 100 requests of the journal. The 1,000-entry
// journal is the baseline; at 100,000 the page should cost the same (the ring is read from its newest end and
// stops after a page), which the ratio of the two shows.
func BenchmarkNewestPage(b *testing.B) {
	for _, size := range []int{1_000, 100_000} {
		b.Run(fmt.Sprintf("journal=%d", size), func(b *testing.B) {
			srv, err := fake.New(fake.Options{JournalLimit: size, EventLimit: size})
			if err != nil {
				b.Fatal(err)
			}
			for i := range size {
				body := fmt.Sprintf(`{"d":[{"type":"event","identity":"u-%d","evtName":"e","evtData":{}}]}`, i)
				req := httptest.NewRequest(http.MethodPost, "/eu1/1/upload", strings.NewReader(body))
				req.Header.Set("X-CleverTap-Account-Id", "SIM-EU1-0001")
				req.Header.Set("X-CleverTap-Passcode", "sim-eu1-pass")
				srv.ServeHTTP(&discardWriter{h: http.Header{}}, req)
			}
			b.ResetTimer()
			for b.Loop() {
				req := httptest.NewRequest(http.MethodGet, "/_sim/requests?order=newest&limit=100", nil)
				rec := httptest.NewRecorder()
				srv.ServeHTTP(rec, req)
				if rec.Code != http.StatusOK {
					b.Fatalf("GET /_sim/requests: %d %s", rec.Code, rec.Body)
				}
			}
		})
	}
}
