// Package aggregator is Telemetra's windowing processor: the goka group "telemetra-windows"
// reads the four input topics keyed by channel, keeps each channel's ChannelState in the group
// table and emits window aggregates and moments. The windowing rules themselves live in
// processors/window; this package is the goka wiring around them: decoding and dead-lettering,
// partition routing, exactly-once application, emits and ticks.
package aggregator

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/lovoo/goka"
	"github.com/lovoo/goka/codec"
	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/proto"

	"github.com/telemetra/telemetra/internal/kafka"
	"github.com/telemetra/telemetra/processors/window"
	pb "github.com/telemetra/telemetra/proto/telemetra/v1"
	"github.com/telemetra/telemetra/schemas"
)

// DefaultGroup is the goka group; its table topic is "<group>-table".
const DefaultGroup goka.Group = "telemetra-windows"

// GroupFor names the goka group of a processor generation: a new generation reprocesses the
// input topics from the start into a state table and output topics of its own.
func GroupFor(generation int) goka.Group {
	if generation <= 1 {
		return DefaultGroup
	}
	return goka.Group(fmt.Sprintf("%s-g%d", DefaultGroup, generation))
}

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
	wb         *writeBack // nil: write each state through goka's SetValue (goka's tester)
	out        kafka.Outputs
}

// LogicConfig configures the callbacks.
type LogicConfig struct {
	Group      goka.Group
	Window     window.Config
	Partitions int
	// Outputs are the topics written (default: generation 1's).
	Outputs kafka.Outputs
	Now     func() time.Time
	Logger  *slog.Logger
	Metrics *Metrics
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
	if cfg.Outputs.Aggregates == "" {
		cfg.Outputs = kafka.OutputsFor(1)
	}
	l := &Logic{
		group: cfg.Group, engine: engine, partitions: cfg.Partitions, now: cfg.Now,
		logger: cfg.Logger, metrics: cfg.Metrics, schedule: newSchedule(), out: cfg.Outputs,
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
		goka.Output(goka.Stream(l.out.Aggregates), aggregateCodec),
		goka.Output(goka.Stream(l.out.Moments), momentCodec),
		goka.Output(goka.Stream(l.out.DLQ), new(codec.Bytes)),
		goka.Output(goka.Stream(l.out.Late), new(codec.Bytes)),
	)
	return goka.DefineGroup(l.group, edges...)
}

// begin starts processing one input record. In write-back mode it holds the partition's states
// until end is called, and defers the record's commit until the states are written.
func (l *Logic) begin(ctx goka.Context) (ps *partitionStates, end func()) {
	if l.wb == nil {
		return nil, func() {}
	}
	ps = l.wb.partition(ctx.Partition(), ctx.Context())
	ps.mu.Lock()
	if !ps.closed {
		ps.pending = append(ps.pending, ctx.DeferCommit())
	}
	// else goka is stopping the partition after its last flush: the states in memory are still
	// the current ones, and store and emit write through goka for this record
	return ps, ps.mu.Unlock
}

func (l *Logic) onEvent(ctx goka.Context, msg any) {
	ps, end := l.begin(ctx)
	defer end()
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
	l.handle(ctx, ps, topic, ctx.Partition(), ctx.Offset(), raw)
}

func (l *Logic) onRouted(ctx goka.Context, msg any) {
	ps, end := l.begin(ctx)
	defer end()
	r := msg.(*pb.RoutedEvent)
	l.handle(ctx, ps, r.Topic, r.Partition, r.Offset, r.Value)
	if l.frontiers != nil {
		l.frontiers.arrived(routedKey{r.Topic, r.Partition, r.Offset})
	}
}

// eventTime is the timestamp of an input record, or zero if it does not decode.
func (l *Logic) eventTime(topic string, raw []byte) time.Time {
	if kind, ok := schemas.KindForTopic(topic); ok {
		if ev, err := schemas.Decode(kind, raw); err == nil {
			return l.trusted(ev.EventTime())
		}
	}
	return time.Time{}
}

