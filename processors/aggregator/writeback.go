package aggregator

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/proto"

	"github.com/telemetra/telemetra/internal/kafka"
	"github.com/telemetra/telemetra/processors/window"
)

// writeBack is the processor's state cache, like Kafka Streams' record cache. goka writes a
// table value to the changelog topic on every SetValue; a channel's state is kilobytes and
// changes with every event, so writing it per event made the processor several times slower
// than goka itself. Instead, the states of this instance's partitions live in memory, changed
// states are written to the changelog in batches every flush interval, and each input record's
// commit is deferred (goka's DeferCommit) until the states it changed are written. The
// changelog thus never lags a committed offset: after a crash goka redelivers everything the
// changelog does not reflect, and the applied offsets in each state skip what it does.
//
// A flush writes, per partition and in this order: the records the changed states emitted, the
// states, the partition's arrival clock, and only then releases the deferred commits. The
// writes go through a Sink straight to the table topic, on the partition goka reads them from
// at recovery. When goka stops a partition (rebalance, shutdown) it cancels the partition's
// context and then waits for deferred commits: the partition's watcher flushes and releases
// them at that moment.
type writeBack struct {
	now     func() time.Time
	sink    Sink
	table   string
	newPart func() *window.Partition
	keys    clockKeys
	logger  *slog.Logger

	mu    sync.Mutex
	parts map[int32]*partitionTask
}

// Sink writes records to Kafka and returns once all are written, or the first error.
type Sink interface {
	Produce(ctx context.Context, records ...*kgo.Record) error
}

// kgoSink is the production Sink.
type kgoSink struct{ cl *kgo.Client }

func (s kgoSink) Produce(ctx context.Context, records ...*kgo.Record) error {
	return s.cl.ProduceSync(ctx, records...).FirstErr()
}

func newWriteBack(now func() time.Time, sink Sink, table string, newPart func() *window.Partition, keys clockKeys, logger *slog.Logger) *writeBack {
	return &writeBack{now: now, sink: sink, table: table, newPart: newPart, keys: keys, logger: logger, parts: map[int32]*partitionTask{}}
}

// partition returns the task of a partition for the assignment whose context is ctx, and true
// when it is new: a new assignment starts an empty set of states and a watcher.
func (w *writeBack) partition(ctx context.Context, partition int32) (*partitionTask, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	ps := w.parts[partition]
	if ps != nil && ps.ctx == ctx {
		return ps, false
	}
	ps = newPartitionTask(ctx, w.newPart(), w.now())
	w.parts[partition] = ps
	go w.watch(partition, ps)
	return ps, true
}

// tasks is a snapshot of the current partition tasks.
func (w *writeBack) tasks() map[int32]*partitionTask {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make(map[int32]*partitionTask, len(w.parts))
	for p, ps := range w.parts {
		out[p] = ps
	}
	return out
}

// watch flushes a partition's states when goka stops it, so goka's wait for the deferred
// commits ends at once. The closed task stays until a new assignment of the partition replaces
// it: a callback still running for the old assignment must see the current states, not goka's
// stale local copy; the next owner recovers them from the changelog.
func (w *writeBack) watch(partition int32, ps *partitionTask) {
	<-ps.ctx.Done()
	// goka's own context is done: flush with a fresh bound
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := w.flushPartition(ctx, partition, ps, true); err != nil {
		w.logger.Error("final flush of a stopped partition failed; its inputs will be redelivered", "partition", partition, "err", err)
	}
}

// flush writes every partition's changed states and then releases the commits they cover.
func (w *writeBack) flush(ctx context.Context) error {
	for p, ps := range w.tasks() {
		if err := w.flushPartition(ctx, p, ps, false); err != nil {
			return err
		}
	}
	return nil
}

// flushPartition writes what changed on one partition; last marks the partition's final flush.
func (w *writeBack) flushPartition(ctx context.Context, partition int32, ps *partitionTask, last bool) error {
	ps.mu.Lock()
	if ps.closed {
		ps.mu.Unlock()
		return nil
	}
	ps.closed = last
	b, err := w.take(partition, ps)
	ps.mu.Unlock()
	if err != nil {
		return err
	}
	return w.write(ctx, partition, b)
}

// batch is what one flush of a partition writes, and the commits it releases.
type batch struct {
	outbox, states []*kgo.Record
	clock          *kgo.Record
	pending        []func(error)
	order          *writeOrder
	turn           uint64
}

