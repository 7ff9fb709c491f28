package aggregator

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/lovoo/goka"
	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/proto"

	"github.com/telemetra/telemetra/internal/kafka"
	"github.com/telemetra/telemetra/internal/kafka/kafkatest"
	"github.com/telemetra/telemetra/processors/window"
	"github.com/telemetra/telemetra/producer"
	pb "github.com/telemetra/telemetra/proto/telemetra/v1"
	"github.com/telemetra/telemetra/schemas"
)

// BenchmarkRecovery measures how long a processor takes to restore its state from the group
// table before it processes again, by number of channels: the table is filled with copies of
// a typical state (one simulated channel after 3 minutes of events), then a processor of that
// group starts and reports ready. Run with -benchtime=1x; figures in docs/performance.md.
func BenchmarkRecovery(b *testing.B) {
	state := typicalState(b)
	for _, channels := range []int{100, 10_000, 100_000} {
		b.Run(fmt.Sprintf("channels=%d", channels), func(b *testing.B) {
			for k := 0; k < b.N; k++ {
				addr := kafkatest.StartBroker(b)
				group := goka.Group(fmt.Sprintf("bench-recovery-%d", k))
				bytes := fillTable(b, addr, group, state, channels)
				ready := make(chan struct{})
				started := time.Now()
				ctx, cancel := context.WithCancel(context.Background())
				done := make(chan error, 1)
				go func() {
					done <- Run(ctx, Config{Brokers: []string{addr}, Group: group, ClientID: string(group), Logger: quiet(),
						Ready: func() { close(ready) }})
				}()
				select {
				case <-ready:
				case <-time.After(5 * time.Minute):
					b.Fatal("not ready after 5 minutes")
				}
				took := time.Since(started)
				cancel()
				if err := <-done; err != nil {
					b.Fatal(err)
				}
				b.ReportMetric(took.Seconds(), "recovery-s")
				b.ReportMetric(float64(bytes)/1e6, "table-MB")
				b.ReportMetric(float64(channels)/took.Seconds(), "states/s")
			}
		})
	}
}

// typicalState is one channel's state after three minutes of a seeded simulation.
func typicalState(b testing.TB) *pb.ChannelState {
	engine, err := window.New(window.DefaultConfig())
	if err != nil {
		b.Fatal(err)
	}
	g, err := producer.NewGenerator(producer.Config{Channels: []string{"typical"}, Seed: 9})
	if err != nil {
		b.Fatal(err)
	}
	st := &pb.ChannelState{}
	for k := range 3 * 60 * 20 { // 20 events/s
		now := pipelineStart.Add(time.Duration(k) * 50 * time.Millisecond)
		r := g.Next(now)
		kind, _ := schemas.KindForTopic(r.Topic)
		ev, err := schemas.Decode(kind, r.Value)
		if err != nil {
			b.Fatal(err)
		}
		// one input that reaches Kafka at event time: the frontier is the event's own time
		if _, err := engine.Apply(st, ev, now, now, now); err != nil {
			b.Fatal(err)
		}
	}
	return st
}

// fillTable writes one state per channel into the group's table, partitioned as goka does,
// and returns the bytes written.
func fillTable(b testing.TB, addr string, group goka.Group, state *pb.ChannelState, channels int) int64 {
	table := string(goka.GroupTable(group))
	if err := kafka.EnsureTopics(context.Background(), []string{addr}, []kafka.TopicSpec{
		{Name: table, Partitions: kafka.DefaultPartitions, Compacted: true}}); err != nil {
		b.Fatal(err)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.RecordPartitioner(kafka.GokaPartitioner()),
		kgo.ProducerBatchMaxBytes(16<<20), kgo.MaxBufferedRecords(100_000))
	if err != nil {
		b.Fatal(err)
	}
	defer cl.Close()
	var total int64
	st := proto.Clone(state).(*pb.ChannelState)
	for k := range channels {
		st.Channel = fmt.Sprintf("channel_%06d", k)
		raw, err := proto.Marshal(st)
		if err != nil {
			b.Fatal(err)
		}
		total += int64(len(raw))
		cl.Produce(context.Background(), &kgo.Record{Topic: table, Key: []byte(st.Channel), Value: raw}, func(_ *kgo.Record, err error) {
			if err != nil {
				b.Error(err)
			}
		})
	}
	if err := cl.Flush(context.Background()); err != nil {
		b.Fatal(err)
	}
	return total
}

// BenchmarkThroughputByChannels runs the windowing processor over the same number of events
// spread over 10, 1,000 and 100,000 channels, and reports events/s and the size of the state
// it keeps (the newest table record per channel). Run with -benchtime=1x.
func BenchmarkThroughputByChannels(b *testing.B) {
	const events = 300_000
	for _, channels := range []int{10, 1_000, 100_000} {
		b.Run(fmt.Sprintf("channels=%d", channels), func(b *testing.B) {
			addr := kafkatest.StartBroker(b)
			run := producer.RunConfig{
				Brokers: []string{addr},
				Sim:     producer.Config{Channels: producer.GeneratedChannels(channels), Seed: 1},
				Count:   events, StartTime: pipelineStart, TimeStep: time.Millisecond, Logger: quiet(),
			}
			if _, err := producer.Run(context.Background(), run); err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			for k := 0; k < b.N; k++ {
				group := goka.Group(fmt.Sprintf("bench-scale-%d", k))
				rate := windowing(b, addr, group, events)
				keys, bytes := tableSize(b, addr, string(goka.GroupTable(group)))
				b.ReportMetric(rate, "events/s")
				b.ReportMetric(float64(bytes)/1e6, "state-MB")
				b.ReportMetric(float64(bytes)/float64(max(keys, 1)), "bytes/channel")
			}
		})
	}
}

// tableSize reads a table topic and sums the newest record of each key.
func tableSize(b *testing.B, addr, topic string) (keys int, bytes int64) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		b.Fatal(err)
	}
	defer cl.Close()
	latest := map[string]int{}
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		fetches := cl.PollFetches(ctx)
		cancel()
		if fetches.NumRecords() == 0 {
			break
		}
		fetches.EachRecord(func(r *kgo.Record) { latest[string(r.Key)] = len(r.Value) })
	}
	for _, n := range latest {
		bytes += int64(n)
	}
	return len(latest), bytes
}
