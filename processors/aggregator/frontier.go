package aggregator

import (
	"sync"
	"time"

	"github.com/telemetra/telemetra/processors/window"
)

// frontiers tracks, per partition, how far each input has been read in event time, so that a
// window does not close while one of the inputs that feed it is still behind.
//
// goka consumes the four input topics (and the loopback) independently: while catching up on a
// backlog, the chat topic may be read minutes of event time ahead of the viewer topic. A
// channel's own watermark would then pass windows whose viewer samples are still unread, and
// those would arrive late. Like Flink's per-input watermarks, a partition's frontier is the
// lowest event time read among its inputs that still have records to read; an input that has
// nothing left (read up to its end offset) holds nothing back.
type frontiers struct {
	mu     sync.Mutex
	inputs []string
	read   map[int32]map[string]progressMark
	// from the sweeper: end offsets and the group's committed offsets, per topic and partition,
	// and the end offsets of the sweep before
	ends      map[string]map[int32]int64
	prevEnds  map[string]map[int32]int64
	committed map[string]map[int32]int64
	// re-routed events read here but not applied yet, by source, and the earliest of their
	// event times (recomputed when that one is applied)
	inFlight    map[routedKey]time.Time
	inFlightMin time.Time
}

// routedKey identifies a re-routed event by where it was read.
type routedKey struct {
	topic     string
	partition int32
	offset    int64
}

type progressMark struct {
	offset int64     // last offset read
	time   time.Time // largest event time read
	// beyond is the earliest event time read past the end offsets of the last snapshot. Those
	// records arrived after it, so the snapshot may call an input drained that has new records
	// too (a burst after a quiet spell): until the next snapshot, nothing closes past this.
	beyond time.Time
}

func newFrontiers(inputs []string) *frontiers {
	return &frontiers{inputs: inputs, read: map[int32]map[string]progressMark{}, inFlight: map[routedKey]time.Time{}}
}

// routed records an event sent through the loopback topic: until it is applied on the partition
// that owns its channel, it holds every frontier of this instance back. (An instance cannot see
// what another instance has in flight; see docs/processors.md.)
func (f *frontiers) routed(k routedKey, eventTime time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.inFlight[k] = eventTime
	if f.inFlightMin.IsZero() || eventTime.Before(f.inFlightMin) {
		f.inFlightMin = eventTime
	}
}

// arrived records that a re-routed event was applied (or dropped).
func (f *frontiers) arrived(k routedKey) {
	f.mu.Lock()
	defer f.mu.Unlock()
	t, ok := f.inFlight[k]
	if !ok {
		return
	}
	delete(f.inFlight, k)
	if t.Equal(f.inFlightMin) {
		f.inFlightMin = time.Time{}
		for _, other := range f.inFlight {
			if f.inFlightMin.IsZero() || other.Before(f.inFlightMin) {
				f.inFlightMin = other
			}
		}
	}
}

// observe records that the record at offset of topic/partition was read; eventTime is zero for
// records that could not be decoded.
func (f *frontiers) observe(partition int32, topic string, offset int64, eventTime time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	marks := f.read[partition]
	if marks == nil {
		marks = map[string]progressMark{}
		f.read[partition] = marks
	}
	m := marks[topic]
	m.offset = max(m.offset, offset)
	if eventTime.After(m.time) {
		m.time = eventTime
	}
	if end, known := f.ends[topic][partition]; known && offset >= end && !eventTime.IsZero() &&
		(m.beyond.IsZero() || eventTime.Before(m.beyond)) {
		m.beyond = eventTime
	}
	marks[topic] = m
}

// reset forgets what was read: after a rebalance every partition is read again from its
// committed offset, which may lie before what this instance read in an earlier session, and
// marks from that session would put the frontier ahead of the records being read again (their
// windows would close early and the re-read events turn late).
func (f *frontiers) reset() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.read = map[int32]map[string]progressMark{}
	f.inFlight = map[routedKey]time.Time{}
	f.inFlightMin = time.Time{}
}

// setOffsets takes the latest end and committed offsets (topic → partition → offset).
func (f *frontiers) setOffsets(ends, committed map[string]map[int32]int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.prevEnds, f.ends, f.committed = f.ends, ends, committed
	// the offsets were listed a moment ago: records read since, past them, keep their cap
	for p, marks := range f.read {
		for topic, m := range marks {
			if end, known := ends[topic][p]; known && m.offset < end {
				m.beyond = time.Time{}
				marks[topic] = m
			}
		}
	}
}

// frontier is the event time up to which every input of the partition has been read. The zero
// time means some input with records to read has not delivered any yet: nothing may close.
func (f *frontiers) frontier(partition int32) time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := window.NoFrontier
	if !f.inFlightMin.IsZero() {
		out = f.inFlightMin
	}
	for _, topic := range f.inputs {
		mark, seen := f.read[partition][topic]
		if !mark.beyond.IsZero() && mark.beyond.Before(out) {
			out = mark.beyond
		}
		if f.drained(partition, topic, mark, seen) {
			continue
		}
		if !seen || mark.time.IsZero() {
			return time.Time{}
		}
		if mark.time.Before(out) {
			out = mark.time
		}
	}
	return out
}

// drained reports that topic/partition has no record left to read (as of the last offsets)
// and is quiet: its end did not move since the sweep before. An input still being written is
// never drained, even when read to its end: a producer flushes each topic's batches on its
// own, so records written after the offsets were listed may be older in event time than
// records of another input already read (a fast burst), and they must not find their windows
// closed.
func (f *frontiers) drained(partition int32, topic string, mark progressMark, seen bool) bool {
	end, known := f.ends[topic][partition]
	if prev, quiet := f.prevEnds[topic][partition]; !known || !quiet || prev != end {
		return false
	}
	next := f.committed[topic][partition] // the group's next offset to read (0 if none)
	if seen {
		next = max(next, mark.offset+1)
	}
	return next >= end
}
