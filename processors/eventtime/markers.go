package eventtime

import "time"

// A marker is a record with no event, written by the processor into an input partition that
// holds its partition's frontier back: stream_meta is silent for minutes, and a partition whose
// channels send no transactions never moves that input's clock. The marker's timestamp moves
// the input's clock, and since it is in the log, every reader sees it at the same place.
//
// Writing a marker is the one decision here that looks at processing time, and it has to be
// safe: no record timestamped before the marker may reach the same input partition after it,
// or that record becomes late. A marker is written only when both hold:
//
//   - the input was read to its end, and
//   - the marker's time is behind the partition's progress by at least the producer delay:
//     another input of the partition was read past it at least ProducerDelay ago (processing
//     time), or nothing at all was read on the partition since a while, and both the
//     partition's latest arrival plus that while and the wall clock, each less ProducerDelay,
//     are past it. A producer whose stamps trail the wall clock (a recorded stream replayed at
//     its pace, a clock a day behind) is bounded by its own latest stamp, one whose stamps run
//     ahead of it (a fast simulation) by the wall clock.
//
// A producer that writes in timestamp order, at least as fast as its timestamps advance, and
// gets each record into Kafka within ProducerDelay of writing the ones after it then never has
// a record overtaken by a marker.

// MarkerPolicy decides when markers are due.
type MarkerPolicy struct {
	// ProducerDelay bounds how long a producer may take to get a record into Kafka after the
	// records it wrote after it reached other partitions (batching, retries): see above.
	ProducerDelay time.Duration
}

// InputProgress is how far the processor has read one input of a partition.
type InputProgress struct {
	Topic string
	// Arrival is the input's clock (zero: nothing read yet).
	Arrival time.Time
	// ReadToEnd: nothing is left to read as of the latest end offsets.
	ReadToEnd bool
	// PendingMarker is the timestamp of a marker written and not read back yet (zero: none).
	PendingMarker time.Time
}

// PartitionProgress is what the policy looks at for one partition.
type PartitionProgress struct {
	Inputs []InputProgress
	// NextClose is the close point of the partition's earliest open window (Rule.CloseAt); zero
	// when no window is open.
	NextClose time.Time
	// Settled is the greatest arrival read on the partition at least ProducerDelay ago.
	Settled time.Time
	// Latest is the greatest arrival read on the partition.
	Latest time.Time
	// LastRead is the processing time of the latest record read on the partition.
	LastRead time.Time
}

// Marker is a marker to write: its input topic and timestamp.
type Marker struct {
	Topic     string
	Timestamp time.Time
}

// Due lists the markers to write for a partition at processing time now. Each is timestamped
// at the first millisecond (Kafka's resolution) past the next close point: enough to let the
// earliest open window close, and no more, so a marker claims as little as it can.
func (p MarkerPolicy) Due(pp PartitionProgress, now time.Time) []Marker {
	if pp.NextClose.IsZero() {
		return nil
	}
	at := pp.NextClose.Truncate(time.Millisecond).Add(time.Millisecond)
	if !p.safe(pp, at, now) {
		return nil
	}
	var out []Marker
	for _, in := range pp.Inputs {
		if in.Arrival.After(pp.NextClose) || !in.ReadToEnd || !in.PendingMarker.Before(at) {
			continue
		}
		out = append(out, Marker{Topic: in.Topic, Timestamp: at})
	}
	return out
}

// safe reports that no record timestamped before at can still reach the partition's inputs.
func (p MarkerPolicy) safe(pp PartitionProgress, at, now time.Time) bool {
	if !pp.Settled.Before(at) {
		return true // another input was read past it, long enough ago
	}
	for _, in := range pp.Inputs {
		if !in.ReadToEnd {
			return false
		}
	}
	quietFor := now.Sub(pp.LastRead)
	// both bounds hold: the partition's own clock extrapolated (a producer whose stamps trail
	// the wall clock), and the wall clock (a producer whose stamps run ahead of it, as a fast
	// simulation does: its next record may still be stamped before what its pace would claim)
	return quietFor >= p.ProducerDelay && !pp.Latest.IsZero() &&
		!pp.Latest.Add(quietFor-p.ProducerDelay).Before(at) && !now.Add(-p.ProducerDelay).Before(at)
}

// History remembers the greatest arrival read on a partition over time, to tell what was read
// at least some delay ago (PartitionProgress.Settled). Samples are taken by the caller, one per
// sweep; it keeps only what the delay needs.
type History struct {
	samples []sample // oldest first
}

type sample struct {
	at     time.Time // processing time
	latest time.Time // greatest arrival read by then
}

// Record notes that by processing time now the greatest arrival read was latest.
func (h *History) Record(now, latest time.Time) {
	h.samples = append(h.samples, sample{at: now, latest: latest})
}

// Settled is the greatest arrival read at least delay before now, and forgets older samples.
func (h *History) Settled(now time.Time, delay time.Duration) time.Time {
	cut := now.Add(-delay)
	k := 0
	for k < len(h.samples) && !h.samples[k].at.After(cut) {
		k++
	}
	if k == 0 {
		return time.Time{}
	}
	settled := h.samples[k-1].latest
	h.samples = h.samples[k-1:] // the newest settled sample stays: it may be the answer again
	return settled
}
