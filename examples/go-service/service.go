// Command rcservice is a small webhook service of the kind this harness tests: it takes RevenueCat webhooks and
// uploads CleverTap events under its own names. Its tests (service_test.go) use the harness in process.
package main

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"time"
)

// Config is where the service uploads and what it expects from RevenueCat.
type Config struct {
	// CleverTapURL is the region's API: https://eu1.api.clevertap.com in production.
	CleverTapURL, AccountID, Passcode string
	// Authorization is the value RevenueCat is configured to send.
	Authorization string
	Client        *http.Client
}

// webhook is the part of RevenueCat's webhook the service reads.
type webhook struct {
	Event struct {
		Type              string                            `json:"type"`
		AppUserID         string                            `json:"app_user_id"`
		PeriodType        string                            `json:"period_type"`
		IsTrialConversion bool                              `json:"is_trial_conversion"`
		EventTimestampMS  int64                             `json:"event_timestamp_ms"`
		Price             float64                           `json:"price_in_purchased_currency"`
		Currency          string                            `json:"currency"`
		ProductID         string                            `json:"product_id"`
		SubscriberAttrs   map[string]struct{ Value string } `json:"subscriber_attributes"`
	} `json:"event"`
}

// eventName is the service's own name for a RevenueCat event; "" ignores it.
func eventName(w webhook) string {
	e := w.Event
	switch e.Type {
	case "INITIAL_PURCHASE":
		if e.PeriodType == "TRIAL" {
			return "Trial Started"
		}
		return "Subscription Started"
	case "RENEWAL":
		if e.IsTrialConversion {
			return "Trial Converted"
		}
		return "Subscription Renewed"
	case "CANCELLATION":
		return "Subscription Cancelled"
	case "EXPIRATION":
		return "Subscription Expired"
	}
	return ""
}

// Handler takes RevenueCat's webhooks at POST /rc/hook.
func Handler(cfg Config) http.Handler {
	if cfg.Client == nil {
		cfg.Client = &http.Client{Timeout: 10 * time.Second}
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /health", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	mux.HandleFunc("POST /rc/hook", func(w http.ResponseWriter, r *http.Request) {
		got := r.Header.Get("Authorization")
		if subtle.ConstantTimeCompare([]byte(got), []byte(cfg.Authorization)) != 1 {
			http.Error(w, "wrong Authorization", http.StatusUnauthorized)
			return
		}
		var hook webhook
		if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&hook); err != nil {
			http.Error(w, "not a RevenueCat webhook: "+err.Error(), http.StatusBadRequest)
			return
		}
		name := eventName(hook)
		if name == "" {
			fmt.Fprintln(w, "ignored", hook.Event.Type)
			return
		}
		identity := hook.Event.AppUserID
		if id := hook.Event.SubscriberAttrs["$clevertapId"].Value; id != "" {
			identity = id
		}
		record := map[string]any{"type": "event", "identity": identity, "ts": hook.Event.EventTimestampMS / 1000,
			"evtName": name, "evtData": map[string]any{"amount": hook.Event.Price, "currency": hook.Event.Currency,
				"product_id": hook.Event.ProductID}}
		if err := upload(r.Context(), cfg, record); err != nil {
			// RevenueCat retries anything but 200: a failed upload is tried again later
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		fmt.Fprintln(w, "sent")
	})
	return mux
}

func upload(ctx context.Context, cfg Config, record map[string]any) error {
	body, _ := json.Marshal(map[string]any{"d": []any{record}})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimSuffix(cfg.CleverTapURL, "/")+"/1/upload",
		bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("X-CleverTap-Account-Id", cfg.AccountID)
	req.Header.Set("X-CleverTap-Passcode", cfg.Passcode)
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	resp, err := cfg.Client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var answer struct{ Status string }
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	if json.Unmarshal(raw, &answer) != nil || answer.Status != "success" {
		return fmt.Errorf("CleverTap answered %d %s", resp.StatusCode, raw)
	}
	return nil
}

func main() {
	cfg := Config{CleverTapURL: os.Getenv("CLEVERTAP_URL"), AccountID: os.Getenv("CLEVERTAP_ACCOUNT_ID"),
		Passcode: os.Getenv("CLEVERTAP_PASSCODE"), Authorization: os.Getenv("RC_AUTH")}
	addr := os.Getenv("LISTEN")
	if addr == "" {
		addr = "127.0.0.1:3000"
	}
	srv := &http.Server{Addr: addr, Handler: Handler(cfg), ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout: time.Minute, WriteTimeout: time.Minute}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	go func() { <-ctx.Done(); _ = srv.Shutdown(context.Background()) }()
	log.Printf("listening on http://%s", addr)
	if err := srv.ListenAndServe(); err != nil && err != http.ErrServerClosed {
		log.Fatal(err)
	}
}
