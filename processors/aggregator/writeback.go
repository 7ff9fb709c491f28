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
	pb "github.com/telemetra/telemetra/proto/telemetra/v1"
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
// The writes go straight to the table topic with franz-go, on the partition goka reads them
// from at recovery; goka's own local copy of the table is read only for a channel this
// instance has not loaded yet. When goka stops a partition (rebalance, shutdown) it cancels the
// partition's context and then waits for deferred commits: the partition's watcher flushes and
// releases them at that moment.
type writeBack struct {
	cl     *kgo.Client
	table  string
	logger *slog.Logger

	mu    sync.Mutex
	parts map[int32]*partitionStates
}

// partitionStates are one partition's states during one goka assignment. States stay in memory
// for the whole assignment: goka's local copy of the table is only current for channels this
// instance has not changed since the assignment.
type partitionStates struct {
	mu      sync.Mutex
	ctx     context.Context // goka's context of the partition; done when goka stops it
	closed  bool            // flushed for the last time; callbacks now write through
	states  map[string]*pb.ChannelState
	dirty   map[string]struct{}
	outbox  []*kgo.Record // records the changed states emitted (aggregates, moments, late)
	pending []func(error) // deferred commits, in processing order
}

func newWriteBack(cl *kgo.Client, table string, logger *slog.Logger) *writeBack {
	return &writeBack{cl: cl, table: table, logger: logger, parts: map[int32]*partitionStates{}}
}

// partition returns the states of a partition for the assignment whose context is ctx, starting
// an empty set (and its watcher) for a new assignment.
func (w *writeBack) partition(partition int32, ctx context.Context) *partitionStates {
	w.mu.Lock()
	defer w.mu.Unlock()
	ps := w.parts[partition]
	if ps == nil || ps.ctx != ctx {
		ps = &partitionStates{ctx: ctx, states: map[string]*pb.ChannelState{}, dirty: map[string]struct{}{}}
		w.parts[partition] = ps
		go w.watch(partition, ps)
	}
	return ps
}

// watch flushes a partition's states when goka stops it, so goka's wait for the deferred
// commits ends at once. The closed set stays until a new assignment of the partition replaces
// it: a callback still running for the old assignment must see the current states, not goka's
// stale local copy; the next owner recovers them from the changelog.
func (w *writeBack) watch(partition int32, ps *partitionStates) {
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
	w.mu.Lock()
	parts := make(map[int32]*partitionStates, len(w.parts))
	for p, ps := range w.parts {
		parts[p] = ps
	}
	w.mu.Unlock()
	for p, ps := range parts {
		if err := w.flushPartition(ctx, p, ps, false); err != nil {
			return err
		}
	}
	return nil
}

func (w *writeBack) flushPartition(ctx context.Context, partition int32, ps *partitionStates, last bool) error {
	ps.mu.Lock()
	if ps.closed {
		ps.mu.Unlock()
		return nil
	}
	records := make([]*kgo.Record, 0, len(ps.dirty))
	for key := range ps.dirty {
		raw, err := proto.Marshal(ps.states[key])
		if err != nil {
			ps.mu.Unlock()
			return fmt.Errorf("encode state of channel %q: %w", key, err)
		}
		records = append(records, &kgo.Record{Topic: w.table, Partition: partition, Key: []byte(key), Value: raw})
	}
	clear(ps.dirty)
	outbox := ps.outbox
	ps.outbox = nil
	pending := ps.pending
	ps.pending = nil
	ps.closed = last
	ps.mu.Unlock()

	// What the states caused is written before the states: a state that reached the changelog
	// makes its inputs count as applied, so its emits must not be lost after a crash.
	var err error
	if len(outbox) > 0 {
		if err = w.cl.ProduceSync(ctx, outbox...).FirstErr(); err != nil {
			err = fmt.Errorf("emit %d records for partition %d: %w", len(outbox), partition, err)
		}
	}
	if err == nil && len(records) > 0 {
		err = w.cl.ProduceSync(ctx, records...).FirstErr()
		if err != nil {
			err = fmt.Errorf("write %d states to %s partition %d: %w", len(records), w.table, partition, err)
		}
	}
	// in order, so goka's offsets only ever cover written state; an error fails the processor
	// (goka stops it), and the inputs are redelivered
	for _, release := range pending {
		release(err)
	}
	return err
}

// newWriteBackClient is the producer for state writes and tick emits; records carry their
// partition (the table's is the input partition; outputs use goka's hash).
func newWriteBackClient(brokers []string, clientID string) (*kgo.Client, error) {
	return kgo.NewClient(
		kgo.SeedBrokers(brokers...),
		kgo.ClientID(clientID+"-state"),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ProducerLinger(0),
	)
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
