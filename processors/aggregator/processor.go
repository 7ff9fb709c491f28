// Package aggregator is Telemetra's windowing processor: the goka group "telemetra-windows"
// reads the four input topics keyed by channel, keeps each channel's ChannelState in the group
// table and emits window aggregates and moments. The windowing rules themselves live in
// processors/window; this package is the goka wiring around them: decoding and dead-lettering,
// partition routing, exactly-once application, emits and ticks.
package aggregator

import (
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"
	"unsafe"

	"github.com/lovoo/goka"
	"github.com/lovoo/goka/codec"
	"google.golang.org/protobuf/proto"

	"github.com/telemetra/telemetra/internal/kafka"
	"github.com/telemetra/telemetra/processors/window"
	pb "github.com/telemetra/telemetra/proto/telemetra/v1"
	"github.com/telemetra/telemetra/schemas"
)

// DefaultGroup is the goka group; its table topic is "<group>-table".
const DefaultGroup goka.Group = "telemetra-windows"

// Edge names.
const (
	tickVisitor = "tick"
)

// Headers on dead-lettered and late records.
const (
	HeaderSourceTopic     = "telemetra-source-topic"
	HeaderSourcePartition = "telemetra-source-partition"
	HeaderSourceOffset    = "telemetra-source-offset"
	HeaderReason          = "telemetra-reason"
	HeaderError           = "telemetra-error"
)

// DLQ reasons (the HeaderReason value; HeaderError has the details).
const (
	ReasonInvalid     = "invalid_event"    // not JSON, or does not match the topic's schema
	ReasonKeyMismatch = "key_mismatch"     // the record key is not the event's channel
	ReasonFuture      = "future_timestamp" // too far ahead of processing time
	ReasonUnknownKind = "unknown_topic"
)

// Logic is the processor's callbacks and their collaborators. It has no Kafka connection of its
// own: goka drives it, in production and in goka's tester.
type Logic struct {
	group      goka.Group
	engine     *window.Engine
	partitions int // of the input topics; 0 disables re-routing (goka's tester has one partition)
	now        func() time.Time
	logger     *slog.Logger
	metrics    *Metrics
	schedule   *schedule
	frontiers  *frontiers // nil: a single ordered input, nothing to hold back (goka's tester)
	decoded    *stateCache
}

// LogicConfig configures the callbacks.
type LogicConfig struct {
	Group      goka.Group
	Window     window.Config
	Partitions int
	Now        func() time.Time
	Logger     *slog.Logger
	Metrics    *Metrics
	// TrackFrontiers holds windows open while an input is behind the others (see frontiers).
	// It needs the end and committed offsets that Run's sweeper feeds in.
	TrackFrontiers bool
}

