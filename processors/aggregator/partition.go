package aggregator

import (
	"context"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/telemetra/telemetra/processors/eventtime"
	"github.com/telemetra/telemetra/processors/window"
)

// partitionTask is one input partition during one goka assignment: its window.Partition (the
// arrival clock and the states of its channels, held in memory for the whole assignment) and
// what the next flush writes. goka's local copy of the table is only current for channels this
// instance has not changed since the assignment, so the states here are the truth until the
// partition stops.
type partitionTask struct {
	mu     sync.Mutex
	ctx    context.Context // goka's context of the partition; done when goka stops it
	closed bool            // flushed for the last time: a late callback writes its changes at once

	part       *window.Partition
	clockDirty bool
	dirty      map[string]struct{}
	outbox     []*kgo.Record // records the changed states emitted (aggregates, moments, late)
	pending    []func(error) // deferred commits, in processing order
	// due is when each channel with a provisional update pending has it due (window.Engine's
	// NextDue), so ticks skip every other channel without decoding its state
	due   map[string]time.Time
	order writeOrder // the flushes' batches reach Kafka in the order they were taken

	// progress, for markers (eventtime.MarkerPolicy)
	next           map[string]int64 // next offset to read per input topic; absent: the group's committed one
	lastRead       time.Time        // processing time of the latest record read
	history        eventtime.History
	pendingMarkers map[string]time.Time // markers written and not read back yet, by input topic
	markerWritten  map[string]time.Time // processing time each pending marker was written
}

// newPartitionTask starts a partition's task at processing time now. The partition counts as
// read at that moment: quiet is measured from when this instance began to watch it, never
// from before (a restarted instance knows nothing of the gap before it).
func newPartitionTask(ctx context.Context, part *window.Partition, now time.Time) *partitionTask {
	return &partitionTask{
		ctx: ctx, part: part, dirty: map[string]struct{}{}, due: map[string]time.Time{}, lastRead: now,
		next: map[string]int64{}, pendingMarkers: map[string]time.Time{}, markerWritten: map[string]time.Time{},
	}
}

// read records a record read from topic at offset with the given Kafka timestamp, and returns
// its arrival.
func (ps *partitionTask) read(topic string, offset int64, timestamp, now time.Time) time.Time {
	before := ps.part.Clock().Arrival(topic)
	arrival := ps.part.Read(topic, timestamp)
	if arrival.After(before) {
		ps.clockDirty = true
	}
	ps.next[topic] = max(ps.next[topic], offset+1)
	ps.lastRead = now
	if m, ok := ps.pendingMarkers[topic]; ok && !arrival.Before(m) {
		delete(ps.pendingMarkers, topic)
		delete(ps.markerWritten, topic)
	}
	return arrival
}

// progress is what the marker policy needs of the partition at processing time now; ends and
// committed are the latest end offsets and the group's committed offsets of this partition by
// topic. Markers not read back within a while are forgotten, so a lost write is tried again.
func (ps *partitionTask) progress(inputs []string, ends, committed map[string]int64, now time.Time, delay time.Duration) eventtime.PartitionProgress {
	clock := ps.part.Clock()
	ps.history.Record(now, clock.Latest())
	pp := eventtime.PartitionProgress{NextClose: ps.part.NextClose(), Settled: ps.history.Settled(now, delay),
		Latest: clock.Latest(), LastRead: ps.lastRead}
	for _, topic := range inputs {
		next, ok := ps.next[topic]
		if !ok {
			next = committed[topic]
		}
		end, known := ends[topic]
		if at, ok := ps.markerWritten[topic]; ok && now.Sub(at) > 10*delay+10*time.Second {
			delete(ps.pendingMarkers, topic)
			delete(ps.markerWritten, topic)
		}
		pp.Inputs = append(pp.Inputs, eventtime.InputProgress{
			Topic: topic, Arrival: clock.Arrival(topic), ReadToEnd: known && next >= end,
			PendingMarker: ps.pendingMarkers[topic],
		})
	}
	return pp
}

// markerSent records markers written to this partition's inputs.
func (ps *partitionTask) markerSent(ms []eventtime.Marker, now time.Time) {
	for _, m := range ms {
		ps.pendingMarkers[m.Topic] = m.Timestamp
		ps.markerWritten[m.Topic] = now
	}
}
