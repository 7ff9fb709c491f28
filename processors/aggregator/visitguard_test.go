package aggregator

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/telemetra/telemetra/internal/pipelinetest"
)

// TestVisitsAndRebalancesDoNotOverlap drives the race that the visit guard closes: one instance
// visits its table all the time (a full sweep every 20 ms) while a second instance joins and
// leaves the group again and again, so goka stops and starts partition processors under the
// visits. Without the guard, goka v1.1.17 may panic ("send on closed channel") in a visit; with
// it, the process survives every rebalance and the finals add up.
func TestVisitsAndRebalancesDoNotOverlap(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test")
	}
	addr := startBroker(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	visiting := make(chan error, 1)
	metrics := NewMetrics(prometheus.NewRegistry())
	t.Cleanup(func() { logOutcomes(t, metrics) })
	go func() {
		visiting <- Run(ctx, Config{Brokers: []string{addr}, Window: patientWindowConfig(), ClientID: "visitor",
			SweepEvery: 10 * time.Millisecond, FullSweepEvery: 20 * time.Millisecond, Logger: quiet(), Metrics: metrics})
	}()
	run := pipelineRun(30_000)
	run.Rate = 3000 // ten seconds of input, during the rebalances
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); produce(t, addr, run) }()
	for i := range 6 {
		joinCtx, leave := context.WithCancel(ctx)
		joined := make(chan error, 1)
		go func() {
			joined <- Run(joinCtx, Config{Brokers: []string{addr}, Window: patientWindowConfig(), ClientID: fmt.Sprint("joiner-", i),
				SweepEvery: 10 * time.Millisecond, FullSweepEvery: 20 * time.Millisecond, Logger: quiet()})
		}()
		time.Sleep(1500 * time.Millisecond) // a rebalance in, one out
		leave()
		if err := <-joined; err != nil {
			t.Fatalf("joiner %d: %v", i, err)
		}
	}
	wg.Wait()
	pipelinetest.AwaitFinals(t, addr, pipelinetest.Expected(t, run), 2*time.Minute)
	cancel()
	if err := <-visiting; err != nil {
		t.Fatalf("the visiting instance: %v", err)
	}
}

// logOutcomes logs a failed test's input records by topic and outcome (applied, late, dlq,
// duplicate, marker), to tell a lost event from a late or dead-lettered one.
func logOutcomes(t *testing.T, m *Metrics) {
	if !t.Failed() {
		return
	}
	ch := make(chan prometheus.Metric, 64)
	go func() { m.events.Collect(ch); close(ch) }()
	for metric := range ch {
		var out dto.Metric
		if err := metric.Write(&out); err == nil {
			t.Logf("%v: %v", out.GetLabel(), out.GetCounter().GetValue())
		}
	}
}
