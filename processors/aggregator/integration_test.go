package aggregator

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/telemetra/telemetra/internal/kafka"
	"github.com/telemetra/telemetra/internal/kafka/kafkatest"
	"github.com/telemetra/telemetra/internal/pipelinetest"
	"github.com/telemetra/telemetra/internal/testkit"
	"github.com/telemetra/telemetra/processors/table"
	"github.com/telemetra/telemetra/processors/window"
	"github.com/telemetra/telemetra/producer"
)

var pipelineStart = time.Date(2025, 10, 16, 10, 0, 0, 0, time.UTC)

// pipelineRun is a producer run the tests replay exactly.
func pipelineRun(count int64) producer.RunConfig {
	return producer.RunConfig{
		Sim:   producer.Config{Channels: []string{"demo_stream", "gaming", "cozy_cafe", "speedrun_hub", "esports_arena"}, Seed: 77},
		Count: count, StartTime: pipelineStart, TimeStep: 20 * time.Millisecond,
		Logger: quiet(),
	}
}

func quiet() *slog.Logger { return kafkatest.Quiet() }

func startBroker(t *testing.T) string { return kafkatest.StartBroker(t) }

// testWindowConfig has 5 s windows and 2 s of lateness: a run's last window closes once
// markers may claim its inputs quiet, as long after the last record as a producer writing at
// the wall clock's pace could still add to it (window plus lateness plus the producer delay),
// which the default 1 m and 10 s make over a minute. The runs' records are in order, so the
// lateness decides nothing else here.
func testWindowConfig() window.Config {
	cfg := window.DefaultConfig()
	cfg.Size, cfg.AllowedLateness = 5*time.Second, 2*time.Second
	return cfg
}

// runProcessor runs a processor instance in this process until the test ends.
func runProcessor(t *testing.T, addr, clientID string) { runProcessorWith(t, addr, clientID, nil) }

func runProcessorWith(t *testing.T, addr, clientID string, metrics *Metrics) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, Config{Brokers: []string{addr}, Window: testWindowConfig(), ClientID: clientID,
			SweepEvery: 100 * time.Millisecond, FullSweepEvery: time.Second, Logger: quiet(), Metrics: metrics})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("processor %s: %v", clientID, err)
		}
	})
}

func produce(t *testing.T, addr string, run producer.RunConfig) {
	t.Helper()
	run.Brokers = []string{addr}
	if _, err := producer.Run(context.Background(), run); err != nil {
		t.Fatal(err)
	}
}

// TestPipelineAddsUpExactly: producer with a fixed seed → processor on the embedded broker; the
// final windows hold every chat message, viewer sample and transaction exactly once.
func TestPipelineAddsUpExactly(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test")
	}
	addr := startBroker(t)
	run := pipelineRun(30_000)
	produce(t, addr, run)
	metrics := NewMetrics(prometheus.NewRegistry())
	runProcessorWith(t, addr, "only", metrics)
	pipelinetest.AwaitFinals(t, addr, pipelinetest.Expected(t, run), 90*time.Second)
	// and the consumer lag gauges say so: one per input partition, all zero
	testkit.WaitFor(t, "the processor's lag gauges to say it is caught up", 30*time.Second, func() error {
		series, lag := testutil.CollectAndCount(metrics.lag), 0.0
		for _, topic := range []string{kafka.TopicChat, kafka.TopicViewer, kafka.TopicTransactions, kafka.TopicStreamMeta} {
			for p := range 3 {
				lag += testutil.ToFloat64(metrics.lag.WithLabelValues(topic, strconv.Itoa(p)))
			}
		}
		if series < 12 || lag != 0 {
			return fmt.Errorf("%d series, %v records behind after the finals were complete", series, lag)
		}
		return nil
	})
}

// TestTwoInstancesSharePartitions: two processors in one group split the partitions (goka
// rebalances), and the result is the same.
func TestTwoInstancesSharePartitions(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test")
	}
	addr := startBroker(t)
	run := pipelineRun(30_000)
	runProcessor(t, addr, "first")
	runProcessor(t, addr, "second")
	run.Rate = 5000 // arrive while both run
	produce(t, addr, run)
	pipelinetest.AwaitFinals(t, addr, pipelinetest.Expected(t, run), 120*time.Second)
}