// trusted is the event time an input's progress may be measured by: zero for a time too far
// in the future (dead-lettered). One such record would otherwise lift its input's frontier
// mark for good, and that input would stop holding back windows it is behind on.
func (l *Logic) trusted(eventTime time.Time) time.Time {
	if l.engine.TooFarAhead(eventTime, l.now()) {
		return time.Time{}
	}
	return eventTime
}

// read records the progress of the record being processed: the input it came from directly
// (the loopback for re-routed events) and its event time, or zero if it did not decode or is
// not to be trusted.
func (l *Logic) read(ctx goka.Context, eventTime time.Time) {
	l.observe(ctx.Partition(), string(ctx.Topic()), ctx.Offset(), l.trusted(eventTime))
}

// handle applies one input event, read at topic/partition/offset, to its channel's state.
func (l *Logic) handle(ctx goka.Context, ps *partitionStates, topic string, partition int32, offset int64, raw []byte) {
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

	st := l.state(ctx, ps)
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
		headers := sourceHeaders(topic, partition, offset, "late",
			fmt.Sprintf("window already final: closed %s before this event's window end", res.LateBy))
		if ps != nil && !ps.closed {
			ps.outbox = append(ps.outbox, rawRecord(l.out.Late, ctx.Key(), raw, headers, l.partitions))
		} else {
			ctx.Emit(goka.Stream(l.out.Late), ctx.Key(), raw, goka.WithCtxEmitHeaders(headers))
		}
		l.count(topic, outcomeLate)
	} else {
		l.count(topic, outcomeApplied)
	}
	l.emit(ctx, ps, res, now)
	l.store(ctx, ps, st)
	l.reschedule(ctx.Key(), st)
}

// tickWriteBack runs the ticks of the channels held in memory (write-back mode): idle closes
// and pending provisional updates. Their emits are written before the partition is unlocked, so
// no flush can write a state whose emits might still be lost.
func (l *Logic) tickWriteBack(ctx context.Context, sweep Sweep, outputPartitions int) error {
	l.wb.mu.Lock()
	parts := make(map[int32]*partitionStates, len(l.wb.parts))
	for p, ps := range l.wb.parts {
		parts[p] = ps
	}
	l.wb.mu.Unlock()
	for p, ps := range parts {
		if err := l.tickPartition(ctx, p, ps, sweep, outputPartitions); err != nil {
			return err
		}
	}
	return nil
}

func (l *Logic) tickPartition(ctx context.Context, p int32, ps *partitionStates, sweep Sweep, outputPartitions int) error {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if ps.closed {
		return nil
	}
	frontier := l.frontier(p)
	var records []*kgo.Record
	for key, st := range ps.states {
		if !sweep.Full && !l.schedule.isDue(key, sweep.Now) {
			continue
		}
		res := l.engine.Tick(st, sweep.Now, frontier, sweep.CaughtUp[p])
		for _, agg := range res.Aggregates {
			r, err := emitRecord(l.out.Aggregates, key, agg, outputPartitions)
			if err != nil {
				return err
			}
			records = append(records, r)
		}
		for _, m := range res.Moments {
			r, err := emitRecord(l.out.Moments, key, m, outputPartitions)
			if err != nil {
				return err
			}
			records = append(records, r)
		}
		if len(res.Aggregates) > 0 || len(res.Moments) > 0 {
			ps.dirty[key] = struct{}{}
			l.observeEmits(res, sweep.Now)
		}
		l.reschedule(key, st)
	}
	if len(records) == 0 {
		return nil
	}
	if err := l.wb.cl.ProduceSync(ctx, records...).FirstErr(); err != nil {
		return fmt.Errorf("emit %d tick records: %w", len(records), err)
	}
	return nil
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
	if l.wb != nil {
		l.load(ctx)
		return
	}
	if !sweep.Full && !l.schedule.isDue(ctx.Key(), sweep.Now) {
		return // nothing due: skip without decoding the state
	}
	st := l.state(ctx, nil)
	res := l.engine.Tick(st, sweep.Now, l.frontier(ctx.Partition()), sweep.CaughtUp[ctx.Partition()])
	if len(res.Aggregates) > 0 || len(res.Moments) > 0 {
		l.emit(ctx, nil, res, sweep.Now)
		l.store(ctx, nil, st)
	}
	l.reschedule(ctx.Key(), st)
}

