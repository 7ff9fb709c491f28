package aggregator

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/telemetra/telemetra/internal/kafka"
	"github.com/telemetra/telemetra/processors/window"
)

// recordingSink keeps the values it was asked to write, in order, and holds a write that
// carries the value hold until released.
type recordingSink struct {
	mu      sync.Mutex
	written []string
	topics  []string // of the records written, in order
	hold    string
	held    chan struct{} // closed when the held write arrives
	release chan struct{}
	fail    error // returned for the held write
}

func (s *recordingSink) Produce(_ context.Context, records ...*kgo.Record) error {
	var failed error
	for _, r := range records {
		if string(r.Value) == s.hold {
			close(s.held)
			<-s.release
			failed = s.fail
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range records {
		s.written = append(s.written, string(r.Value))
		s.topics = append(s.topics, r.Topic)
	}
	return failed
}

func (s *recordingSink) topicsWritten() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.topics)
}

func (s *recordingSink) values() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.written)
}

// flushRace drives the race between the sweep's flush and the final flush goka triggers by
// stopping a partition: the sweep's batch ("first") is held in the sink while the partition
// changes again ("second") and goka stops it. It returns the sink and the errors the two
// batches' commits were released with.
func flushRace(t *testing.T, sink *recordingSink) (firstErr, secondErr error) {
	t.Helper()
	engine, err := window.New(testWindowConfig())
	if err != nil {
		t.Fatal(err)
	}
	wb := newWriteBack(time.Now, sink, "table", func() *window.Partition { return engine.NewPartition(kafka.InputTopics()) },
		newClockKeys(1), quiet())
	assignment, stop := context.WithCancel(context.Background())
	defer stop()
	ps, _ := wb.partition(assignment, 0)

	released := make(chan error, 2)
	change := func(value string) {
		ps.mu.Lock()
		defer ps.mu.Unlock()
		ps.outbox = append(ps.outbox, &kgo.Record{Topic: "out", Value: []byte(value)})
		ps.pending = append(ps.pending, func(err error) { released <- err })
	}

	change("first")
	sweep := make(chan error, 1)
	go func() { sweep <- wb.flush(context.Background()) }()
	<-sink.held

	change("second")
	stop() // goka stops the partition: its watcher takes "second" and writes it
	// give an out-of-order write the time to happen
	deadline := time.Now().Add(300 * time.Millisecond)
	for time.Now().Before(deadline) && !slices.Contains(sink.values(), "second") {
		time.Sleep(5 * time.Millisecond)
	}
	close(sink.release)
	firstErr, secondErr = <-released, <-released
	if err := <-sweep; !errors.Is(err, sink.fail) {
		t.Fatalf("sweep flush: %v, want %v", err, sink.fail)
	}
	return firstErr, secondErr
}

// TestAPartitionsFlushesReachKafkaInTheOrderTheyWereTaken: a newer batch of a partition's
// states written before an older one would leave the older state last in the changelog while
// the newer batch's commits are released, and the records in between would be lost to the
// next owner of the partition.
func TestAPartitionsFlushesReachKafkaInTheOrderTheyWereTaken(t *testing.T) {
	sink := &recordingSink{hold: "first", held: make(chan struct{}), release: make(chan struct{})}
	firstErr, secondErr := flushRace(t, sink)
	if firstErr != nil || secondErr != nil {
		t.Fatalf("commits released with %v, %v", firstErr, secondErr)
	}
	if got, want := sink.values(), []string{"first", "second"}; !slices.Equal(got, want) {
		t.Fatalf("written in the order %v, want %v", got, want)
	}
}

// TestAFailedFlushFailsTheLaterOnesOfItsPartition: the later batch's commits would cover the
// failed batch's records, whose emits may be lost, so it is not written and its commits fail.
func TestAFailedFlushFailsTheLaterOnesOfItsPartition(t *testing.T) {
	refused := errors.New("refused")
	sink := &recordingSink{hold: "first", held: make(chan struct{}), release: make(chan struct{}), fail: refused}
	firstErr, secondErr := flushRace(t, sink)
	if !errors.Is(firstErr, refused) || !errors.Is(secondErr, refused) {
		t.Fatalf("commits released with %v, %v; want both to fail with %v", firstErr, secondErr, refused)
	}
	if got := sink.values(); slices.Contains(got, "second") {
		t.Fatalf("the batch after the failed one was written: %v", got)
	}
}
