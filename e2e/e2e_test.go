// Package e2e holds end-to-end tests that drive the built telemetra binary and clients nobody
// here wrote (kcat, grpcurl, curl) against a real Apache Kafka broker. `make test` starts the
// broker (scripts/kafka.sh) and sets TELEMETRA_E2E_KAFKA; plain `go test ./...` skips them.
package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/telemetra/telemetra/internal/pgtest"
)

// binary is the telemetra binary built once for the whole package.
var binary string

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	if os.Getenv("TELEMETRA_E2E_KAFKA") == "" {
		fmt.Println("e2e: TELEMETRA_E2E_KAFKA is not set; run `make test` to start a real Kafka broker")
		return m.Run() // every test skips itself
	}
	dir, err := os.MkdirTemp("", "telemetra-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	binary = filepath.Join(dir, "telemetra")
	build := exec.Command("go", "build", "-o", binary, "../cmd/telemetra")
	build.Stdout, build.Stderr = os.Stdout, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build telemetra:", err)
		return 1
	}
	return pgtest.Run(m)
}

// realKafka returns the real broker's bootstrap address or skips the test.
func realKafka(t *testing.T) string {
	t.Helper()
	addr := os.Getenv("TELEMETRA_E2E_KAFKA")
	if addr == "" {
		t.Skip("TELEMETRA_E2E_KAFKA not set (make test starts a real Kafka broker)")
	}
	return addr
}

// run executes a command with a deadline and returns its stdout; it fails the test on error.
func run(t *testing.T, timeout time.Duration, name string, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\nstderr:\n%s", name, strings.Join(args, " "), err, tail(stderr.String(), 3000))
	}
	return stdout.Bytes()
}

func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}