// NewLogic validates the config and builds the callbacks.
func NewLogic(cfg LogicConfig) (*Logic, error) {
	engine, err := window.New(cfg.Window)
	if err != nil {
		return nil, err
	}
	if cfg.Group == "" {
		cfg.Group = DefaultGroup
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	l := &Logic{
		group: cfg.Group, engine: engine, partitions: cfg.Partitions, now: cfg.Now,
		logger: cfg.Logger, metrics: cfg.Metrics, schedule: newSchedule(), decoded: newStateCache(),
	}
	if cfg.TrackFrontiers {
		l.frontiers = newFrontiers(l.inputTopics())
	}
	return l, nil
}

// inputTopics are the topics whose progress bounds the watermark: the inputs and the loopback.
func (l *Logic) inputTopics() []string {
	return append(kafka.InputTopics(), string(l.group)+"-loop")
}

func (l *Logic) frontier(partition int32) time.Time {
	if l.frontiers == nil {
		return window.NoFrontier
	}
	return l.frontiers.frontier(partition)
}

func (l *Logic) observe(partition int32, topic string, offset int64, eventTime time.Time) {
	if l.frontiers != nil {
		l.frontiers.observe(partition, topic, offset, eventTime)
	}
}

// Table is the group table holding one ChannelState per channel.
func (l *Logic) Table() goka.Table { return goka.GroupTable(l.group) }

// Graph defines the goka group.
func (l *Logic) Graph() *goka.GroupGraph {
	edges := []goka.Edge{}
	for _, topic := range kafka.InputTopics() {
		edges = append(edges, goka.Input(goka.Stream(topic), new(codec.Bytes), l.onEvent))
	}
	edges = append(edges,
		goka.Loop(routedCodec, l.onRouted),
		goka.Visitor(tickVisitor, l.onTick),
		goka.Persist(stateTableCodec{}),
		goka.Output(kafka.TopicAggregates, aggregateCodec),
		goka.Output(kafka.TopicMoments, momentCodec),
		goka.Output(kafka.TopicDLQ, new(codec.Bytes)),
		goka.Output(kafka.TopicLate, new(codec.Bytes)),
	)
	return goka.DefineGroup(l.group, edges...)
}

func (l *Logic) onEvent(ctx goka.Context, msg any) {
	raw, _ := msg.([]byte)
	topic := string(ctx.Topic())
	if l.partitions > 0 {
		if want := int32(kafka.PartitionForKey([]byte(ctx.Key()), l.partitions)); want != ctx.Partition() && ctx.Key() != "" {
			// The producer partitioned differently than goka: this partition does not own the
			// channel's state. Send the event through the loopback topic, which goka partitions
			// by key, so it is applied with the right state.
			ctx.Loopback(ctx.Key(), &pb.RoutedEvent{Topic: topic, Partition: ctx.Partition(), Offset: ctx.Offset(), Value: raw})
			l.count(topic, outcomeRerouted)
			t := l.eventTime(topic, raw)
			l.observe(ctx.Partition(), topic, ctx.Offset(), t)
			if l.frontiers != nil && !t.IsZero() {
				l.frontiers.routed(routedKey{topic, ctx.Partition(), ctx.Offset()}, t)
			}
			return
		}
	}
	l.handle(ctx, topic, ctx.Partition(), ctx.Offset(), raw)
}

func (l *Logic) onRouted(ctx goka.Context, msg any) {
	r := msg.(*pb.RoutedEvent)
	l.handle(ctx, r.Topic, r.Partition, r.Offset, r.Value)
	if l.frontiers != nil {
		l.frontiers.arrived(routedKey{r.Topic, r.Partition, r.Offset})
	}
}

// eventTime is the timestamp of an input record, or zero if it does not decode.
func (l *Logic) eventTime(topic string, raw []byte) time.Time {
	if kind, ok := schemas.KindForTopic(topic); ok {
		if ev, err := schemas.Decode(kind, raw); err == nil {
			return ev.EventTime()
		}
	}
	return time.Time{}
}

// read records the progress of the record being processed: the input it came from directly
// (the loopback for re-routed events) and its event time, or zero if it did not decode.
func (l *Logic) read(ctx goka.Context, eventTime time.Time) {
	l.observe(ctx.Partition(), string(ctx.Topic()), ctx.Offset(), eventTime)
}

// handle applies one input event, read at topic/partition/offset, to its channel's state.
func (l *Logic) handle(ctx goka.Context, topic string, partition int32, offset int64, raw []byte) {
	kind, ok := schemas.KindForTopic(topic)
	if !ok {
		l.deadLetter(ctx, topic, partition, offset, raw, ReasonUnknownKind, fmt.Errorf("no schema for topic %q", topic))
		return
	}
	ev, err := schemas.Decode(kind, raw)
	if err != nil {
		l.read(ctx, time.Time{})
		l.deadLetter(ctx, topic, partition, offset, raw, ReasonInvalid, err)
		return
	}
	l.read(ctx, ev.EventTime())
	if ev.EventChannel() != ctx.Key() {
		l.deadLetter(ctx, topic, partition, offset, raw, ReasonKeyMismatch,
			fmt.Errorf("record key %q is not the event's channel %q", ctx.Key(), ev.EventChannel()))
		return
	}

	st := l.state(ctx)
	// goka delivers at least once; the offset is stored with the state it produced, so a
	// redelivery after a crash is recognized and skipped instead of counted twice.
	applied := appliedOffset(st, topic, partition)
	if applied.Offset >= offset {
		l.count(topic, outcomeDuplicate)
		return
	}
	now := l.now()
	res, err := l.engine.Apply(st, ev, now, l.frontier(ctx.Partition()))
	if errors.Is(err, window.ErrFutureTimestamp) {
		l.deadLetter(ctx, topic, partition, offset, raw, ReasonFuture, err)
		return
	}
	if err != nil {
		l.deadLetter(ctx, topic, partition, offset, raw, ReasonInvalid, err)
		return
	}
	applied.Offset = offset
	if res.Late {
		ctx.Emit(kafka.TopicLate, ctx.Key(), raw, goka.WithCtxEmitHeaders(sourceHeaders(topic, partition, offset,
			"late", fmt.Sprintf("window already final: closed %s before this event's window end", res.LateBy))))
		l.count(topic, outcomeLate)
	} else {
		l.count(topic, outcomeApplied)
	}
	l.emit(ctx, res, now)
	l.store(ctx, st)
	l.reschedule(ctx.Key(), st)
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

// Sweep is the meta value of a tick visit: when it runs and which partitions are caught up.
type Sweep struct {
	Now time.Time
	// CaughtUp lists the partitions whose input was fully processed as of the previous sweep:
	// only there may an idle channel be closed, or a fast replay would make its own events late.
	CaughtUp map[int32]bool
	// Full visits every channel; otherwise only the channels with something due.
	Full bool
}

func (l *Logic) onTick(ctx goka.Context, msg any) {
	sweep, ok := msg.(Sweep)
	if !ok {
		return
	}
	if !sweep.Full && !l.schedule.isDue(ctx.Key(), sweep.Now) {
		return // nothing due: skip without decoding the state
	}
	st := l.state(ctx)
	res := l.engine.Tick(st, sweep.Now, l.frontier(ctx.Partition()), sweep.CaughtUp[ctx.Partition()])
	if len(res.Aggregates) > 0 || len(res.Moments) > 0 {
		l.emit(ctx, res, sweep.Now)
		l.store(ctx, st)
	}
	l.reschedule(ctx.Key(), st)
}

func (l *Logic) reschedule(channel string, st *pb.ChannelState) {
	due, ok := l.engine.NextDue(st)
	l.schedule.set(channel, due, ok)
}

// state returns the channel's state. Decoding a few kilobytes of protobuf per event was a
// quarter of the processor's time, so the decoded state is kept in memory beside the exact
// bytes it was encoded to; when the table still holds those bytes (same backing array: goka's
// in-memory storage returns what was stored), the decoded copy is current. Anything else (a
// recovered table, LevelDB, another writer) is decoded.
func (l *Logic) state(ctx goka.Context) *pb.ChannelState {
	raw, _ := ctx.Value().(storedState)
	if raw == nil {
		return &pb.ChannelState{Channel: ctx.Key()}
	}
	if st := l.decoded.get(ctx.Key(), raw); st != nil {
		return st
	}
	st := new(pb.ChannelState)
	if err := proto.Unmarshal(raw, st); err != nil {
		ctx.Fail(fmt.Errorf("decode state of channel %q: %w", ctx.Key(), err))
	}
	return st
}

// store writes the state to the table and remembers its decoded form.
func (l *Logic) store(ctx goka.Context, st *pb.ChannelState) {
	raw, err := proto.Marshal(st)
	if err != nil {
		ctx.Fail(fmt.Errorf("encode state of channel %q: %w", ctx.Key(), err))
	}
	ctx.SetValue(storedState(raw))
	l.decoded.put(ctx.Key(), raw, st)
}

func (l *Logic) emit(ctx goka.Context, res window.Result, now time.Time) {
	for _, agg := range res.Aggregates {
		ctx.Emit(kafka.TopicAggregates, ctx.Key(), agg)
		if l.metrics == nil {
			continue
		}
		if agg.Final {
			l.metrics.windowsClosed.Inc()
		} else {
			l.metrics.provisional.Inc()
		}
		if last := agg.GetLastEventTime(); last != nil {
			l.metrics.emitLag.Observe(now.Sub(last.AsTime()).Seconds())
		}
	}
	for _, m := range res.Moments {
		ctx.Emit(kafka.TopicMoments, ctx.Key(), m)
		if l.metrics != nil {
			l.metrics.moments.WithLabelValues(m.Kind.String()).Inc()
		}
	}
}

func (l *Logic) deadLetter(ctx goka.Context, topic string, partition int32, offset int64, raw []byte, reason string, err error) {
	ctx.Emit(kafka.TopicDLQ, ctx.Key(), raw, goka.WithCtxEmitHeaders(sourceHeaders(topic, partition, offset, reason, err.Error())))
	l.count(topic, outcomeDLQ)
	l.logger.Debug("dead-lettered an input event", "topic", topic, "partition", partition, "offset", offset, "reason", reason, "err", err)
}

func sourceHeaders(topic string, partition int32, offset int64, reason, detail string) goka.Headers {
	return goka.Headers{
		HeaderSourceTopic:     []byte(topic),
		HeaderSourcePartition: []byte(strconv.Itoa(int(partition))),
		HeaderSourceOffset:    []byte(strconv.FormatInt(offset, 10)),
		HeaderReason:          []byte(reason),
		HeaderError:           []byte(detail),
	}
}

func (l *Logic) count(topic, outcome string) {
	if l.metrics != nil {
		l.metrics.events.WithLabelValues(topic, outcome).Inc()
	}
}

// stateCache maps a channel to its last stored bytes and their decoded state. The bytes are
// kept, so their backing array cannot be reused for other bytes while the entry exists.
type stateCache struct {
	mu sync.Mutex
	m  map[string]cachedState
}

type cachedState struct {
	raw []byte
	st  *pb.ChannelState
}

func newStateCache() *stateCache { return &stateCache{m: make(map[string]cachedState)} }

func (c *stateCache) get(channel string, raw []byte) *pb.ChannelState {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[channel]
	if !ok || len(e.raw) != len(raw) || len(raw) == 0 || unsafe.SliceData(e.raw) != unsafe.SliceData(raw) {
		return nil
	}
	return e.st
}

func (c *stateCache) put(channel string, raw []byte, st *pb.ChannelState) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.m[channel] = cachedState{raw: raw, st: st}
}

// schedule remembers, per channel, the processing time at which a tick has work to do, so a
// sweep can skip every other channel without decoding its state.
type schedule struct {
	mu  sync.Mutex
	due map[string]time.Time
}

func newSchedule() *schedule { return &schedule{due: make(map[string]time.Time)} }

func (s *schedule) set(channel string, due time.Time, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ok {
		s.due[channel] = due
	} else {
		delete(s.due, channel)
	}
}

func (s *schedule) isDue(channel string, now time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	due, ok := s.due[channel]
	return ok && !now.Before(due)
}

// anyDue reports whether some channel has a tick due.
func (s *schedule) anyDue(now time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, due := range s.due {
		if !now.Before(due) {
			return true
		}
	}
	return false
}
