package projector

import (
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/telemetra/telemetra/internal/kafka/kafkatest"
	"github.com/telemetra/telemetra/internal/pgtest"
	"github.com/telemetra/telemetra/internal/testkit"
)

// BenchmarkProjector pre-fills the embedded broker with window versions and moments (the
// stream of newStreamOver: many versions per window, like the processor's provisional
// updates), then times a projector on a fresh database from its first row to having read
// everything. Over 5 channels most versions of a batch collapse into a few window rows and the
// moments dominate; over 10,000 channels nearly every aggregate is a row of its own. Run with
// -benchtime=1x; figures in docs/performance.md.
func BenchmarkProjector(b *testing.B) {
	const records = 100_000
	for _, channels := range []int{5, 10_000} {
		b.Run(fmt.Sprintf("channels=%d", channels), func(b *testing.B) {
			addr := kafkatest.StartBroker(b)
			s := newStreamOver(records, channels)
			s.produceFast(b, addr)
			for k := 0; k < b.N; k++ {
				dbURL := pgtest.Database(b)
				started := time.Now()
				stop := runProjectorB(Config{Brokers: []string{addr}, DatabaseURL: dbURL, Logger: quiet})
				waitConsumed(b, dbURL, records)
				took := time.Since(started)
				if err := stop(); err != nil {
					b.Fatal(err)
				}
				b.ReportMetric(float64(records)/took.Seconds(), "records/s")
			}
		})
	}
}

func runProjectorB(cfg Config) func() error {
	done := make(chan error, 1)
	runCtx, cancel := contextWithCancel()
	go func() { done <- Run(runCtx, cfg) }()
	return func() error { cancel(); return <-done }
}

func waitConsumed(b *testing.B, dbURL string, want int) {
	pool, err := pgxpool.New(ctx, dbURL)
	if err != nil {
		b.Fatal(err)
	}
	defer pool.Close()
	testkit.WaitFor(b, "every record to be projected", 5*time.Minute, func() error {
		var consumed int
		_ = pool.QueryRow(ctx, "SELECT coalesce(sum(next_offset), 0) FROM projector_offsets").Scan(&consumed)
		if consumed < want {
			return fmt.Errorf("%d of %d records projected", consumed, want)
		}
		return nil
	})
}
