package aggregator

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lovoo/goka"
	"github.com/lovoo/goka/codec"
	"github.com/lovoo/goka/storage"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/telemetra/telemetra/internal/kafka"
	"github.com/telemetra/telemetra/internal/kafka/kafkatest"
	"github.com/telemetra/telemetra/internal/testkit"
	"github.com/telemetra/telemetra/processors/table"
	"github.com/telemetra/telemetra/producer"
)

// BenchmarkThroughput pre-fills the embedded broker with a seeded producer run, then measures
// in the same run how fast (a) a trivial goka counter and (b) Telemetra's windowing processor
// read all of it, from their first event to their last. Run with -benchtime=1x;
// BENCH_EVENTS-sized runs are in docs/processors.md.
func BenchmarkThroughput(b *testing.B) {
	const events = 300_000
	addr := kafkatest.StartBroker(b)
	run := producer.RunConfig{
		Brokers: []string{addr},
		Sim:     producer.Config{Channels: producer.GeneratedChannels(100), Seed: 1},
		Count:   events, StartTime: pipelineStart, TimeStep: time.Millisecond, Logger: quiet(),
	}
	if _, err := producer.Run(context.Background(), run); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for k := 0; k < b.N; k++ {
		trivial := trivialCounter(b, addr, goka.Group(fmt.Sprintf("bench-counter-%d", k)), events)
		full := windowing(b, addr, goka.Group(fmt.Sprintf("bench-windows-%d", k)), events)
		b.ReportMetric(trivial, "trivial-events/s")
		b.ReportMetric(full, "telemetra-events/s")
		b.ReportMetric(full/trivial, "ratio")
	}
}

// gokaOptions are the options both benchmarked processors share.
func gokaOptions(clientID string) []goka.ProcessorOption {
	scfg := table.SaramaConfig(clientID)
	return []goka.ProcessorOption{
		goka.WithClientID(clientID),
		goka.WithProducerBuilder(goka.ProducerBuilderWithConfig(scfg)),
		goka.WithConsumerGroupBuilder(goka.ConsumerGroupBuilderWithConfig(scfg)),
		goka.WithConsumerSaramaBuilder(goka.SaramaConsumerBuilderWithConfig(scfg)),
		goka.WithTopicManagerBuilder(goka.TopicManagerBuilderWithConfig(scfg, table.TopicManagerConfig())),
		goka.WithStorageBuilder(storage.MemoryBuilder()),
		goka.WithLogger(table.GokaLogger{Logger: quiet(), Component: "goka"}),
	}
}

// trivialCounter counts events per key in a goka table: the baseline.
func trivialCounter(b *testing.B, addr string, group goka.Group, events int64) float64 {
	var seen atomic.Int64
	var first, last atomic.Int64
	count := func(ctx goka.Context, _ any) {
		n := int64(0)
		if v := ctx.Value(); v != nil {
			n = v.(int64)
		}
		ctx.SetValue(n + 1)
		now := time.Now().UnixNano()
		first.CompareAndSwap(0, now)
		if seen.Add(1) == events {
			last.Store(now)
		}
	}
	edges := []goka.Edge{goka.Persist(new(codec.Int64))}
	for _, topic := range kafka.InputTopics() {
		edges = append(edges, goka.Input(goka.Stream(topic), new(codec.Bytes), count))
	}
	proc, err := goka.NewProcessor([]string{addr}, goka.DefineGroup(group, edges...), gokaOptions(string(group))...)
	if err != nil {
		b.Fatal(err)
	}
	return measure(b, func(ctx context.Context) error { return proc.Run(ctx) }, &seen, &first, &last, events)
}

// windowing runs the real processor (Run: topics, frontiers, sweeps, metrics).
func windowing(b *testing.B, addr string, group goka.Group, events int64) float64 {
	reg := prometheus.NewRegistry()
	metrics := NewMetrics(reg)
	var seen, first, last atomic.Int64
	stop := make(chan struct{})
	go func() { // follow the events counter
		for {
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
			n := countEvents(b, reg)
			now := time.Now().UnixNano()
			if n > 0 {
				first.CompareAndSwap(0, now)
			}
			if n >= events && last.Load() == 0 {
				last.Store(now)
			}
			seen.Store(n)
		}
	}()
	defer close(stop)
	return measure(b, func(ctx context.Context) error {
		return Run(ctx, Config{Brokers: []string{addr}, Group: group, ClientID: string(group), Logger: quiet(), Metrics: metrics})
	}, &seen, &first, &last, events)
}

func countEvents(b *testing.B, reg *prometheus.Registry) int64 {
	families, err := reg.Gather()
	if err != nil {
		b.Fatal(err)
	}
	var n float64
	for _, f := range families {
		if f.GetName() == "telemetra_processor_events_total" {
			for _, m := range f.GetMetric() {
				n += m.GetCounter().GetValue()
			}
		}
	}
	return int64(n)
}

func measure(b *testing.B, run func(context.Context) error, seen, first, last *atomic.Int64, events int64) float64 {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx) }()
	testkit.WaitFor(b, "the last event to be processed", 5*time.Minute, func() error {
		if last.Load() == 0 {
			return fmt.Errorf("processed %d of %d events", seen.Load(), events)
		}
		return nil
	})
	cancel()
	if err := <-done; err != nil {
		b.Fatal(err)
	}
	took := time.Duration(last.Load() - first.Load())
	return float64(events) / took.Seconds()
}
