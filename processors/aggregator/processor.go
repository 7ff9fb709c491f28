// Package aggregator is Telemetra's windowing processor: the goka group "telemetra-windows"
// reads the four input topics keyed by channel, keeps each channel's ChannelState in the group
// table and emits window aggregates and moments. The rules themselves live in the pure packages
// processors/eventtime (lateness, closing, markers) and processors/window (what a window
// counts); this package is the goka wiring around them: decoding and dead-lettering, each
// partition's arrival clock, exactly-once application through the state cache, emits, ticks
// and markers.
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
	"github.com/telemetra/telemetra/processors/eventtime"
	"github.com/telemetra/telemetra/processors/table"
	"github.com/telemetra/telemetra/processors/window"
	pb "github.com/telemetra/telemetra/proto/telemetra/v1"
	"github.com/telemetra/telemetra/schemas"
)

// Edge names.
const (
	tickVisitor = "tick"
)

// Logic is the processor's callbacks and their collaborators. It has no Kafka connection of its
// own: goka drives it, in production and in goka's tester, and it writes through a Sink.
type Logic struct {
	group      goka.Group
	engine     *window.Engine
	partitions int // of the input topics
	inputs     []string
	now        func() time.Time
	logger     *slog.Logger
	metrics    *Metrics
	markers    eventtime.MarkerPolicy
	wb         *writeBack
	out        kafka.Outputs
	// tableGet reads goka's local copy of the group table (Processor.Get), for the clocks
	tableGet func(key string) (any, error)
}

// LogicConfig configures the callbacks.
type LogicConfig struct {
	Group  goka.Group
	Window window.Config
	// Partitions of the input topics (at least 1).
	Partitions int
	// Outputs are the topics written (default: generation 1's).
	Outputs kafka.Outputs
	// Sink writes emits, states, clocks and markers.
	Sink    Sink
	Now     func() time.Time
	Logger  *slog.Logger
	Metrics *Metrics
}

