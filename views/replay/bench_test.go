package replay

import (
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/telemetra/telemetra/internal/kafka/kafkatest"
	"github.com/telemetra/telemetra/internal/pgtest"
	"github.com/telemetra/telemetra/internal/pipelinetest"
)

// BenchmarkReplay runs the pipeline over a seeded history (1M events unless
// TELEMETRA_BENCH_EVENTS says otherwise), then times a full replay with a state rebuild:
// reprocessing the inputs into generation 2 (events/s) and projecting its outputs into a shadow
// schema (records/s). Run with -benchtime=1x; figures in docs/views.md.
func BenchmarkReplay(b *testing.B) {
	events := int64(1_000_000)
	if v, err := strconv.ParseInt(os.Getenv("TELEMETRA_BENCH_EVENTS"), 10, 64); err == nil && v > 0 {
		events = v
	}
	addr := kafkatest.StartBroker(b)
	dbURL := pgtest.Database(b)
	pool := newPool(b, dbURL)
	history := run(events, 21, start)
	produce(b, addr, history)
	runProcessor(b, addr)
	runProjector(b, addr, dbURL)
	awaitProjected(b, pool, "telemetra", pipelinetest.Expected(b, history))
	b.ResetTimer()
	for k := 0; k < b.N; k++ {
		rep, err := Run(ctx, Config{Brokers: []string{addr}, DatabaseURL: dbURL, Schema: "telemetra",
			Generation: 2 + k, RebuildState: true, Window: testWindow(), Swap: false, Logger: kafkatest.Quiet()})
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(rep.Events)/rep.StateTook.Seconds(), "events/s")
		b.ReportMetric(float64(rep.Records)/rep.ProjectionTook.Seconds(), "records/s")
		b.ReportMetric(float64(rep.Records), "records")
		b.Logf("state: %d events in %s; projection: %d records in %s", rep.Events, rep.StateTook.Round(time.Millisecond),
			rep.Records, rep.ProjectionTook.Round(time.Millisecond))
	}
}
