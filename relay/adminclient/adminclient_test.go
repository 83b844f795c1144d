package adminclient_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ctharness/ctharness/clevertaptest"
	"github.com/ctharness/ctharness/relay/adminclient"
	"github.com/ctharness/ctharness/simulator/clevertap"
)

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestAReferenceRelayThroughTheClient: readiness, status, a dead letter listed by source, retried, and delivered.
func TestAReferenceRelayThroughTheClient(t *testing.T) {
	ctx := context.Background()
	st := clevertaptest.NewStack(t)
	admin := adminclient.New(st.RelayURL, st.RelayAdminToken)
	if err := admin.Ready(ctx); err != nil {
		t.Fatalf("Ready: %v", err)
	}
	refuseOnce := clevertap.Fault{Action: clevertap.FaultRespond, Status: 400, Times: 1}
	if _, err := st.Client.AddFault(ctx, refuseOnce); err != nil {
		t.Fatal(err)
	}
	url, secret := st.Webhook("revenuecat")
	st.Send(t, "revenuecat", "INITIAL_PURCHASE", url, secret, clevertaptest.User("ct-admin"))

	var letters int
	var id uint64
	waitFor(t, "the refused upload is a dead letter", func() bool {
		dead, err := admin.DeadLetters(ctx, "revenuecat")
		if err != nil {
			t.Fatal(err)
		}
		if letters = len(dead); letters == 1 {
			id = dead[0].ID
			if dead[0].Status != 400 || dead[0].Source != "revenuecat" {
				t.Fatalf("expected a revenuecat dead letter of HTTP 400, got %+v", dead[0])
			}
		}
		return letters == 1
	})
	if other, err := admin.DeadLetters(ctx, "appsflyer"); err != nil || len(other) != 0 {
		t.Fatalf("expected no appsflyer dead letter, got %d (%v)", len(other), err)
	}
	status, err := admin.Status(ctx)
	if err != nil || status.Outbox.Dead != 1 {
		t.Fatalf("expected the status to count 1 dead letter, got %+v (%v)", status.Outbox, err)
	}
	if err := admin.Retry(ctx, id); err != nil {
		t.Fatalf("Retry(%d): %v", id, err)
	}
	st.Wait(t, clevertap.WaitRequest{Identity: "ct-admin", Count: 1, TimeoutMS: 10000})
	if err := admin.Retry(ctx, id); !errors.Is(err, adminclient.ErrNotFound) {
		t.Fatalf("a second retry of %d: expected ErrNotFound, got %v", id, err)
	}
	if n, err := admin.Pending(ctx, "revenuecat", []string{"no-such-event"}); err != nil || n != 0 {
		t.Fatalf("Pending of an unknown event: expected 0, got %d (%v)", n, err)
	}
	_, err = adminclient.New(st.RelayURL, "wrong-token").Status(ctx)
	if err == nil || !strings.Contains(err.Error(), "HTTP 401") {
		t.Fatalf("with a wrong token: expected HTTP 401, got %v", err)
	}
}

// TestTheTokenDoesNotFollowARedirect: a relay URL that redirects elsewhere gets no second request.
func TestTheTokenDoesNotFollowARedirect(t *testing.T) {
	var reached atomic.Int32
	elsewhere := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reached.Add(1)
	}))
	defer elsewhere.Close()
	redirecting := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, elsewhere.URL+r.URL.Path, http.StatusFound)
	}))
	defer redirecting.Close()
	_, err := adminclient.New(redirecting.URL, "secret-token").Status(context.Background())
	if err == nil || !strings.Contains(err.Error(), "redirect") {
		t.Fatalf("expected an error naming the redirect, got %v", err)
	}
	if reached.Load() != 0 {
		t.Fatalf("the redirect was followed %d time(s)", reached.Load())
	}
}
