package pgtest

import (
	"context"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

// A cluster starts, answers a query on its DSN, and is gone after Stop.
func TestAClusterStartsAnswersAndStops(t *testing.T) {
	if _, err := Find(); err != nil {
		t.Skip(err)
	}
	ctx := context.Background()
	c, err := Start(ctx)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(ctx, c.DSN)
	if err != nil {
		c.Stop()
		t.Fatal(err)
	}
	var version string
	err = conn.QueryRow(ctx, "show server_version").Scan(&version)
	conn.Close(ctx)
	c.Stop()
	if err != nil || !strings.Contains(version, ".") {
		t.Fatalf("expected a server version, got %q %v", version, err)
	}
	if _, err := pgx.Connect(ctx, c.DSN); err == nil {
		t.Fatal("expected the cluster gone after Stop")
	}
}
