package service

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/ctharness/ctharness/simulator"
	"github.com/ctharness/ctharness/simulator/clevertap"
	"github.com/ctharness/ctharness/simulator/clevertap/fake"
)

// BenchmarkWebhookIntake is the relay's own cost per webhook without the network: guard, credentials, mapping and
// the durable group commit, with many webhooks in flight as at saturation (make bench measures it over loopback).
func BenchmarkWebhookIntake(b *testing.B) {
	sim, err := simulator.New(simulator.Config{}, fake.Options{})
	if err != nil {
		b.Fatal(err)
	}
	svc, err := Open(Options{Config: testConfig(), DataDir: b.TempDir(), Logger: slog.New(slog.NewTextHandler(io.Discard,
		&slog.HandlerOptions{Level: slog.LevelWarn})),
		Client: &http.Client{Transport: clevertap.InProcessTransport{Handler: sim}}})
	if err != nil {
		b.Fatal(err)
	}
	if err := svc.Start(context.Background()); err != nil {
		b.Fatal(err)
	}
	defer svc.Close()
	var seq atomic.Int64
	var refused atomic.Int64
	b.ReportAllocs()
	// 256 senders in all, as many as intake.max_in_flight lets in: RunParallel starts parallelism × GOMAXPROCS
	b.SetParallelism(max(1, 256/runtime.GOMAXPROCS(0)))
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			n := seq.Add(1)
			body := rcWebhook("bench-"+strconv.FormatInt(n, 10), "RENEWAL", "user-"+strconv.FormatInt(n%1000, 10), 9.99)
			req := httptest.NewRequest(http.MethodPost, "/webhooks/revenuecat", bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer sim-revenuecat")
			rec := httptest.NewRecorder()
			svc.ServeHTTP(rec, req)
			if rec.Code != http.StatusOK {
				refused.Add(1)
			}
		}
	})
	if n := refused.Load(); n > 0 {
		b.Fatalf("expected every webhook acknowledged, got %d refused", n)
	}
}
