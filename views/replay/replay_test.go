package replay

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/telemetra/telemetra/internal/kafka/kafkatest"
	"github.com/telemetra/telemetra/internal/pgtest"
	"github.com/telemetra/telemetra/internal/pipelinetest"
	"github.com/telemetra/telemetra/internal/testkit"
	"github.com/telemetra/telemetra/processors/aggregator"
	"github.com/telemetra/telemetra/processors/window"
	"github.com/telemetra/telemetra/producer"
	"github.com/telemetra/telemetra/views/projector"
)

func TestMain(m *testing.M) { testkit.VerifyNoLeaks(pgtest.M(m)) }

var ctx = context.Background()

// testWindow has 5 s windows and 2 s of lateness, so a run's last windows close soon after it
// (see processors/aggregator's testWindowConfig).
func testWindow() window.Config {
	cfg := window.DefaultConfig()
	cfg.Size, cfg.AllowedLateness = 5*time.Second, 2*time.Second
	return cfg
}

// run is a seeded producer run; start moves it in time so that several runs follow each other.
func run(count int64, seed uint64, start time.Time) producer.RunConfig {
	return producer.RunConfig{
		Sim:   producer.Config{Channels: []string{"demo_stream", "gaming", "cozy_cafe", "speedrun_hub"}, Seed: seed},
		Count: count, StartTime: start, TimeStep: 20 * time.Millisecond, Logger: kafkatest.Quiet(),
	}
}

var start = time.Date(2025, 10, 16, 10, 0, 0, 0, time.UTC)

func produce(t testing.TB, addr string, r producer.RunConfig) {
	t.Helper()
	r.Brokers = []string{addr}
	if _, err := producer.Run(ctx, r); err != nil {
		t.Fatal(err)
	}
}

// background runs fn until the test ends and reports its error to errs.
func background(t testing.TB, fn func(context.Context) error) <-chan error {
	t.Helper()
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- fn(runCtx) }()
	errs := make(chan error, 1)
	stopped := make(chan struct{})
	go func() {
		err := <-done
		errs <- err
		close(stopped)
	}()
	t.Cleanup(func() {
		cancel()
		<-stopped
	})
	return errs
}

func runProcessor(t testing.TB, addr string) {
	background(t, func(ctx context.Context) error {
		return aggregator.Run(ctx, aggregator.Config{Brokers: []string{addr}, Window: testWindow(), ClientID: "live",
			SweepEvery: 100 * time.Millisecond, FullSweepEvery: time.Second, Logger: kafkatest.Quiet()})
	})
}

func runProjector(t testing.TB, addr, dbURL string) <-chan error {
	return background(t, func(ctx context.Context) error {
		return projector.Run(ctx, projector.Config{Brokers: []string{addr}, DatabaseURL: dbURL, Schema: "telemetra", Logger: kafkatest.Quiet()})
	})
}

// finalTotals sums the final windows of a schema per channel.
func finalTotals(t testing.TB, pool *pgxpool.Pool, schema string) map[string]pipelinetest.Totals {
	t.Helper()
	rows, err := pool.Query(ctx, "SELECT channel, sum(chat_messages), sum(viewer_samples), sum(transactions), sum(revenue_cents) FROM "+
		pgx.Identifier{schema, "window_aggregates"}.Sanitize()+" WHERE final GROUP BY channel")
	if err != nil {
		return nil // not migrated yet
	}
	defer rows.Close()
	got := map[string]pipelinetest.Totals{}
	for rows.Next() {
		var ch string
		var tot pipelinetest.Totals
		if err := rows.Scan(&ch, &tot.Chat, &tot.ViewerSamples, &tot.Transactions, &tot.RevenueCents); err != nil {
			t.Fatal(err)
		}
		got[ch] = tot
	}
	return got
}

func awaitProjected(t testing.TB, pool *pgxpool.Pool, schema string, want map[string]pipelinetest.Totals) {
	t.Helper()
	testkit.WaitFor(t, "the final windows in "+schema, 2*time.Minute, func() error {
		if got := finalTotals(t, pool, schema); fmt.Sprint(got) != fmt.Sprint(want) {
			return fmt.Errorf("\n got %v\nwant %v", got, want)
		}
		return nil
	})
}

