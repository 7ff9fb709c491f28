package window

import (
	"iter"
	"maps"
	"time"

	"github.com/telemetra/telemetra/processors/eventtime"
	pb "github.com/telemetra/telemetra/proto/telemetra/v1"
	"github.com/telemetra/telemetra/schemas"
)

// Partition is one partition of the processor's inputs as the event-time rule sees it: its
// arrival clock and the states of the channels it holds. Every record read goes through Read;
// decoded events then through Apply; windows the frontier has passed close in Apply (for the
// event's channel) and CloseDue (for all others). The processor (aggregator) holds one per
// partition and adds the Kafka plumbing; scenario and property tests drive it directly. It is
// not safe for concurrent use.
type Partition struct {
	engine *Engine
	clock  *eventtime.Clock
	states map[string]*pb.ChannelState
	// nextClose is at or before the close point of every open window held here (zero: none
	// open), so a frontier that has not passed it closes nothing and costs no visit.
	nextClose time.Time
}

// NewPartition returns an empty partition fed by the given input topics.
func (e *Engine) NewPartition(inputs []string) *Partition {
	return &Partition{engine: e, clock: eventtime.NewClock(inputs), states: map[string]*pb.ChannelState{}}
}

// Emit is what a change of one channel's state produced.
type Emit struct {
	Channel string
	Result
}

// Outcome is what Apply did with an event.
type Outcome int

const (
	// Applied is an event counted in its window.
	Applied Outcome = iota
	// Late is an event counted as late on its window (Result.LateDetail says why); it goes to
	// the late topic.
	Late
	// Duplicate is an event already applied to the state (a redelivery after a crash).
	Duplicate
	// Refused is an event not believable (ErrFutureTimestamp, ErrPastTimestamp); it goes to the DLQ.
	Refused
)

// Clock is the partition's arrival clock.
func (p *Partition) Clock() *eventtime.Clock { return p.clock }

// Read records that a record of topic with the given Kafka timestamp was read, and returns the
// record's arrival. Every record counts: markers and records that do not decode too.
func (p *Partition) Read(topic string, timestamp time.Time) time.Time {
	return p.clock.Observe(topic, timestamp)
}

// State returns the state held for a channel.
func (p *Partition) State(channel string) (*pb.ChannelState, bool) {
	st, ok := p.states[channel]
	return st, ok
}

// Hold takes over a channel's state (recovered from the table). Its windows the frontier has
// passed close with the next CloseDue.
func (p *Partition) Hold(channel string, st *pb.ChannelState) {
	p.states[channel] = st
	p.noteOpen(st)
}

// Channels lists the channels held and their states.
func (p *Partition) Channels() iter.Seq2[string, *pb.ChannelState] { return maps.All(p.states) }

// Apply applies a decoded event of a channel, read at topic/partition/offset with the given
// arrival (Read's answer), to the channel's state, starting one if none is held. It returns
// what happened, the emits, and for Refused the reason (ErrFutureTimestamp, ErrPastTimestamp).
func (p *Partition) Apply(channel, topic string, partition int32, offset int64, ev schemas.Event, arrival, now time.Time) (Outcome, Result, error) {
	st, ok := p.states[channel]
	if !ok {
		st = &pb.ChannelState{Channel: channel}
		p.states[channel] = st
	}
	// The offset is stored with the state it produced, so a redelivery after a crash is
	// recognized and skipped instead of decided again. Refused events are recorded too: their
	// verdict depends on the arrival, which a restored clock may put later than it was.
	applied := appliedOffset(st, topic, partition)
	if applied.Offset >= offset {
		return Duplicate, Result{}, nil
	}
	applied.Offset = offset
	res, err := p.engine.Apply(st, ev, arrival, p.clock.Frontier(), now)
	p.noteOpen(st)
	switch {
	case err != nil:
		return Refused, res, err
	case res.Late:
		return Late, res, nil
	default:
		return Applied, res, nil
	}
}

// CloseDue closes, on every channel held, the windows the frontier has passed. It visits the
// channels only when the frontier passed the earliest close point.
func (p *Partition) CloseDue(now time.Time) []Emit {
	frontier := p.clock.Frontier()
	if p.nextClose.IsZero() || !frontier.After(p.nextClose) {
		return nil
	}
	p.nextClose = time.Time{}
	var out []Emit
	for channel, st := range p.states {
		if res := p.engine.Close(st, frontier, now); len(res.Aggregates) > 0 {
			out = append(out, Emit{Channel: channel, Result: res})
		}
		p.noteOpen(st)
	}
	return out
}

// NextClose is the close point of the earliest open window held (Rule.CloseAt), zero if none.
func (p *Partition) NextClose() time.Time { return p.nextClose }

// noteOpen lowers nextClose to a state's earliest close point.
func (p *Partition) noteOpen(st *pb.ChannelState) {
	if c, ok := p.engine.NextClose(st); ok && (p.nextClose.IsZero() || c.Before(p.nextClose)) {
		p.nextClose = c
	}
}

// appliedOffset returns the state's record of the last offset applied from topic/partition,
// adding one (at offset -1) if there is none yet.
func appliedOffset(st *pb.ChannelState, topic string, partition int32) *pb.AppliedOffset {
	for _, a := range st.AppliedOffsets {
		if a.Partition == partition && a.Topic == topic {
			return a
		}
	}
	a := &pb.AppliedOffset{Topic: topic, Partition: partition, Offset: -1}
	st.AppliedOffsets = append(st.AppliedOffsets, a)
	return a
}