// take moves a partition's changes into a batch; the caller holds ps.mu.
func (w *writeBack) take(partition int32, ps *partitionTask) (batch, error) {
	var b batch
	b.states = make([]*kgo.Record, 0, len(ps.dirty))
	for key := range ps.dirty {
		st, _ := ps.part.State(key)
		raw, err := proto.Marshal(st)
		if err != nil {
			return b, fmt.Errorf("encode state of channel %q: %w", key, err)
		}
		b.states = append(b.states, &kgo.Record{Topic: w.table, Partition: partition, Key: []byte(key), Value: raw})
	}
	clear(ps.dirty)
	if ps.clockDirty {
		raw, err := proto.Marshal(ps.part.Clock().Snapshot())
		if err != nil {
			return b, fmt.Errorf("encode clock of partition %d: %w", partition, err)
		}
		b.clock = &kgo.Record{Topic: w.table, Partition: partition, Key: []byte(w.keys.key(partition)), Value: raw}
		ps.clockDirty = false
	}
	b.outbox, ps.outbox = ps.outbox, nil
	b.pending, ps.pending = ps.pending, nil
	b.order, b.turn = &ps.order, ps.order.take()
	return b, nil
}

// takeEmits moves only a partition's queued emits into a batch, written ahead of the next
// flush (Logic.emitDue); the caller holds ps.mu. The states and the deferred commits stay for
// the flush.
func (w *writeBack) takeEmits(ps *partitionTask) batch {
	var b batch
	b.outbox, ps.outbox = ps.outbox, nil
	b.order, b.turn = &ps.order, ps.order.take()
	return b
}

// write writes a batch in order and releases its commits, with the error if a write failed.
// It waits for the partition's batches taken before it (writeOrder).
func (w *writeBack) write(ctx context.Context, partition int32, b batch) (err error) {
	if err := b.order.await(b.turn); err != nil {
		err = fmt.Errorf("partition %d: an earlier flush failed: %w", partition, err)
		for _, release := range b.pending {
			release(err)
		}
		return err
	}
	defer func() { b.order.done(err) }()
	// What the states caused is written before the states: a state that reached the changelog
	// makes its inputs count as applied, so its emits must not be lost after a crash. The clock
	// goes last: a clock written without its states would judge the records it covers anew.
	if len(b.outbox) > 0 {
		if err = w.sink.Produce(ctx, b.outbox...); err != nil {
			err = fmt.Errorf("emit %d records for partition %d: %w", len(b.outbox), partition, err)
		}
	}
	if err == nil && len(b.states) > 0 {
		if err = w.sink.Produce(ctx, b.states...); err != nil {
			err = fmt.Errorf("write %d states to %s partition %d: %w", len(b.states), w.table, partition, err)
		}
	}
	if err == nil && b.clock != nil {
		if err = w.sink.Produce(ctx, b.clock); err != nil {
			err = fmt.Errorf("write the clock of %s partition %d: %w", w.table, partition, err)
		}
	}
	// in order, so goka's offsets only ever cover written state; an error fails the processor
	// (goka stops it), and the inputs are redelivered
	for _, release := range b.pending {
		release(err)
	}
	return err
}

// newProducerClient is the producer for state writes, emits and markers; records carry their
// partition (the table's and a marker's is the input partition; outputs use goka's hash).
func newProducerClient(brokers []string, clientID string) (*kgo.Client, error) {
	return kgo.NewClient(append(kafka.DurableWrites(),
		kgo.SeedBrokers(brokers...),
		kgo.ClientID(clientID+"-state"),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ProducerLinger(0),
	)...)
}

// emitRecord builds an output record, partitioned like goka's ctx.Emit.
func emitRecord(topic, key string, value proto.Message, partitions int) (*kgo.Record, error) {
	raw, err := proto.Marshal(value)
	if err != nil {
		return nil, err
	}
	return &kgo.Record{Topic: topic, Key: []byte(key), Value: raw,
		Partition: int32(kafka.PartitionForKey([]byte(key), partitions))}, nil
}

// rawRecord builds an output record of original bytes with headers (late events).
func rawRecord(topic, key string, value []byte, headers map[string][]byte, partitions int) *kgo.Record {
	r := &kgo.Record{Topic: topic, Key: []byte(key), Value: value,
		Partition: int32(kafka.PartitionForKey([]byte(key), partitions))}
	for k, v := range headers {
		r.Headers = append(r.Headers, kgo.RecordHeader{Key: k, Value: v})
	}
	return r
}
