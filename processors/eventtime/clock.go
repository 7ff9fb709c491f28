package eventtime

import (
	"slices"
	"time"

	pb "github.com/telemetra/telemetra/proto/telemetra/v1"
)

// Clock is the arrival clock of one partition of the processor's inputs: per input topic, the
// largest Kafka timestamp read from that topic's partition. It is not safe for concurrent use;
// a partition is processed by one goroutine at a time.
type Clock struct {
	inputs  []string
	arrival []time.Time // by input; zero: nothing read yet
}

// NewClock returns the clock of a partition fed by the given input topics.
func NewClock(inputs []string) *Clock {
	return &Clock{inputs: slices.Clone(inputs), arrival: make([]time.Time, len(inputs))}
}

// Observe records a record read from topic with the given Kafka timestamp and returns the
// record's arrival: the topic's clock after it. Records of unknown topics leave the clock alone
// and arrive at their own timestamp.
func (c *Clock) Observe(topic string, timestamp time.Time) time.Time {
	k := slices.Index(c.inputs, topic)
	if k < 0 {
		return timestamp
	}
	if timestamp.After(c.arrival[k]) {
		c.arrival[k] = timestamp
	}
	return c.arrival[k]
}

// Arrival is the clock of one input, zero if it has delivered nothing.
func (c *Clock) Arrival(topic string) time.Time {
	if k := slices.Index(c.inputs, topic); k >= 0 {
		return c.arrival[k]
	}
	return time.Time{}
}

// Frontier is the least arrival among the inputs: every input has delivered a record that
// arrived at or after it. Zero while some input has delivered nothing.
func (c *Clock) Frontier() time.Time {
	var f time.Time
	for k, a := range c.arrival {
		if a.IsZero() {
			return time.Time{}
		}
		if k == 0 || a.Before(f) {
			f = a
		}
	}
	return f
}

// Latest is the greatest arrival among the inputs, zero if none has delivered anything.
func (c *Clock) Latest() time.Time {
	var l time.Time
	for _, a := range c.arrival {
		if a.After(l) {
			l = a
		}
	}
	return l
}

// Snapshot is the clock as stored beside the partition's channel states.
func (c *Clock) Snapshot() *pb.PartitionClock {
	out := &pb.PartitionClock{}
	for k, a := range c.arrival {
		if !a.IsZero() {
			out.Inputs = append(out.Inputs, &pb.InputArrival{Topic: c.inputs[k], ArrivalUnixMs: a.UnixMilli()})
		}
	}
	return out
}

// Restore raises the clock to a stored snapshot. The snapshot is written after the channel
// states it covers, and may cover more than the committed offsets: re-reading a record it
// covers does not move the clock, and the decision on that record is already in its channel's
// state (skipped as a duplicate).
func (c *Clock) Restore(s *pb.PartitionClock) {
	for _, in := range s.GetInputs() {
		c.Observe(in.GetTopic(), time.UnixMilli(in.GetArrivalUnixMs()).UTC())
	}
}
