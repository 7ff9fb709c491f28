package pgcluster

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/telemetra/telemetra/internal/testkit"
)

// TestOpenKeepsItsDataAcrossRestarts: what Open created and was written survives Stop, and a
// second Open starts the same data (on another port) without creating the database again.
func TestOpenKeepsItsDataAcrossRestarts(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(testkit.EnterableTempDir(t), "kept", "postgres")

	c, err := Open(ctx, dir, "telemetra")
	if errors.Is(err, ErrNoBinaries) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	execSQL(t, c.URL("telemetra"), "CREATE TABLE kept (n int); INSERT INTO kept VALUES (42)")
	c.Stop()
	if _, err := os.Stat(filepath.Join(dir, "data", "PG_VERSION")); err != nil {
		t.Fatalf("Stop removed the kept cluster: %v", err)
	}

	c, err = Open(ctx, dir, "telemetra")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Stop()
	conn, err := pgx.Connect(ctx, c.URL("telemetra"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var n int
	if err := conn.QueryRow(ctx, "SELECT n FROM kept").Scan(&n); err != nil || n != 42 {
		t.Fatalf("after a restart: n = %d, err = %v; want 42", n, err)
	}
}

func execSQL(t *testing.T, url, sql string) {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(context.Background(), sql); err != nil {
		t.Fatal(err)
	}
}
