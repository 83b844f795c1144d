package postgres

import (
	"context"
	"fmt"
	"os"
	"sync/atomic"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/ctharness/ctharness/internal/pgtest"
	"github.com/ctharness/ctharness/relay/outbox"
	"github.com/ctharness/ctharness/relay/outbox/outboxtest"
)

// cluster is the package's throwaway Postgres; each test gets a database of its own.
var (
	cluster  *pgtest.Cluster
	noServer error
	dbs      atomic.Int64
)

func TestMain(m *testing.M) {
	if _, err := pgtest.Find(); err != nil {
		noServer = err
		os.Exit(m.Run())
	}
	var err error
	if cluster, err = pgtest.Start(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, "starting PostgreSQL:", err)
		os.Exit(1)
	}
	code := m.Run()
	cluster.Stop()
	os.Exit(code)
}

// database makes a new empty database and returns its DSN.
func database(t *testing.T) string {
	t.Helper()
	if noServer != nil {
		t.Skip(noServer)
	}
	name := fmt.Sprintf("outbox_%d", dbs.Add(1))
	conn, err := pgx.Connect(context.Background(), cluster.DSN)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(context.Background(), "CREATE DATABASE "+name); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("postgres://relay@127.0.0.1:%d/%s?sslmode=disable", cluster.Port, name)
}

func open(t *testing.T, dsn string) *Store {
	t.Helper()
	s, err := Open(context.Background(), Options{DSN: dsn, Migrate: true})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// The Postgres driver holds to the outbox's contract.
func TestThePostgresOutboxConforms(t *testing.T) {
	outboxtest.Run(t, func(t *testing.T) (outbox.Outbox, func() outbox.Outbox) {
		dsn := database(t)
		return open(t, dsn), func() outbox.Outbox { return open(t, dsn) }
	})
}
