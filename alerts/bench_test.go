package alerts

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/lovoo/goka"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/telemetra/telemetra/internal/kafka/kafkatest"
	"github.com/telemetra/telemetra/internal/pgtest"
	"github.com/telemetra/telemetra/migrations"
	"github.com/telemetra/telemetra/processors/aggregator"
	"github.com/telemetra/telemetra/producer"
)

// BenchmarkPipelineWithAlerts measures, in the same run, the windowing processor's throughput
// over a fixed, pre-filled event set alone, and again while the alert role consumes its moments
// and sends them (default backoff, 1 s attempt timeout) to a receiver that hangs on every
// attempt and one that always fails; alone is the mean of a run before and one after. The
// pipeline must not notice (issue #20: within 5%). Run with -benchtime=1x (-count for more
// runs); figures in docs/alerts.md.
func BenchmarkPipelineWithAlerts(b *testing.B) {
	const events = 500_000
	e := &env{brokers: []string{kafkatest.StartBroker(b)}, dbURL: pgtest.Database(b)}
	run := producer.RunConfig{
		Brokers: e.brokers, Sim: producer.Config{Channels: producer.GeneratedChannels(100), Seed: 1},
		Count: events, StartTime: time.Date(2025, 10, 16, 10, 0, 0, 0, time.UTC), TimeStep: 20 * time.Millisecond, Logger: kafkatest.Quiet(),
	}
	if _, err := producer.Run(context.Background(), run); err != nil {
		b.Fatal(err)
	}
	subscribeB(b, e.dbURL, "hanging", newBenchReceiver(b, true), "failing", newBenchReceiver(b, false))
	b.ResetTimer()
	for k := 0; k < b.N; k++ {
		before := processOnce(b, e.brokers, fmt.Sprintf("bench-alone-before-%d", k), events)

		reg := prometheus.NewRegistry()
		metrics := NewMetrics(reg)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() {
			done <- Run(ctx, Config{
				Brokers: e.brokers, DatabaseURL: e.dbURL, Consumer: fmt.Sprintf("bench-alert-%d", k), MaxMomentAge: -1,
				MaxPending: 1_000_000, AttemptTimeout: time.Second, Logger: kafkatest.Quiet(), Metrics: metrics,
			})
		}()
		with := processOnce(b, e.brokers, fmt.Sprintf("bench-with-alerts-%d", k), events)
		queued := testutil.ToFloat64(metrics.queued)
		attempts := testutil.ToFloat64(metrics.attempts.WithLabelValues(attemptTimeout)) +
			testutil.ToFloat64(metrics.attempts.WithLabelValues(attemptHTTPError))
		cancel()
		if err := <-done; err != nil {
			b.Fatal(err)
		}
		// alone again: the mean of the runs before and after cancels a drift of the machine
		alone := (before + processOnce(b, e.brokers, fmt.Sprintf("bench-alone-after-%d", k), events)) / 2
		if queued == 0 || attempts == 0 {
			b.Fatalf("the alert role queued %v deliveries and made %v failed attempts meanwhile: it did not work alongside", queued, attempts)
		}
		b.ReportMetric(alone, "alone-events/s")
		b.ReportMetric(with, "with-alerts-events/s")
		b.ReportMetric(with/alone, "ratio")
		b.ReportMetric(queued, "deliveries-queued")
		b.ReportMetric(attempts, "failed-attempts")
	}
}

// processOnce runs the windowing processor as a new group over the whole input and returns its
// events per second, from its first event to its last (as processors/aggregator's benchmark).
func processOnce(b *testing.B, brokers []string, group string, events int64) float64 {
	reg := prometheus.NewRegistry()
	metrics := aggregator.NewMetrics(reg)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- aggregator.Run(ctx, aggregator.Config{Brokers: brokers, Group: goka.Group(group), ClientID: group, Logger: kafkatest.Quiet(), Metrics: metrics})
	}()
	// follow the events counter every 5 ms: a coarser poll would blur a run of seconds
	var first, last time.Time
	for deadline := time.Now().Add(10 * time.Minute); ; time.Sleep(5 * time.Millisecond) {
		n := countProcessed(b, reg)
		if n > 0 && first.IsZero() {
			first = time.Now()
		}
		if n >= events {
			last = time.Now()
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("processed %d of %d events in 10 minutes", n, events)
		}
	}
	cancel()
	if err := <-done; err != nil {
		b.Fatal(err)
	}
	return float64(events) / last.Sub(first).Seconds()
}

func countProcessed(b *testing.B, reg *prometheus.Registry) int64 {
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

// newBenchReceiver is a receiver that hangs every attempt until the client gives up, or answers
// every one 503.
func newBenchReceiver(b *testing.B, hangs bool) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// the body read first: only then does the server notice the client hanging up
		_, _ = io.Copy(io.Discard, r.Body)
		if hangs {
			<-r.Context().Done()
			return
		}
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	b.Cleanup(srv.Close)
	return srv.URL
}

// subscribeB migrates the alerting schema and subscribes id/url pairs to every moment.
func subscribeB(b *testing.B, dbURL string, pairs ...string) {
	conn, err := pgx.Connect(context.Background(), dbURL)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := migrations.ApplyAlerts(context.Background(), conn, migrations.DefaultAlertsSchema, kafkatest.Quiet()); err != nil {
		b.Fatal(err)
	}
	for i := 0; i < len(pairs); i += 2 {
		if _, err := conn.Exec(context.Background(), "INSERT INTO telemetra_alerts.alert_subscriptions (id, url, secret) VALUES ($1, $2, 'k')", pairs[i], pairs[i+1]); err != nil {
			b.Fatal(err)
		}
	}
}
