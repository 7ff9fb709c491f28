package aggregator

import (
	"context"
	"fmt"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"google.golang.org/protobuf/proto"

	"github.com/telemetra/telemetra/internal/kafka"
	"github.com/telemetra/telemetra/internal/pipelinetest"
	"github.com/telemetra/telemetra/internal/testkit"
	"github.com/telemetra/telemetra/processors/table"
	pb "github.com/telemetra/telemetra/proto/telemetra/v1"
)

// TestAFailedStateWriteLetsNoCoveredOffsetBeCommitted runs the processor on the embedded broker
// and makes the broker refuse its state writes after the first few (kfake's request control).
// goka must stop the processor instance without committing any input offset whose state was
// not written: every committed record is covered by a state in the table (or is a marker). Run
// restarts the instance, and once the broker takes the writes again the finals add up exactly.
func TestAFailedStateWriteLetsNoCoveredOffsetBeCommitted(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test")
	}
	broker, err := kafka.StartEmbedded(kafka.WithAddr("127.0.0.1:0"), kafka.WithLogger(quiet()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(broker.Close)
	addr := broker.Addr()
	run := pipelineRun(20_000)
	produce(t, addr, run)

	tableTopic := string(table.Name(1))
	if err := kafka.EnsureTopics(context.Background(), []string{addr}, []kafka.TopicSpec{table.TopicSpec(table.DefaultGroup, kafka.DefaultPartitions)}); err != nil {
		t.Fatal(err)
	}
	tableID := topicID(t, addr, tableTopic) // produce requests name topics by ID from v13 on
	var writes, refused atomic.Int64
	var healed atomic.Bool
	cluster := broker.Cluster()
	cluster.ControlKey(int16(kmsg.Produce), func(req kmsg.Request) (kmsg.Response, error, bool) {
		cluster.KeepControl()
		pr := req.(*kmsg.ProduceRequest)
		if healed.Load() || !slices.ContainsFunc(pr.Topics, func(tp kmsg.ProduceRequestTopic) bool { return tp.Topic == tableTopic || tp.TopicID == tableID }) {
			return nil, nil, false
		}
		if writes.Add(1) <= 3 {
			return nil, nil, false
		}
		refused.Add(1)
		resp := pr.ResponseKind().(*kmsg.ProduceResponse)
		for _, tp := range pr.Topics {
			rt := kmsg.NewProduceResponseTopic()
			rt.Topic, rt.TopicID = tp.Topic, tp.TopicID
			for _, p := range tp.Partitions {
				rp := kmsg.NewProduceResponseTopicPartition()
				rp.Partition = p.Partition
				rp.ErrorCode = kerr.TopicAuthorizationFailed.Code // not retriable: the write fails
				rt.Partitions = append(rt.Partitions, rp)
			}
			resp.Topics = append(resp.Topics, rt)
		}
		return resp, nil, true
	})

	// goka stops the instance on the failed flush, and Run starts another, which reprocesses from
	// the committed offsets and fails again until the broker heals
	metrics := NewMetrics(prometheus.NewRegistry())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, Config{Brokers: []string{addr}, Window: testWindowConfig(), ClientID: "failing",
			SweepEvery: 100 * time.Millisecond, FullSweepEvery: time.Second, Logger: quiet(), Metrics: metrics,
			RestartOnError: true, RestartMin: 100 * time.Millisecond, RestartMax: 500 * time.Millisecond})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	testkit.WaitFor(t, "the instance to stop on the failed state write and be restarted", 2*time.Minute, func() error {
		if n := testutil.ToFloat64(metrics.restarts); n < 2 {
			return fmt.Errorf("%v restarts, %d state writes refused", n, refused.Load())
		}
		return nil
	})
	committed := pipelinetest.Committed(t, addr, string(table.DefaultGroup), kafka.InputTopics()...)
	if committed == 0 || committed >= run.Count {
		t.Fatalf("the fault did not land mid-stream: %d of %d input records committed", committed, run.Count)
	}
	uncovered := uncoveredCommits(t, addr, tableTopic)
	if len(uncovered) > 0 {
		t.Fatalf("committed offsets beyond the written states: %v", uncovered)
	}
	t.Logf("%v restarts after %d refused state writes with %d of %d input records committed, all covered",
		testutil.ToFloat64(metrics.restarts), refused.Load(), committed, run.Count)

	// healed, the next instance goes on from the covered offsets
	healed.Store(true)
	pipelinetest.AwaitFinals(t, addr, pipelinetest.Expected(t, run), 90*time.Second)
}

// uncoveredCommits lists the input partitions whose committed offset lies past what the states
// in the table have applied, skipping markers.
func uncoveredCommits(t *testing.T, addr, tableTopic string) []string {
	t.Helper()
	applied := map[string]map[int32]int64{}
	for _, r := range readAll(t, addr, tableTopic) {
		if table.IsClockKey(string(r.Key)) {
			continue
		}
		st := new(pb.ChannelState)
		if err := proto.Unmarshal(r.Value, st); err != nil {
			t.Fatal(err)
		}
		for _, a := range st.AppliedOffsets {
			if applied[a.Topic] == nil {
				applied[a.Topic] = map[int32]int64{}
			}
			applied[a.Topic][a.Partition] = max(applied[a.Topic][a.Partition], a.Offset)
		}
	}
	markers := map[string]map[int32]map[int64]bool{}
	for _, topic := range kafka.InputTopics() {
		markers[topic] = map[int32]map[int64]bool{}
		for _, r := range readAll(t, addr, topic) {
			if kafka.IsMarker(r.Headers) {
				if markers[topic][r.Partition] == nil {
					markers[topic][r.Partition] = map[int64]bool{}
				}
				markers[topic][r.Partition][r.Offset] = true
			}
		}
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	offsets, err := kadm.NewClient(cl).FetchOffsets(context.Background(), string(table.DefaultGroup))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	offsets.Each(func(o kadm.OffsetResponse) {
		if !slices.Contains(kafka.InputTopics(), o.Topic) {
			return
		}
		last, ok := applied[o.Topic][o.Partition]
		if !ok {
			last = -1
		}
		for off := last + 1; off < o.At; off++ {
			if !markers[o.Topic][o.Partition][off] {
				out = append(out, fmt.Sprintf("%s/%d committed %d, states applied up to %d", o.Topic, o.Partition, o.At, last))
				return
			}
		}
	})
	return out
}

func topicID(t *testing.T, addr, topic string) [16]byte {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	topics, err := kadm.NewClient(cl).ListTopics(context.Background(), topic)
	if err != nil {
		t.Fatal(err)
	}
	return topics[topic].ID
}

// readAll reads a topic from the start to its current end.
func readAll(t *testing.T, addr, topic string) []*kgo.Record {
	t.Helper()
	records, err := pipelinetest.ReadTopic(addr, topic)
	if err != nil {
		t.Fatal(err)
	}
	return records
}
