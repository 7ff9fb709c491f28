package pipelinehealth

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/telemetra/telemetra/internal/testkit"
)

// fakeSource answers the reading it holds and counts its reads.
type fakeSource struct {
	mu      sync.Mutex
	reading Reading
	reads   int
}

func (f *fakeSource) Read(context.Context) Reading {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reads++
	r := f.reading
	r.Lags = append([]Lag(nil), f.reading.Lags...)
	return r
}

func (f *fakeSource) set(change func(*Reading)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	change(&f.reading)
}

func (f *fakeSource) readCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.reads
}

// clock is a settable now.
type clock struct{ at time.Time }

func (c *clock) now() time.Time          { return c.at }
func (c *clock) advance(d time.Duration) { c.at = c.at.Add(d) }
func quiet() *slog.Logger                { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func TestTheSamplerTurnsSampledTotalsIntoRatesAndJudgesThem(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	clk := &clock{at: t0}
	src := &fakeSource{reading: Reading{
		Lags:             []Lag{{Consumer: ConsumerProcessor, Records: 40}, {Consumer: ConsumerProjector, Records: 3}},
		NewestLiveUpdate: t0.Add(-time.Second), History: true, NewestEmit: t0.Add(-2 * time.Second),
		DeadLetters: 5, LateEvents: 100,
	}}
	reg := prometheus.NewRegistry()
	s := NewSampler(src, Options{Thresholds: DefaultThresholds(), Now: clk.now, Metrics: NewMetrics(reg), Logger: quiet()})

	if r := s.Latest(); r.State != StateUnknown || !r.At.IsZero() || len(r.Problems) != 1 {
		t.Fatalf("before the first sample: %+v; want unknown, not sampled yet", r)
	}
	first := s.Sample(ctx)
	if first.State != StateUnknown || first.DeadLettersTotal != 5 || first.LiveFreshness != time.Second || first.ProjectionFreshness != 2*time.Second {
		t.Fatalf("first sample: %+v; want unknown (no rate yet), 5 dead letters, freshness 1s and 2s", first)
	}

	// every 30 s: one more dead letter and 10 more late events, the live view and the
	// projection keeping up
	for range 20 {
		clk.advance(30 * time.Second)
		src.set(func(r *Reading) {
			r.DeadLetters++
			r.LateEvents += 10
			r.NewestLiveUpdate, r.NewestEmit = clk.at.Add(-500*time.Millisecond), clk.at.Add(-time.Second)
		})
		s.Sample(ctx)
	}
	got := s.Latest()
	if !got.At.Equal(clk.at) || !near(got.DeadLettersPerMinute, 2) || got.DeadLettersTotal != 25 || !near(got.LateEventsPerMinute, 20) {
		t.Errorf("after 10 minutes: at %v, %v dead letters/min (total %d), %v late/min; want %v, 2 (25), 20",
			got.At, got.DeadLettersPerMinute, got.DeadLettersTotal, got.LateEventsPerMinute, clk.at)
	}
	if got.State != StateDegraded || len(got.Problems) != 1 || got.Problems[0] != "2 dead letters per minute (threshold 0)" {
		t.Errorf("state %s %q; want degraded by the dead letters alone", got.State, got.Problems)
	}
	for name, want := range map[string]float64{
		"telemetra_gateway_pipeline_dead_letters_per_minute":      2,
		"telemetra_gateway_pipeline_dead_letter_records":          25,
		"telemetra_gateway_pipeline_late_events_per_minute":       20,
		"telemetra_gateway_pipeline_live_freshness_seconds":       0.5,
		"telemetra_gateway_pipeline_projection_freshness_seconds": 1,
	} {
		if v := gaugeValue(t, reg, name, nil); !near(v, want) {
			t.Errorf("%s = %v, want %v", name, v, want)
		}
	}
	if v := gaugeValue(t, reg, "telemetra_gateway_pipeline_lag_records", map[string]string{"consumer": "processor"}); v != 40 {
		t.Errorf("processor lag gauge = %v, want 40", v)
	}
	if v := gaugeValue(t, reg, "telemetra_gateway_pipeline_state", map[string]string{"state": "degraded"}); v != 1 {
		t.Errorf("state gauge degraded = %v, want 1", v)
	}

	// five minutes without a dead letter: the rate falls back to 0 and the state to ok
	for range 10 {
		clk.advance(30 * time.Second)
		src.set(func(r *Reading) { r.NewestLiveUpdate, r.NewestEmit = clk.at, clk.at })
		s.Sample(ctx)
	}
	if got := s.Latest(); got.State != StateOK || got.DeadLettersPerMinute != 0 || got.DeadLettersTotal != 25 {
		t.Errorf("after five quiet minutes: %s %q, %v/min, total %d; want ok, 0, 25", got.State, got.Problems, got.DeadLettersPerMinute, got.DeadLettersTotal)
	}

	// a reader that cannot be read: unknown, its gauge NaN
	src.set(func(r *Reading) { r.Lags[1].Err = errors.New("projector offsets: database down") })
	clk.advance(2 * time.Second)
	if got := s.Sample(ctx); got.State != StateUnknown {
		t.Errorf("projector lag unreadable: %s; want unknown", got.State)
	}
	if v := gaugeValue(t, reg, "telemetra_gateway_pipeline_lag_records", map[string]string{"consumer": "projector"}); !math.IsNaN(v) {
		t.Errorf("projector lag gauge = %v, want NaN while unknown", v)
	}
}

func TestReadersOfTheLatestReportCostNoRead(t *testing.T) {
	src := &fakeSource{}
	s := NewSampler(src, Options{Logger: quiet()})
	s.Sample(ctx)
	var wg sync.WaitGroup
	for range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 100 {
				_ = s.Latest()
			}
		}()
	}
	wg.Wait()
	if n := src.readCount(); n != 1 {
		t.Errorf("%d reads of the source for one sample and 6400 readers; want 1", n)
	}
}

func TestRunSamplesAtOnceAndStopsWithItsContext(t *testing.T) {
	src := &fakeSource{}
	s := NewSampler(src, Options{Interval: time.Hour, Logger: quiet()})
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- s.Run(runCtx) }()
	testkit.WaitFor(t, "the first sample", 10*time.Second, func() error {
		if s.Latest().At.IsZero() {
			return errors.New("no sample yet")
		}
		return nil
	})
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run: %v", err)
	}
	if n := src.readCount(); n != 1 {
		t.Errorf("%d reads within the first hour; want 1", n)
	}
}

var ctx = context.Background()

// gaugeValue is the value of the gauge name with labels (nil: unlabelled).
func gaugeValue(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
	metrics:
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if labels[l.GetName()] != l.GetValue() {
					continue metrics
				}
			}
			return m.GetGauge().GetValue()
		}
	}
	t.Fatalf("no gauge %s%v", name, labels)
	return 0
}
