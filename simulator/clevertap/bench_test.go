package clevertap_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"testing"

	"github.com/ctharness/ctharness/bench"
	"github.com/ctharness/ctharness/simulator/clevertap"
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
	s, err := clevertap.New(clevertap.Options{})
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
