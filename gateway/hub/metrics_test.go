package hub

import (
	"math"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func newRegistry() *prometheus.Registry { return prometheus.NewPedanticRegistry() }

func itoa(n uint64) string { return strconv.FormatUint(n, 10) }

func counterValue(c prometheus.Collector) float64 { return testutil.ToFloat64(c) }

func checkCounter(t *testing.T, name string, c prometheus.Collector, want float64) {
	t.Helper()
	if got := testutil.ToFloat64(c); got != want {
		t.Errorf("%s = %v, want %v", name, got, want)
	}
}

func checkGauge(t *testing.T, name string, g prometheus.Gauge, want float64) {
	t.Helper()
	checkCounter(t, name, g, want)
}

func TestMetrics(t *testing.T) {
	reg := newRegistry()
	metrics := NewMetrics(reg)
	clock := newFakeClock()
	h := New(WithMetrics(metrics), WithClock(clock.Now), WithBufferSize(2))
	defer h.Close()

	reader := mustSubscribe(t, h, Filter{}, []Event{final("a", 0)})
	idle := mustSubscribe(t, h, Filter{Channels: channels("a")}, nil)
	_ = mustSubscribe(t, h, Filter{Channels: channels("z")}, nil) // matches nothing
	checkGauge(t, "subscribers after Subscribe", metrics.subscribers, 3)

	h.Publish(provisional("a", 1, 1)) // reader and idle queue it
	h.Publish(provisional("a", 1, 2)) // coalesced for both
	clock.Advance(250 * time.Millisecond)
	for range 2 { // the snapshot final, then the coalesced update
		_ = mustNext(t, reader)
	}
	h.Publish(final("a", 1))    // idle now has 2 pending: full
	h.Publish(moment("a", "m")) // drops idle
	clock.Advance(750 * time.Millisecond)
	for range 2 {
		_ = mustNext(t, reader)
	}

	checkCounter(t, "published", metrics.published, 4)
	checkCounter(t, "delivered", metrics.delivered, 4) // reader: snapshot + 3 live
	checkCounter(t, "coalesced", metrics.coalesced, 2)
	checkCounter(t, "dropped slow", metrics.dropped.WithLabelValues("slow"), 1)
	checkGauge(t, "subscribers after the drop", metrics.subscribers, 2)
	if _, err := idle.Next(t.Context()); err == nil {
		t.Error("idle subscriber was not dropped")
	}

	// Live events only: published at 0 (delivered at 0.25s) and at 0.25s (delivered at 1s, twice).
	count, sum := histogram(t, reg, "telemetra_gateway_delivery_seconds")
	if count != 3 || math.Abs(sum-(0.25+0.75+0.75)) > 1e-9 {
		t.Errorf("delivery histogram count %d sum %v, want 3 and 1.75", count, sum)
	}

	want := `
# HELP telemetra_gateway_published_total Events published to the hub.
# TYPE telemetra_gateway_published_total counter
telemetra_gateway_published_total 4
# HELP telemetra_gateway_subscribers Current SubscribeChannelEvents subscriptions in the fan-out hub.
# TYPE telemetra_gateway_subscribers gauge
telemetra_gateway_subscribers 2
# HELP telemetra_gateway_subscribers_dropped_total Subscribers cut off by the hub, by reason (slow: queue full after coalescing).
# TYPE telemetra_gateway_subscribers_dropped_total counter
telemetra_gateway_subscribers_dropped_total{reason="slow"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want),
		"telemetra_gateway_published_total", "telemetra_gateway_subscribers", "telemetra_gateway_subscribers_dropped_total"); err != nil {
		t.Error(err)
	}
	problems, err := testutil.GatherAndLint(reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint %s: %s", p.Metric, p.Text)
	}
}

// TestNoMetrics: a hub without metrics (or WithMetrics(nil)) records to metrics registered
// nowhere.
func TestNoMetrics(t *testing.T) {
	for _, opts := range [][]Option{nil, {WithMetrics(nil)}} {
		h := New(opts...)
		s := mustSubscribe(t, h, Filter{}, nil)
		h.Publish(final("a", 0))
		_ = mustNext(t, s)
		h.Close()
	}
}

func histogram(t *testing.T, reg *prometheus.Registry, name string) (count uint64, sum float64) {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() == name {
			h := f.GetMetric()[0].GetHistogram()
			return h.GetSampleCount(), h.GetSampleSum()
		}
	}
	t.Fatalf("metric %s not gathered", name)
	return 0, 0
}
