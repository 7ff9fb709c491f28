package aggregator

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/telemetra/telemetra/internal/kafka"
	"github.com/telemetra/telemetra/internal/pipelinetest"
	"github.com/telemetra/telemetra/internal/testkit"
	"github.com/telemetra/telemetra/processors/table"
	"github.com/telemetra/telemetra/processors/window"
)

// TestAnInstanceGokaStopsIsRestartedInProcess: mid-stream, the group coordinator asks for a
// rebalance and then drops the connection of the join that follows, as a lost broker does.
// Sarama gives up on the join and goka stops the processor with the error; Run starts a new
// instance, which recovers the state from the table, and the finals add up exactly.
func TestAnInstanceGokaStopsIsRestartedInProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test")
	}
	b, err := kafka.StartEmbedded(kafka.WithAddr("127.0.0.1:0"), kafka.WithLogger(quiet()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	addr := b.Addr()
	metrics := NewMetrics(prometheus.NewRegistry())
	t.Cleanup(func() { logOutcomes(t, metrics) })
	ready := make(chan struct{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, Config{Brokers: []string{addr}, Window: patientWindowConfig(), SweepEvery: 100 * time.Millisecond,
			FullSweepEvery: time.Second, Logger: slog.New(slog.DiscardHandler), Metrics: metrics,
			RestartOnError: true, RestartMin: 100 * time.Millisecond, Ready: func() { close(ready) }}) // closes once: Ready is called once
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})

	run := pipelineRun(40_000)
	run.Rate = 4000 // ten seconds of input
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); produce(t, addr, run) }()
	t.Cleanup(wg.Wait)
	group := string(table.DefaultGroup)
	testkit.WaitFor(t, "the processor to commit some of the run", time.Minute, func() error {
		if n := pipelinetest.Committed(t, addr, group, kafka.InputTopics()...); n < run.Count/5 {
			return fmt.Errorf("%d committed", n)
		}
		return nil
	})

	var joinsDropped, rebalancesAsked atomic.Int32
	cluster := b.Cluster()
	cluster.ControlKey(kmsg.JoinGroup.Int16(), func(kmsg.Request) (kmsg.Response, error, bool) {
		joinsDropped.Add(1)
		return nil, errors.New("injected: the coordinator's connection is lost"), true
	})
	cluster.ControlKey(kmsg.Heartbeat.Int16(), func(req kmsg.Request) (kmsg.Response, error, bool) {
		rebalancesAsked.Add(1)
		resp := req.(*kmsg.HeartbeatRequest).ResponseKind().(*kmsg.HeartbeatResponse)
		resp.ErrorCode = kerr.RebalanceInProgress.Code
		return resp, nil, true
	})
	testkit.WaitFor(t, "goka to stop the instance and Run to start another", time.Minute, func() error {
		if n := testutil.ToFloat64(metrics.restarts); n < 1 {
			return fmt.Errorf("%v restarts; %d rebalances asked, %d joins dropped", n, rebalancesAsked.Load(), joinsDropped.Load())
		}
		return nil
	})
	// the fault landed mid-stream: the run was not all processed when the instance stopped
	if n := pipelinetest.Committed(t, addr, group, kafka.InputTopics()...); n >= run.Count {
		t.Fatalf("the fault came after the run: %d of %d committed", n, run.Count)
	}
	wg.Wait()
	pipelinetest.AwaitFinals(t, addr, pipelinetest.Expected(t, run), 2*time.Minute)
}

func TestRestartBackoffDoublesAndStartsOverAfterALongRun(t *testing.T) {
	b := restartBackoff{min: time.Second, max: 30 * time.Second}
	var got []time.Duration
	for _, ran := range []time.Duration{0, time.Second, time.Second, time.Second, time.Second, time.Second, time.Minute, 0} {
		got = append(got, b.next(ran))
	}
	want := []time.Duration{1, 2, 4, 8, 16, 30, 1, 2}
	for i := range want {
		if got[i] != want[i]*time.Second {
			t.Fatalf("delays %v, want %v s", got, want)
		}
	}
}

// patientWindowConfig is testWindowConfig with a producer delay of 10 s, for tests whose point
// is not the markers: under the whole suite with the race detector, the in-process producer can
// stall for more than the default 2 s, which breaks the producer-delay bound markers rely on
// (its next records then arrive late, by design), and such a test would fail for that instead.
func patientWindowConfig() window.Config {
	cfg := testWindowConfig()
	cfg.ProducerDelay = 10 * time.Second
	return cfg
}
