package aggregator

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/telemetra/telemetra/internal/kafka"
	"github.com/telemetra/telemetra/schemas"
)

// TestEmitsAreWrittenAheadOfTheFlush: emitDue writes a partition's queued emits and the
// provisional updates that have come due, without the states or the commits, which wait for
// the flush; so an emit waits the emit interval, not the flush interval.
func TestEmitsAreWrittenAheadOfTheFlush(t *testing.T) {
	sink := &recordingSink{hold: "never"}
	logic, err := NewLogic(LogicConfig{Window: testWindowConfig(), Partitions: 1, Sink: sink, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	interval := logic.engine.Config().ProvisionalInterval
	assignment, stop := context.WithCancel(context.Background())
	defer stop()
	ps, _ := logic.wb.partition(assignment, 0)
	released := 0
	now := time.Date(2025, 10, 16, 10, 0, 1, 0, time.UTC)
	apply := func(offset int64, at time.Time) {
		ps.mu.Lock()
		defer ps.mu.Unlock()
		ev := schemas.ChatMessage{Channel: "demo_stream", Username: "alice", Message: "gg", Timestamp: at}
		_, res, err := ps.part.Apply("demo_stream", kafka.TopicChat, 0, offset, ev, at, at)
		if err != nil {
			t.Fatal(err)
		}
		ps.pending = append(ps.pending, func(error) { released++ })
		ps.dirty["demo_stream"] = struct{}{}
		logic.emit(nil, ps, "demo_stream", res.Aggregates, res.Moments, at)
		logic.reschedule("demo_stream", ps)
	}

	apply(0, now)                  // the first change emits at once
	apply(1, now.Add(interval/10)) // coalesced: due at now + interval
	if err := logic.emitDue(context.Background(), now.Add(interval/5)); err != nil {
		t.Fatal(err)
	}
	if got, want := sink.topicsWritten(), []string{kafka.TopicAggregates}; !slices.Equal(got, want) {
		t.Fatalf("written before the update is due: %v, want %v", got, want)
	}
	if err := logic.emitDue(context.Background(), now.Add(interval)); err != nil {
		t.Fatal(err)
	}
	if got, want := sink.topicsWritten(), []string{kafka.TopicAggregates, kafka.TopicAggregates}; !slices.Equal(got, want) {
		t.Fatalf("written once the update is due: %v, want %v", got, want)
	}
	if released != 0 {
		t.Fatalf("%d commits released before the states were written", released)
	}

	if err := logic.wb.flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := sink.topicsWritten(); len(got) != 3 || got[2] != logic.wb.table {
		t.Fatalf("written after the flush: %v, want the state after the emits", got)
	}
	if released != 2 {
		t.Fatalf("%d commits released by the flush, want 2", released)
	}
}
