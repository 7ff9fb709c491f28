package main

import (
	"strings"
	"testing"

	"github.com/telemetra/telemetra/internal/pgtest"
)

// TestReplayVerifyOfASchemaWithoutAProjectionFails is docs/views.md's old example run as
// written against `make run`, which projects into public: `--schema telemetra --verify` must
// fail naming the schema, not build a stray one, skip the comparison and say it swapped.
func TestReplayVerifyOfASchemaWithoutAProjectionFails(t *testing.T) {
	db := pgtest.Database(t)
	code, out, errOut := runCLI(t, "replay", "--database-url", db, "--brokers", "127.0.0.1:1", "--schema", "telemetra", "--verify")
	if code == 0 {
		t.Fatalf("exit 0; stdout:\n%s", out)
	}
	if !strings.Contains(errOut, "schema telemetra does not exist") || !strings.Contains(errOut, "check --schema") {
		t.Fatalf("stderr does not name the missing schema:\n%s", errOut)
	}
	if out != "" {
		t.Fatalf("a refused replay printed a report:\n%s", out)
	}
}