// NewLogic validates the config and builds the callbacks.
func NewLogic(cfg LogicConfig) (*Logic, error) {
	engine, err := window.New(cfg.Window)
	if err != nil {
		return nil, err
	}
	if cfg.Partitions < 1 {
		return nil, fmt.Errorf("processor logic: %d input partitions", cfg.Partitions)
	}
	if cfg.Sink == nil {
		return nil, errors.New("processor logic: no sink")
	}
	if cfg.Group == "" {
		cfg.Group = table.DefaultGroup
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Metrics == nil {
		cfg.Metrics = NewMetrics(nil)
	}
	if cfg.Outputs.Aggregates == "" {
		cfg.Outputs = kafka.OutputsFor(1)
	}
	l := &Logic{
		group: cfg.Group, engine: engine, partitions: cfg.Partitions, inputs: kafka.InputTopics(), now: cfg.Now,
		logger: cfg.Logger, metrics: cfg.Metrics, out: cfg.Outputs,
		markers: engine.Config().Markers(),
	}
	newPart := func() *window.Partition { return engine.NewPartition(l.inputs) }
	l.wb = newWriteBack(cfg.Now, cfg.Sink, string(goka.GroupTable(cfg.Group)), newPart, newClockKeys(cfg.Partitions), cfg.Logger)
	return l, nil
}

// attach gives the callbacks goka's local copy of the table, where the clocks are recovered.
func (l *Logic) attach(proc *goka.Processor) { l.tableGet = proc.Get }

// Table is the group table holding one ChannelState per channel (and one PartitionClock per
// partition, under table.IsClockKey keys).
func (l *Logic) Table() goka.Table { return goka.GroupTable(l.group) }

// Graph defines the goka group.
func (l *Logic) Graph() *goka.GroupGraph {
	edges := []goka.Edge{}
	for _, topic := range l.inputs {
		edges = append(edges, goka.Input(goka.Stream(topic), new(codec.Bytes), l.onEvent))
	}
	edges = append(edges,
		goka.Visitor(tickVisitor, l.onVisit),
		goka.Persist(stateTableCodec{}),
		goka.Output(goka.Stream(l.out.Aggregates), aggregateCodec),
		goka.Output(goka.Stream(l.out.Moments), momentCodec),
		goka.Output(goka.Stream(l.out.DLQ), new(codec.Bytes)),
		goka.Output(goka.Stream(l.out.Late), new(codec.Bytes)),
	)
	return goka.DefineGroup(l.group, edges...)
}

// task returns the partition's task for goka's current assignment, locked, recovering the
// partition's clock when the assignment is new.
func (l *Logic) task(ctx goka.Context) *partitionTask {
	ps, fresh := l.wb.partition(ctx.Context(), ctx.Partition())
	ps.mu.Lock()
	if fresh {
		l.restoreClock(ctx, ps)
	}
	return ps
}

// restoreClock raises a new assignment's clock to the one stored in the table.
func (l *Logic) restoreClock(ctx goka.Context, ps *partitionTask) {
	if l.tableGet == nil {
		return
	}
	v, err := l.tableGet(l.wb.keys.key(ctx.Partition()))
	if err != nil {
		ctx.Fail(fmt.Errorf("read the clock of partition %d: %w", ctx.Partition(), err))
	}
	raw, _ := v.(storedState)
	if raw == nil {
		return
	}
	clock := new(pb.PartitionClock)
	if err := proto.Unmarshal(raw, clock); err != nil {
		ctx.Fail(fmt.Errorf("decode the clock of partition %d: %w", ctx.Partition(), err))
	}
	ps.part.Clock().Restore(clock)
}

// begin starts processing one input record: it holds the partition's task until end, and
// defers the record's commit until what it changed is written.
func (l *Logic) begin(ctx goka.Context) *partitionTask {
	ps := l.task(ctx)
	if !ps.closed {
		ps.pending = append(ps.pending, ctx.DeferCommit())
	}
	return ps
}

// end releases the task. After the partition's final flush (goka is stopping it), a callback
// still running writes its changes at once: goka commits its record when it returns.
func (l *Logic) end(ctx goka.Context, ps *partitionTask) {
	if !ps.closed {
		ps.mu.Unlock()
		return
	}
	b, err := l.wb.take(ctx.Partition(), ps)
	ps.mu.Unlock()
	if err == nil {
		err = l.wb.write(context.WithoutCancel(ctx.Context()), ctx.Partition(), b)
	}
	if err != nil {
		ctx.Fail(err)
	}
}

func (l *Logic) onEvent(ctx goka.Context, msg any) {
	ps := l.begin(ctx)
	defer l.end(ctx, ps)
	raw, _ := msg.([]byte)
	topic := string(ctx.Topic())
	now := l.now()
	arrival := ps.read(topic, ctx.Offset(), ctx.Timestamp(), now)
	if _, marker := ctx.Headers()[kafka.HeaderMarker]; marker {
		l.count(topic, outcomeMarker)
	} else {
		l.handle(ctx, ps, topic, raw, arrival, now)
	}
	l.closeDue(ps, now)
}

// handle applies one input event, read at arrival, to its channel's state.
func (l *Logic) handle(ctx goka.Context, ps *partitionTask, topic string, raw []byte, arrival, now time.Time) {
	partition, offset, key := ctx.Partition(), ctx.Offset(), ctx.Key()
	if want := int32(kafka.PartitionForKey([]byte(key), l.partitions)); want != partition {
		// goka keeps a channel's state on the partition its hash gives the key; an event on
		// another partition cannot be applied there, and re-routing it would make its place
		// among the owning partition's inputs a matter of timing
		l.deadLetter(ctx, topic, raw, kafka.ReasonWrongPartition, fmt.Errorf(
			"channel %q is on partition %d of %s, but goka's hash (FNV-1a, internal/kafka.PartitionForKey) puts it on partition %d: "+
				"write with that partitioner (kcat: -p %d)", key, partition, topic, want, want))
		return
	}
	kind, ok := schemas.KindForTopic(topic)
	if !ok {
		l.deadLetter(ctx, topic, raw, kafka.ReasonUnknownTopic, fmt.Errorf("no schema for topic %q", topic))
		return
	}
	ev, err := schemas.Decode(kind, raw)
	if err != nil {
		l.deadLetter(ctx, topic, raw, kafka.ReasonInvalidEvent, err)
		return
	}
	if ev.EventChannel() != key {
		l.deadLetter(ctx, topic, raw, kafka.ReasonKeyMismatch,
			fmt.Errorf("record key %q is not the event's channel %q", key, ev.EventChannel()))
		return
	}

	l.load(ctx, ps, key)
	outcome, res, err := ps.part.Apply(key, topic, partition, offset, ev, arrival, now)
	switch outcome {
	case window.Duplicate:
		l.count(topic, outcomeDuplicate)
		return
	case window.Refused:
		ps.dirty[key] = struct{}{} // the refusal is recorded in the state (see Partition.Apply)
		reason := kafka.ReasonInvalidEvent
		switch {
		case errors.Is(err, window.ErrFutureTimestamp):
			reason = kafka.ReasonFutureTimestamp
		case errors.Is(err, window.ErrPastTimestamp):
			reason = kafka.ReasonPastTimestamp
		}
		l.deadLetter(ctx, topic, raw, reason, err)
		return
	case window.Late:
		headers := sourceHeaders(topic, partition, offset, kafka.ReasonLate, res.LateDetail)
		ps.outbox = append(ps.outbox, rawRecord(l.out.Late, key, raw, headers, l.partitions))
		l.count(topic, outcomeLate)
	default:
		l.count(topic, outcomeApplied)
	}
	ps.dirty[key] = struct{}{}
	l.emit(ctx, ps, key, res.Aggregates, res.Moments, now)
	l.reschedule(key, ps)
}

// closeDue closes, on every channel of the partition held in memory, the windows its frontier
// has passed.
func (l *Logic) closeDue(ps *partitionTask, now time.Time) {
	for _, e := range ps.part.CloseDue(now) {
		ps.dirty[e.Channel] = struct{}{}
		l.emit(nil, ps, e.Channel, e.Aggregates, e.Moments, now)
		l.reschedule(e.Channel, ps)
	}
}

// tickPartition emits the provisional updates due on a partition and closes what its frontier
// allows (the channels loaded since the last event), then says which markers are due.
func (l *Logic) tickPartition(p int32, ps *partitionTask, now time.Time, ends, committed map[string]int64) []eventtime.Marker {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if ps.closed {
		return nil
	}
	l.emitProvisionals(ps, now)
	l.closeDue(ps, now)
	if f := ps.part.Clock().Frontier(); !f.IsZero() {
		l.metrics.frontierLag.WithLabelValues(strconv.Itoa(int(p))).Set(now.Sub(f).Seconds())
	}
	return l.markers.Due(ps.progress(l.inputs, ends, committed, now, l.markers.ProducerDelay), now)
}

// emitProvisionals queues the provisional updates due at now on a partition; the caller holds
// ps.mu. Only channels with an update pending are looked at (partitionTask.due).
func (l *Logic) emitProvisionals(ps *partitionTask, now time.Time) {
	for key, due := range ps.due {
		if now.Before(due) {
			continue
		}
		st, ok := ps.part.State(key)
		if !ok {
			delete(ps.due, key)
			continue
		}
		if res := l.engine.Tick(st, now); len(res.Aggregates) > 0 {
			ps.dirty[key] = struct{}{}
			l.emit(nil, ps, key, res.Aggregates, nil, now)
		}
		l.reschedule(key, ps)
	}
}

// emitDue queues the provisional updates due at now and writes every partition's queued emits
// (aggregates, moments, late events) without waiting for the next flush, which still writes
// the states and releases the commits. So an emit waits at most the emit interval, not the
// flush interval. Emits written ahead of their states are safe: a crash before the states are
// written replays their inputs and emits the same versions again, which consumers already
// handle (the projector keeps the newest version); a state written before its emits is what
// could lose them, and the flush still writes the states after every emit taken before them
// (writeOrder).
func (l *Logic) emitDue(ctx context.Context, now time.Time) error {
	type partitionBatch struct {
		partition int32
		batch     batch
	}
	var batches []partitionBatch
	for p, ps := range l.wb.tasks() {
		ps.mu.Lock()
		if !ps.closed {
			l.emitProvisionals(ps, now)
			if len(ps.outbox) > 0 {
				batches = append(batches, partitionBatch{p, l.wb.takeEmits(ps)})
			}
		}
		ps.mu.Unlock()
	}
	errs := make([]error, len(batches))
	var wg sync.WaitGroup
	for i, b := range batches {
		wg.Go(func() { errs[i] = l.wb.write(ctx, b.partition, b.batch) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

// sweep runs one round of ticks over every partition held, writes the markers due, and
// flushes the changed states. ends and committed are the latest end offsets and the group's
// committed offsets (topic → partition → offset); either may be empty (unknown).
func (l *Logic) sweep(ctx context.Context, now time.Time, ends, committed offsetTable) error {
	for p, ps := range l.wb.tasks() {
		due := l.tickPartition(p, ps, now, ends.partition(p), committed.partition(p))
		if len(due) == 0 {
			continue
		}
		records := make([]*kgo.Record, len(due))
		for k, m := range due {
			records[k] = kafka.MarkerRecord(m.Topic, p, l.wb.keys.key(p), m.Timestamp)
		}
		if err := l.wb.sink.Produce(ctx, records...); err != nil {
			// nothing depends on a marker: the next sweep tries again
			l.logger.Warn("write markers failed", "partition", p, "err", err)
			continue
		}
		ps.mu.Lock()
		ps.markerSent(due, now)
		ps.mu.Unlock()
		for _, m := range due {
			l.metrics.markers.WithLabelValues(m.Topic).Inc()
		}
	}
	return l.wb.flush(ctx)
}

// onVisit brings a channel that this instance has not touched since the assignment into
// memory, so the ticks and closes see its open windows (after a restart or a rebalance).
func (l *Logic) onVisit(ctx goka.Context, _ any) {
	if table.IsClockKey(ctx.Key()) {
		return
	}
	ps := l.task(ctx)
	defer ps.mu.Unlock()
	if !ps.closed {
		l.load(ctx, ps, ctx.Key())
	}
}

// load makes the partition hold a channel's state, from goka's copy of the table (decoded here:
// the table codec leaves values as bytes) if it does not hold it yet.
func (l *Logic) load(ctx goka.Context, ps *partitionTask, channel string) {
	if _, ok := ps.part.State(channel); ok {
		return
	}
	raw, _ := ctx.Value().(storedState)
	if raw == nil {
		return // a new channel: Partition.Apply starts its state
	}
	st, err := table.DecodeState(raw)
	if err != nil {
		ctx.Fail(fmt.Errorf("state of channel %q: %w", channel, err))
	}
	ps.part.Hold(channel, st)
	l.reschedule(channel, ps)
}

// reschedule records when a channel next has a provisional update due; the caller holds ps.mu.
func (l *Logic) reschedule(channel string, ps *partitionTask) {
	st, _ := ps.part.State(channel)
	if due, ok := l.engine.NextDue(st); ok {
		ps.due[channel] = due
	} else {
		delete(ps.due, channel)
	}
}

// emit queues what a state change produced in the partition's outbox, written before the state
// itself. ctx is nil outside a callback.
func (l *Logic) emit(ctx goka.Context, ps *partitionTask, key string, aggs []*pb.WindowAggregate, moments []*pb.Moment, now time.Time) {
	for _, agg := range aggs {
		l.enqueue(ctx, ps, l.out.Aggregates, key, agg)
	}
	for _, m := range moments {
		l.enqueue(ctx, ps, l.out.Moments, key, m)
	}
	l.observeEmits(aggs, moments, now)
}

func (l *Logic) enqueue(ctx goka.Context, ps *partitionTask, topic, key string, m proto.Message) {
	r, err := emitRecord(topic, key, m, l.partitions)
	if err != nil {
		// a record of ours that does not encode is a bug, not bad input: stop the processor
		err = fmt.Errorf("encode %s record: %w", topic, err)
		if ctx != nil {
			ctx.Fail(err)
		}
		panic(err)
	}
	ps.outbox = append(ps.outbox, r)
}

// observeEmits counts emitted records in the metrics.
func (l *Logic) observeEmits(aggs []*pb.WindowAggregate, moments []*pb.Moment, now time.Time) {
	for _, agg := range aggs {
		switch {
		case agg.LateCorrection:
			l.metrics.lateCorrections.Inc()
			continue
		case agg.Final:
			l.metrics.windowsClosed.Inc()
		default:
			l.metrics.provisional.Inc()
		}
		if last := agg.GetLastEventTime(); last != nil {
			l.metrics.emitLag.Observe(now.Sub(last.AsTime()).Seconds())
		}
	}
	for _, m := range moments {
		l.metrics.moments.WithLabelValues(m.Kind.String()).Inc()
	}
}

func (l *Logic) deadLetter(ctx goka.Context, topic string, raw []byte, reason string, err error) {
	ctx.Emit(goka.Stream(l.out.DLQ), ctx.Key(), raw,
		goka.WithCtxEmitHeaders(sourceHeaders(topic, ctx.Partition(), ctx.Offset(), reason, err.Error())))
	l.count(topic, outcomeDLQ)
	l.logger.Debug("dead-lettered an input event", "topic", topic, "partition", ctx.Partition(), "offset", ctx.Offset(), "reason", reason, "err", err)
}

func sourceHeaders(topic string, partition int32, offset int64, reason, detail string) goka.Headers {
	return goka.Headers{
		kafka.HeaderSourceTopic:     []byte(topic),
		kafka.HeaderSourcePartition: []byte(strconv.Itoa(int(partition))),
		kafka.HeaderSourceOffset:    []byte(strconv.FormatInt(offset, 10)),
		kafka.HeaderReason:          []byte(reason),
		kafka.HeaderError:           []byte(detail),
	}
}

func (l *Logic) count(topic, outcome string) {
	l.metrics.events.WithLabelValues(topic, outcome).Inc()
}