// load brings a channel that this instance has not touched since the assignment into memory, so
// the write-back ticks see its open windows (after a restart or a rebalance).
func (l *Logic) load(ctx goka.Context) {
	ps := l.wb.partition(ctx.Partition(), ctx.Context())
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if _, ok := ps.states[ctx.Key()]; ok || ps.closed {
		return
	}
	st := l.state(ctx, nil)
	ps.states[ctx.Key()] = st
	l.reschedule(ctx.Key(), st)
}

func (l *Logic) reschedule(channel string, st *pb.ChannelState) {
	due, ok := l.engine.NextDue(st)
	l.schedule.set(channel, due, ok)
}

// state returns the channel's state: the one in memory (write-back mode), else goka's copy of
// the table, decoded here (the table codec leaves values as bytes).
func (l *Logic) state(ctx goka.Context, ps *partitionStates) *pb.ChannelState {
	if ps != nil {
		if st, ok := ps.states[ctx.Key()]; ok {
			return st
		}
	}
	raw, _ := ctx.Value().(storedState)
	if raw == nil {
		return &pb.ChannelState{Channel: ctx.Key()}
	}
	st := new(pb.ChannelState)
	if err := proto.Unmarshal(raw, st); err != nil {
		ctx.Fail(fmt.Errorf("decode state of channel %q: %w", ctx.Key(), err))
	}
	return st
}

// store writes the state to the table; in write-back mode it only marks it for the next flush.
func (l *Logic) store(ctx goka.Context, ps *partitionStates, st *pb.ChannelState) {
	if ps != nil {
		ps.states[ctx.Key()] = st
		if !ps.closed {
			ps.dirty[ctx.Key()] = struct{}{}
			return
		}
	}
	raw, err := proto.Marshal(st)
	if err != nil {
		ctx.Fail(fmt.Errorf("encode state of channel %q: %w", ctx.Key(), err))
	}
	ctx.SetValue(storedState(raw))
}

// emit sends what a state change produced: through goka in write-through mode, or into the
// partition's outbox, written before the state itself, in write-back mode.
func (l *Logic) emit(ctx goka.Context, ps *partitionStates, res window.Result, now time.Time) {
	if ps != nil && !ps.closed {
		for _, agg := range res.Aggregates {
			l.enqueue(ctx, ps, l.out.Aggregates, agg)
		}
		for _, m := range res.Moments {
			l.enqueue(ctx, ps, l.out.Moments, m)
		}
	} else {
		for _, agg := range res.Aggregates {
			ctx.Emit(goka.Stream(l.out.Aggregates), ctx.Key(), agg)
		}
		for _, m := range res.Moments {
			ctx.Emit(goka.Stream(l.out.Moments), ctx.Key(), m)
		}
	}
	l.observeEmits(res, now)
}

func (l *Logic) enqueue(ctx goka.Context, ps *partitionStates, topic string, m proto.Message) {
	r, err := emitRecord(topic, ctx.Key(), m, l.partitions)
	if err != nil {
		ctx.Fail(fmt.Errorf("encode %s record: %w", topic, err))
	}
	ps.outbox = append(ps.outbox, r)
}

// observeEmits counts emitted records in the metrics.
func (l *Logic) observeEmits(res window.Result, now time.Time) {
	if l.metrics == nil {
		return
	}
	for _, agg := range res.Aggregates {
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
		l.metrics.moments.WithLabelValues(m.Kind.String()).Inc()
	}
}

func (l *Logic) deadLetter(ctx goka.Context, topic string, partition int32, offset int64, raw []byte, reason string, err error) {
	ctx.Emit(goka.Stream(l.out.DLQ), ctx.Key(), raw, goka.WithCtxEmitHeaders(sourceHeaders(topic, partition, offset, reason, err.Error())))
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
