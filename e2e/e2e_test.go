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
	"sync"
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

// eventClock hands out the event-time ranges of this package's producer runs, one after the
// other. Every test's processor group reads the shared input topics from the start, earlier
// tests' records included, and the processor assumes that each input partition is roughly in
// event-time order (docs/processors.md): a run that went back in time after an earlier test's
// run would be judged late wherever one input is read ahead of another, as after a rebalance.
// The ranges begin six hours ago, so a rerun needs a fresh broker, which make test starts.
var eventClock struct {
	sync.Mutex
	next time.Time
}

// eventStart returns the start of a producer run that spans span of event time: a minute
// boundary after the end of every range handed out before.
func eventStart(span time.Duration) time.Time {
	eventClock.Lock()
	defer eventClock.Unlock()
	if eventClock.next.IsZero() {
		eventClock.next = time.Now().UTC().Add(-6 * time.Hour).Truncate(time.Hour)
	}
	start := eventClock.next
	eventClock.next = start.Add(span + 2*time.Minute).Truncate(time.Minute)
	return start
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
