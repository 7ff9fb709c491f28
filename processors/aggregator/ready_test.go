package aggregator

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lovoo/goka"

	"github.com/telemetra/telemetra/internal/kafka/kafkatest"
	"github.com/telemetra/telemetra/internal/testkit"
)

// TestInstancesStartedTogetherAllBecomeReady starts three instances close together on a table
// that takes a few seconds to recover. The first to join takes every partition and recovers;
// the rebalances that follow stop some of its partition processors mid-recovery, which left
// goka's WaitForReady waiting for good (and that instance never flushed or committed). Every
// instance must become ready, each in every session it gets partitions in.
func TestInstancesStartedTogetherAllBecomeReady(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test")
	}
	if raceDetector {
		// the rebalances it provokes cut goka's visits short, and goka's VisitAll then races on
		// its own visit counter (visitguard.go), which fails the test under the detector;
		// scripts/test.sh runs it without the detector
		t.Skip("goka's VisitAll counter race; run without -race (scripts/test.sh does)")
	}
	addr := kafkatest.StartBroker(t)
	group := goka.Group("ready-together")
	fillTable(t, addr, group, typicalState(t), 60_000)

	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var ready [3]atomic.Bool
	for i := range ready {
		if i > 0 {
			// while the first one recovers: a rebalance stops its partition processors mid-way
			time.Sleep(300 * time.Millisecond)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := Run(ctx, Config{Brokers: []string{addr}, Group: group, ClientID: fmt.Sprint("together-", i), Logger: quiet(),
				// no full sweeps: goka's VisitAll races on its own visit counter when a visit is
				// cut short, which the race detector reports (visitguard.go); readiness is the point
				SweepEvery: 100 * time.Millisecond, FullSweepEvery: time.Hour, Ready: func() { ready[i].Store(true) }})
			if err != nil {
				t.Errorf("instance %d: %v", i, err)
			}
		}()
	}
	t.Cleanup(func() { cancel(); wg.Wait() })
	testkit.WaitFor(t, "all three instances to be ready", 3*time.Minute, func() error {
		for i := range ready {
			if !ready[i].Load() {
				return fmt.Errorf("instance %d is not ready", i)
			}
		}
		return nil
	})
}