func merge(a, b map[string]pipelinetest.Totals) map[string]pipelinetest.Totals {
	out := map[string]pipelinetest.Totals{}
	for _, m := range []map[string]pipelinetest.Totals{a, b} {
		for ch, v := range m {
			o := out[ch]
			o.Chat += v.Chat
			o.ViewerSamples += v.ViewerSamples
			o.Transactions += v.Transactions
			o.RevenueCents += v.RevenueCents
			out[ch] = o
		}
	}
	return out
}

func newPool(t testing.TB, url string) *pgxpool.Pool {
	t.Helper()
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// TestReplayRebuildsAnIdenticalProjectionAndSwapsItIn: producer (fixed seed) → processor →
// projector → PostgreSQL on the embedded broker; a replay while the live projector runs builds a
// shadow schema identical row by row, swaps it in, and the live projector carries on in it.
func TestReplayRebuildsAnIdenticalProjectionAndSwapsItIn(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test")
	}
	addr := kafkatest.StartBroker(t)
	dbURL := pgtest.Database(t)
	pool := newPool(t, dbURL)
	first := run(20_000, 5, start)
	produce(t, addr, first)
	runProcessor(t, addr)
	projErrs := runProjector(t, addr, dbURL)
	want := pipelinetest.Expected(t, first)
	awaitProjected(t, pool, "telemetra", want)

	rep, err := Run(ctx, Config{Brokers: []string{addr}, DatabaseURL: dbURL, Schema: "telemetra",
		Verify: true, Swap: true, KeepPrevious: true, ProgressEvery: time.Second, Logger: kafkatest.Quiet()})
	if err != nil {
		t.Fatalf("replay: %v (report %+v)", err, rep)
	}
	if rep.Diff == nil || !rep.Diff.Identical() || rep.Diff.Rows["window_aggregates"] == 0 {
		t.Fatalf("verify: %+v", rep.Diff)
	}
	if !rep.Swapped || rep.Previous != "telemetra_previous" || rep.Records == 0 {
		t.Fatalf("report %+v", rep)
	}
	var rebuilt *time.Time
	if err := pool.QueryRow(ctx, "SELECT rebuilt_at FROM telemetra.projection_info").Scan(&rebuilt); err != nil || rebuilt == nil {
		t.Fatalf("live schema is not the rebuilt one: rebuilt_at %v, %v", rebuilt, err)
	}
	previousRows := countRows(t, pool, "telemetra_previous")

	// the live projector goes on writing into the swapped-in schema
	second := run(10_000, 6, start.Add(time.Hour))
	produce(t, addr, second)
	awaitProjected(t, pool, "telemetra", merge(want, pipelinetest.Expected(t, second)))
	if got := countRows(t, pool, "telemetra_previous"); got != previousRows {
		t.Fatalf("the replaced schema changed after the swap: %d rows, was %d", got, previousRows)
	}
	select {
	case err := <-projErrs:
		t.Fatalf("live projector stopped: %v", err)
	default:
	}

	// and a second replay of the grown projection is identical again
	rep, err = Run(ctx, Config{Brokers: []string{addr}, DatabaseURL: dbURL, Schema: "telemetra", Verify: true, Swap: true, Logger: kafkatest.Quiet()})
	if err != nil || !rep.Diff.Identical() || !rep.Swapped {
		t.Fatalf("second replay: %v, %+v", err, rep.Diff)
	}
	var schemas int
	if err := pool.QueryRow(ctx, "SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'telemetra%'").Scan(&schemas); err != nil || schemas != 1 {
		t.Fatalf("%d telemetra schemas left (%v); want only the live one", schemas, err)
	}
}

