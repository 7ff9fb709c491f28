// Package e2e holds end-to-end tests that drive the built telemetra binary and clients nobody
// here wrote (kcat, grpcurl, curl) against real Apache Kafka. `make test` starts a broker
// (scripts/kafka.sh) and sets TELEMETRA_E2E_KAFKA for most of them, then a three-broker cluster
// (scripts/kafka-cluster.sh) and sets TELEMETRA_E2E_CLUSTER for the cluster test; plain
// `go test ./...` skips them.
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

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/telemetra/telemetra/internal/kafka"
	"github.com/telemetra/telemetra/internal/pgtest"
	"github.com/telemetra/telemetra/internal/pipelinetest"
	"github.com/telemetra/telemetra/internal/testkit"
)

// binary is the telemetra binary built once for the whole package.
var binary string

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	if os.Getenv("TELEMETRA_E2E_KAFKA") == "" && os.Getenv("TELEMETRA_E2E_CLUSTER") == "" {
		fmt.Println("e2e: neither TELEMETRA_E2E_KAFKA nor TELEMETRA_E2E_CLUSTER is set; run `make test` to start a real Kafka broker and cluster")
		return m.Run() // every test skips itself
	}
	dir, err := os.MkdirTemp("", "telemetra-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer func() {
		if err := os.RemoveAll(dir); err != nil {
			fmt.Fprintln(os.Stderr, "e2e:", err)
		}
	}()
	binary = filepath.Join(dir, "telemetra")
	build := exec.Command("go", "build", "-o", binary, "../cmd/telemetra")
	build.Stdout, build.Stderr = os.Stdout, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build telemetra:", err)
		return 1
	}
	return pgtest.Run(m)
}

// eventClock hands out the event-time ranges of this package's runs, in order. The processor
// judges an event by its record's Kafka timestamp (processors/eventtime): an input partition's
// arrival clock is the largest timestamp read from it so far, and an event is late when that
// clock, right after its record, is past its window's end plus the allowed lateness. Every
// test's processor group reads the shared input topics from the start, earlier tests' records
// included, so a record stamped before anything already on its partition arrives "at" that
// later time and may be late. The ranges are therefore laid out so that every record of the
// suite is stamped no earlier than everything written before it:
//
//   - simulated runs (telemetra produce --start-time) stamp each record with its event time, so
//     a range starts no earlier than the end of every range handed out before;
//   - kcat stamps its records with the wall clock, and the processor's markers (written into
//     silent inputs so that their windows close) carry at most the time of a record already
//     read or the wall clock less the producer delay; so a range also starts no earlier than
//     now, plus a moment (lead) for the producer process to start: a record reaches Kafka
//     before the wall clock passes its timestamp, and no marker can overtake it;
//   - ranges are short and simulated runs get at most about a minute ahead of the wall clock:
//     a run's last windows close only once markers move the silent inputs past their end plus
//     the allowed lateness, which the processor does by the wall clock (about 12s after it),
//     the next test's range starts after this one's end, and a record stamped far (1h) ahead
//     is refused by the broker.
//
// Nothing is stamped in the past, so a rerun against the same broker works too (the previous
// run's records are at most a few seconds ahead of the wall clock when it ends).
var eventClock struct {
	sync.Mutex
	next time.Time // end of the latest range handed out
}

// lead is how far ahead of the wall clock a range starts at the least.
const lead = 2 * time.Second

// eventStart returns the start of a run that spans span of event time (its last record is
// stamped before start+span): a whole second (telemetra produce --start-time has no
// fractions), at least lead after now and not before the end of any range handed out before.
func eventStart(span time.Duration) time.Time {
	eventClock.Lock()
	defer eventClock.Unlock()
	start := time.Now().UTC().Add(lead)
	if start.Before(eventClock.next) {
		start = eventClock.next
	}
	if t := start.Truncate(time.Second); t.Before(start) {
		start = t.Add(time.Second)
	}
	eventClock.next = start.Add(span)
	return start
}

// endOffsets sums the end offsets of topics: how many records they hold (markers included).
func endOffsets(t *testing.T, addr string, topics ...string) int64 {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(pipelinetest.Brokers(addr)...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ends, err := kadm.NewClient(cl).ListEndOffsets(ctx, topics...)
	if err != nil {
		t.Fatalf("end offsets of %v: %v", topics, err)
	}
	var n int64
	ends.Each(func(o kadm.ListedOffset) {
		if o.Err != nil {
			t.Fatalf("end offset of %s/%d: %v", o.Topic, o.Partition, o.Err)
		}
		n += o.Offset
	})
	return n
}

// awaitCommitted waits until a processor group has committed at least n input records past
// base (the inputs' end offsets before the run started: every group reads them from the
// start, earlier tests' records included) and returns how many it has.
func awaitCommitted(t *testing.T, addr, group string, base, n int64, timeout time.Duration) int64 {
	t.Helper()
	var done int64
	testkit.WaitFor(t, fmt.Sprintf("group %s to commit %d records of the run before the kill", group, n), timeout, func() error {
		if done = pipelinetest.Committed(t, addr, group, kafka.InputTopics()...) - base; done < n {
			return fmt.Errorf("%d committed", done)
		}
		return nil
	})
	return done
}

// checkKilledMidStream fails unless some but not all of a run of count input records had been
// committed by group when one of its processes was killed (base as for awaitCommitted). Markers
// the group wrote after base count too; they only make "not all" the stricter.
func checkKilledMidStream(t *testing.T, addr, group string, base, count int64) {
	t.Helper()
	done := pipelinetest.Committed(t, addr, group, kafka.InputTopics()...) - base
	if done <= 0 || done >= count {
		t.Fatalf("the kill did not land mid-stream: %d of the run's %d input records committed", done, count)
	}
	t.Logf("killed mid-stream: %d of the run's %d input records committed", done, count)
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
