package testkit

import (
	"os"
	"testing"
)

// EnterableTempDir is a temporary directory, removed after the test, that other users may
// enter: as root, a private PostgreSQL runs as user postgres (internal/pgcluster), which must
// reach the cluster's directory through it. t.TempDir's directories are the owner's only.
func EnterableTempDir(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "telemetra-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}