func countRows(t testing.TB, pool *pgxpool.Pool, schema string) int64 {
	t.Helper()
	var n int64
	if err := pool.QueryRow(ctx, "SELECT count(*) FROM "+pgx.Identifier{schema, "window_aggregates"}.Sanitize()).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestReplayRebuildsTheStateIntoANewGeneration reprocesses the inputs into generation 2, projects
// its topics and swaps them in; with unchanged window logic the final windows are the same, and
// the generation-1 projector stops rather than mix its records into the new projection.
func TestReplayRebuildsTheStateIntoANewGeneration(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test")
	}
	addr := kafkatest.StartBroker(t)
	dbURL := pgtest.Database(t)
	pool := newPool(t, dbURL)
	first := run(15_000, 9, start)
	produce(t, addr, first)
	runProcessor(t, addr)
	projErrs := runProjector(t, addr, dbURL)
	want := pipelinetest.Expected(t, first)
	awaitProjected(t, pool, "telemetra", want)

	cfg := Config{Brokers: []string{addr}, DatabaseURL: dbURL, Schema: "telemetra", Generation: 2,
		// windows that close by idleness need the idle timeout (2 s) plus the caught-up check
		// (5 s of lag tolerance) after the inputs are done; generous for loaded CI machines
		RebuildState: true, Window: testWindow(), Settle: 25 * time.Second,
		Verify: true, Swap: true, KeepPrevious: true, Logger: kafkatest.Quiet()}
	rep, err := Run(ctx, cfg)
	if err != nil {
		if rep.Diff != nil {
			for _, s := range rep.Diff.Samples {
				t.Log(s)
			}
		}
		t.Fatalf("replay: %v (report %+v)", err, rep)
	}
	var events int64
	for _, tot := range want {
		events += tot.Chat + tot.ViewerSamples + tot.Transactions
	}
	if rep.Events < events || !rep.Swapped {
		t.Fatalf("report %+v; want at least %d events reprocessed and a swap", rep, events)
	}
	if !rep.Diff.Identical() {
		for _, s := range rep.Diff.Samples {
			t.Log(s)
		}
		t.Fatalf("generation 2 differs from generation 1 with the same window logic: %d rows", rep.Diff.Total)
	}
	if got := finalTotals(t, pool, "telemetra"); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("rebuilt finals %v, want %v", got, want)
	}
	var gen int
	if err := pool.QueryRow(ctx, "SELECT generation FROM telemetra.projection_info").Scan(&gen); err != nil || gen != 2 {
		t.Fatalf("live generation %d, %v", gen, err)
	}

	// generation 1's projector meets generation 2's schema on its next batch, and stops
	produce(t, addr, run(2_000, 10, start.Add(time.Hour)))
	select {
	case err := <-projErrs:
		if !errors.Is(err, projector.ErrGenerationMismatch) {
			t.Fatalf("generation 1 projector: %v, want ErrGenerationMismatch", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("generation 1 projector still running against generation 2's schema")
	}

	// a state rebuild into a generation that is not new is refused
	cfg.Generation = 2
	if _, err := Run(ctx, cfg); err == nil {
		t.Fatal("rebuilding into the live generation succeeded")
	}
}

// TestReplayRefusesASchemaWithoutAProjection: a --schema that does not exist (a typo, or
// "telemetra" against `make run`, which projects into public) or that no projector has written to
// has nothing to verify against or replace. The replay fails naming it, with or without Verify,
// before it creates anything: no stray shadow, no new live schema, no verify skipped in silence.
func TestReplayRefusesASchemaWithoutAProjection(t *testing.T) {
	dbURL := pgtest.Database(t)
	pool := newPool(t, dbURL)
	schemas := func() []string {
		t.Helper()
		rows, err := pool.Query(ctx, "SELECT nspname FROM pg_namespace WHERE nspname NOT LIKE 'pg\\_%' AND nspname <> 'information_schema' ORDER BY 1")
		if err != nil {
			t.Fatal(err)
		}
		names, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatal(err)
		}
		return names
	}
	before := fmt.Sprint(schemas())
	for _, c := range []struct {
		schema string
		verify bool
		why    string
	}{
		{"telemetra", true, "does not exist"},
		{"telemetra", false, "does not exist"},
		{"public", true, "exists but holds no projection"},
		{"public", false, "exists but holds no projection"},
	} {
		t.Run(fmt.Sprintf("%s/verify=%v", c.schema, c.verify), func(t *testing.T) {
			// no broker: the refusal comes before the replay reads anything
			rep, err := Run(ctx, Config{Brokers: []string{"127.0.0.1:1"}, DatabaseURL: dbURL, Schema: c.schema,
				Verify: c.verify, Swap: true, Logger: kafkatest.Quiet()})
			if !errors.Is(err, ErrNoLiveProjection) {
				t.Fatalf("err = %v, want ErrNoLiveProjection", err)
			}
			if want := fmt.Sprintf("schema %s %s", c.schema, c.why); !strings.Contains(err.Error(), want) {
				t.Fatalf("err = %q, want it to say %q", err, want)
			}
			if rep.Swapped || rep.Diff != nil || rep.Records != 0 {
				t.Fatalf("report %+v after a refusal", rep)
			}
			if got := fmt.Sprint(schemas()); got != before {
				t.Fatalf("schemas %s after the refusal, were %s", got, before)
			}
		})
	}
}
