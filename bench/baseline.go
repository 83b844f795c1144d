package bench

import (
	"encoding/json"
	"io"
	"net/http"
)

// IngestBaseline is the least work any faithful fake must do with an upload: decode the body with encoding/json
// into generic values and write a fixed success answer.
func IngestBaseline() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body map[string]any
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json;charset=utf-8")
		_, _ = w.Write([]byte(`{"status":"success","processed":1000,"unprocessed":[]}`))
	})
}

// NoOpWebhook is the relay's baseline: it reads the webhook and answers 200 without looking at it.
func NoOpWebhook() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"status":"accepted"}`))
	})
}
