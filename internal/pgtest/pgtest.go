// Package pgtest gives tests a fresh database on a real PostgreSQL server: the one in
// DATABASE_URL if set, else a private cluster started once per test binary from the system's
// binaries (internal/pgcluster). Packages using it call Main from TestMain.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/telemetra/telemetra/internal/pgcluster"
)

var (
	once     sync.Once
	cluster  *pgcluster.Cluster
	admin    string // URL of a database to run CREATE/DROP DATABASE from
	startErr error
)

// Main runs the package's tests and stops the private cluster afterwards.
func Main(m *testing.M) { os.Exit(Run(m)) }

// Run is Main for a TestMain with more to do: it returns the exit code.
func Run(m *testing.M) int {
	code := m.Run()
	if cluster != nil {
		cluster.Stop()
	}
	return code
}

// M is m for a TestMain that hands it on, as to testkit.VerifyNoLeaks(pgtest.M(m)): its Run
// runs the tests and then stops the private cluster, as Run does.
func M(m *testing.M) interface{ Run() int } { return runner{m} }

type runner struct{ m *testing.M }

func (r runner) Run() int { return Run(r.m) }

// Cluster is the private cluster, or nil when DATABASE_URL is used (fault tests skip then).
func Cluster(t testing.TB) *pgcluster.Cluster {
	t.Helper()
	start(t)
	return cluster
}

func start(t testing.TB) {
	t.Helper()
	once.Do(func() {
		if u := os.Getenv("DATABASE_URL"); u != "" {
			admin = u
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		cluster, startErr = pgcluster.Start(ctx, "")
		if startErr == nil {
			admin = cluster.URL("postgres")
		}
	})
	if startErr != nil {
		t.Fatalf("start PostgreSQL: %v", startErr)
	}
}

// Database creates a fresh, empty database for the test, dropped when it ends, and returns its
// connection URL.
func Database(t testing.TB) string {
	t.Helper()
	start(t)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		t.Fatalf("connect to %s: %v", redact(admin), err)
	}
	defer conn.Close(ctx)
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "telemetra_test_" + hex.EncodeToString(b[:])
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("create database: %v", err)
	}
	t.Cleanup(func() {
		conn, err := pgx.Connect(ctx, admin)
		if err != nil {
			return
		}
		defer conn.Close(ctx)
		_, _ = conn.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
	})
	u, err := url.Parse(admin)
	if err != nil {
		t.Fatalf("parse %s: %v", redact(admin), err)
	}
	u.Path = "/" + name
	return u.String()
}

// Connect opens a connection to a database URL for the test.
func Connect(t testing.TB, dbURL string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), dbURL)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	return fmt.Sprint(u.Redacted())
}
