package service

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"testing"
)

// A webhook served without the router is one the router would have served the same way: each request gets the
// same status through the relay as through the router alone.
func TestWebhooksSkipTheRouterOnlyWhereItWouldServeThem(t *testing.T) {
	s := newStack(t, nil)
	router := s.svc.Handler().(webhooksFirst).router
	for i, tt := range []struct {
		method, target string
		want           int // 0: whatever the router answers
	}{
		{http.MethodPost, "/webhooks/revenuecat", http.StatusOK},
		{http.MethodGet, "/webhooks/revenuecat", http.StatusMethodNotAllowed},
		{http.MethodPost, "/webhooks/nobody", http.StatusNotFound},
		{http.MethodPut, "/webhooks/purchasely", 0},
		{http.MethodPost, "/webhooks/revenuecat/", 0},
		{http.MethodPost, "/webhooks//revenuecat", 0},
		{http.MethodPost, "/webhooks/./revenuecat", 0},
		{http.MethodPost, "/webhooks/revenue%63at", 0},
		{http.MethodPost, "/Webhooks/revenuecat", 0},
		{http.MethodGet, "/webhooks/appsflyer", 0},
		{"post", "/webhooks/revenuecat", 0},
	} {
		status := func(h http.Handler, id string) int {
			req := httptest.NewRequest(tt.method, tt.target, bytes.NewReader(rcWebhook(id, "RENEWAL", "u1", 4.99)))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer sim-revenuecat")
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			return rec.Code
		}
		// distinct event ids: neither answer is a duplicate of the other
		viaRelay, viaRouter := status(s.svc, "relay-"+string(rune('a'+i))), status(router, "router-"+string(rune('a'+i)))
		if viaRelay != viaRouter || tt.want != 0 && viaRelay != tt.want {
			t.Errorf("%s %s: expected the router's %d (and %d), got %d", tt.method, tt.target, viaRouter, tt.want,
				viaRelay)
		}
	}
}
