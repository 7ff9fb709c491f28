package producer

import (
	"bytes"
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/telemetra/telemetra/internal/kafka"
	"github.com/telemetra/telemetra/internal/kafka/kafkatest"
)

func startBroker(t testing.TB) string { return kafkatest.StartBroker(t) }

func quietLogger() *slog.Logger { return kafkatest.Quiet() }

// readAll consumes the input topics from the start until want records arrived.
func readAll(t testing.TB, addr string, want int) []*kgo.Record {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumeTopics(kafka.InputTopics()...),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var recs []*kgo.Record
	for len(recs) < want {
		f := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("read %d of %d records before timing out", len(recs), want)
		}
		recs = append(recs, f.Records()...)
	}
	// nothing more than promised
	short, cancelShort := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancelShort()
	if extra := cl.PollFetches(short).Records(); len(extra) > 0 {
		t.Fatalf("%d records more than the %d produced", len(extra), want)
	}
	return recs
}

func TestRunDeliversEveryEventOnItsChannelsPartition(t *testing.T) {
	addr := startBroker(t)
	cfg := RunConfig{
		Brokers: []string{addr},
		Sim:     Config{Channels: []string{"demo_stream", "gaming", "cozy_cafe", "speedrun_hub"}, Seed: 99},
		Count:   20_000, StartTime: testStart, TimeStep: 10 * time.Millisecond,
		Logger: quietLogger(),
	}
	stats, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if stats.Produced != cfg.Count || stats.Failed != 0 {
		t.Fatalf("stats = %+v, want %d produced", stats, cfg.Count)
	}

	// The same seed and clock give the same events, so the topics must hold exactly these.
	want := generate(t, cfg.Sim, int(cfg.Count), cfg.TimeStep)
	type slot struct {
		topic string
		part  int32
	}
	expected := map[slot][][]byte{}
	for _, r := range want {
		s := slot{r.Topic, int32(kafka.PartitionForKey(r.Key, kafka.DefaultPartitions))}
		expected[s] = append(expected[s], r.Value)
	}
	got := map[slot][][]byte{}
	for _, r := range readAll(t, addr, int(cfg.Count)) {
		s := slot{r.Topic, r.Partition}
		got[s] = append(got[s], r.Value)
	}
	for s, values := range expected {
		if len(got[s]) != len(values) {
			t.Fatalf("%s/%d holds %d records, want %d", s.topic, s.part, len(got[s]), len(values))
		}
		for k := range values {
			if !bytes.Equal(got[s][k], values[k]) {
				t.Fatalf("%s/%d offset %d = %s, want %s", s.topic, s.part, k, got[s][k], values[k])
			}
		}
	}
	perTopic := map[string]int64{}
	for _, r := range want {
		perTopic[r.Topic]++
	}
	for topic, n := range perTopic {
		if stats.PerTopic[topic] != n {
			t.Errorf("stats for %s = %d, want %d", topic, stats.PerTopic[topic], n)
		}
	}
}

func TestRunFlushesEverythingOnShutdown(t *testing.T) {
	addr := startBroker(t)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(700*time.Millisecond, cancel)
	stats, err := Run(ctx, RunConfig{
		Brokers: []string{addr}, Sim: Config{Channels: []string{"demo_stream"}, Seed: 5},
		Rate: 2000, Logger: quietLogger(),
	})
	if err != nil {
		t.Fatal(err)
	}
	if stats.Produced == 0 {
		t.Fatal("nothing produced before the cancel")
	}
	// every generated event was acknowledged and is on the topics: nothing lost at shutdown
	readAll(t, addr, int(stats.Produced))
}

func TestRunRespectsRate(t *testing.T) {
	addr := startBroker(t)
	stats, err := Run(context.Background(), RunConfig{
		Brokers: []string{addr}, Sim: Config{Channels: []string{"demo_stream"}, Seed: 5},
		Rate: 500, Duration: 1 * time.Second, Logger: quietLogger(),
	})
	if err != nil {
		t.Fatal(err)
	}
	// generation is paced by elapsed time, so a 1s run at 500/s makes about 500 events; this
	// bounds the count (not the wall-clock), with room for a slow machine
	if stats.Produced < 250 || stats.Produced > 501 {
		t.Fatalf("produced %d events in 1s at 500/s", stats.Produced)
	}
}

func TestRunFailsOnBadConfig(t *testing.T) {
	_, err := Run(context.Background(), RunConfig{Brokers: []string{"127.0.0.1:1"}, Logger: quietLogger()})
	if err == nil {
		t.Fatal("want an error for a config without channels")
	}
}

// BenchmarkProduceEmbedded measures unthrottled production into the in-process broker, which
// shares the two cores with the producer: the figure the README reports.
func BenchmarkProduceEmbedded(b *testing.B) {
	addr := startBroker(b)
	b.ResetTimer()
	stats, err := Run(context.Background(), RunConfig{
		Brokers: []string{addr}, Sim: Config{Channels: GeneratedChannels(100), Seed: 1},
		Count: int64(max(b.N, 1)), StartTime: testStart, Logger: quietLogger(),
	})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(stats.Produced)/b.Elapsed().Seconds(), "events/s")
}