// TestKilledProcessorRestartsWithoutLossOrDoubleCounting kills a real processor process with
// SIGKILL in the middle of the stream and starts it again.
func TestKilledProcessorRestartsWithoutLossOrDoubleCounting(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test")
	}
	bin := filepath.Join(t.TempDir(), "telemetra")
	if out, err := exec.Command("go", "build", "-o", bin, "../../cmd/telemetra").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	addr := startBroker(t)
	start := func() *exec.Cmd {
		cmd := exec.Command(bin, "process", "--brokers", addr, "--window", "5s", "--allowed-lateness", "2s", "--metrics-addr", "", "--log-level", "warn")
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd
	}
	run := pipelineRun(40_000)
	run.Rate = 4000 // ten seconds of input
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); produce(t, addr, run) }()

	first := start()
	// mid-stream: once some input is processed for good, while the run is still being written
	testkit.WaitFor(t, "the first processor to commit input", time.Minute, func() error {
		if done := pipelinetest.Committed(t, addr, string(table.DefaultGroup), kafka.InputTopics()...); done == 0 {
			return errors.New("no input record committed")
		}
		return nil
	})
	if err := first.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = first.Wait()
	// the kill landed mid-stream: some input was processed for good, not all of it
	if done := pipelinetest.Committed(t, addr, string(table.DefaultGroup), kafka.InputTopics()...); done == 0 || done >= run.Count {
		t.Fatalf("the kill did not land mid-stream: %d of %d input records committed", done, run.Count)
	}
	second := start()
	t.Cleanup(func() { _ = second.Process.Kill(); _ = second.Wait() })
	wg.Wait()
	got := pipelinetest.AwaitFinals(t, addr, pipelinetest.Expected(t, run), 120*time.Second)
	t.Logf("after a SIGKILL mid-stream: %v", got)
}

// TestMisPartitionedInputIsDeadLettered writes the run with a round-robin partitioner, so most
// of a channel's events land on partitions that do not own its state (as with kcat's default
// partitioner): those go to the DLQ with reason wrong_partition, and the ones that landed
// right add up exactly.
func TestMisPartitionedInputIsDeadLettered(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test")
	}
	addr := startBroker(t)
	run := pipelineRun(15_000)
	g, err := producer.NewGenerator(run.Sim)
	if err != nil {
		t.Fatal(err)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.RecordPartitioner(kgo.RoundRobinPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var right []producer.Record
	wrong := 0
	for k := range run.Count {
		at := run.StartTime.Add(time.Duration(k) * run.TimeStep)
		r := g.Next(at)
		res := cl.ProduceSync(context.Background(), &kgo.Record{Topic: r.Topic, Key: r.Key, Value: r.Value, Timestamp: at})
		rec, err := res.First()
		if err != nil {
			t.Fatal(err)
		}
		if int(rec.Partition) == kafka.PartitionForKey(r.Key, kafka.DefaultPartitions) {
			right = append(right, r)
		} else {
			wrong++
		}
	}
	metrics := NewMetrics(prometheus.NewRegistry())
	runProcessorWith(t, addr, "strict", metrics)
	pipelinetest.AwaitFinals(t, addr, pipelinetest.ExpectedOf(t, right), 90*time.Second)
	dlq := 0.0
	for _, topic := range kafka.InputTopics() {
		dlq += testutil.ToFloat64(metrics.events.WithLabelValues(topic, outcomeDLQ))
	}
	if int(dlq) != wrong {
		t.Fatalf("%v events dead-lettered, want the %d on the wrong partition", dlq, wrong)
	}
}

// TestABurstAfterAQuietSpellIsNotLate: after the processor caught up and idled, a backlog lands
// on all inputs at once. The end offsets the frontiers knew say every input is drained, but
// goka reads one topic's new records before another's; none of them may turn late for it.
func TestABurstAfterAQuietSpellIsNotLate(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test")
	}
	addr := startBroker(t)
	first := pipelineRun(20_000)
	produce(t, addr, first)
	runProcessor(t, addr, "only")
	want := pipelinetest.Expected(t, first)
	pipelinetest.AwaitFinals(t, addr, want, 90*time.Second)

	second := pipelineRun(10_000)
	second.Sim.Seed, second.StartTime = 78, second.StartTime.Add(time.Hour)
	produce(t, addr, second)
	for ch, v := range pipelinetest.Expected(t, second) {
		w := want[ch]
		w.Chat, w.ViewerSamples = w.Chat+v.Chat, w.ViewerSamples+v.ViewerSamples
		w.Transactions, w.RevenueCents = w.Transactions+v.Transactions, w.RevenueCents+v.RevenueCents
		want[ch] = w
	}
	pipelinetest.AwaitFinals(t, addr, want, 90*time.Second)
}
