package projector

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/telemetra/telemetra/internal/kafka"
	"github.com/telemetra/telemetra/internal/kafka/kafkatest"
	"github.com/telemetra/telemetra/internal/pgtest"
	"github.com/telemetra/telemetra/internal/testkit"
	pb "github.com/telemetra/telemetra/proto/telemetra/v1"
)

func TestMain(m *testing.M) { testkit.VerifyNoLeaks(pgtest.M(m)) }

var (
	ctx   = context.Background()
	t0    = time.Date(2025, 10, 16, 10, 0, 0, 0, time.UTC)
	quiet = slog.New(slog.NewTextHandler(io.Discard, nil))
)

func window(channel string, minute int, final bool, version uint64, chats int64) *pb.WindowAggregate {
	start := t0.Add(time.Duration(minute) * time.Minute)
	return &pb.WindowAggregate{
		Channel: channel, WindowStart: timestamppb.New(start), WindowEnd: timestamppb.New(start.Add(time.Minute)),
		Final: final, Version: version, Events: chats,
		Chat:          &pb.ChatStats{Messages: chats, TopEmotes: []*pb.EmoteCount{{Emote: "PogChamp", Count: chats}}},
		Viewers:       &pb.ViewerStats{Samples: 1, ViewerSum: 100, Max: 100, Last: 100},
		Transactions:  &pb.TransactionStats{Transactions: 1, RevenueCents: 499},
		Status:        &pb.StreamStatus{Live: true, Title: "t", SessionId: fmt.Sprint(t0.Unix())},
		LastEventTime: timestamppb.New(start.Add(30 * time.Second)),
	}
}

// record is m as the processor writes it: keyed by its channel.
func record(topic string, offset int64, m interface {
	proto.Message
	GetChannel() string
}) *kgo.Record {
	return &kgo.Record{Topic: topic, Partition: 0, Offset: offset, Key: []byte(m.GetChannel()), Value: mustMarshal(m)}
}

// decoded is records decoded as Run decodes them, none rejected.
func decoded(t *testing.T, cfg Config, records ...*kgo.Record) decodedBatch {
	t.Helper()
	b := decodeBatch(kafka.OutputsFor(cfg.Generation), records)
	for _, r := range b.rejected {
		t.Fatalf("record at offset %d rejected: %v", r.record.Offset, r.rejection)
	}
	return b
}

func newPool(t *testing.T, cfg Config) *pgxpool.Pool {
	t.Helper()
	pool, err := pgxpool.New(ctx, cfg.DatabaseURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	if err := Prepare(ctx, pool, cfg); err != nil {
		t.Fatal(err)
	}
	return pool
}

type row struct {
	final   bool
	version int64
	chats   int64
}

func windowRow(t *testing.T, pool *pgxpool.Pool, channel string, minute int) row {
	t.Helper()
	var r row
	err := pool.QueryRow(ctx, "SELECT final, version, chat_messages FROM window_aggregates WHERE channel = $1 AND window_start = $2",
		channel, t0.Add(time.Duration(minute)*time.Minute)).Scan(&r.final, &r.version, &r.chats)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestUpsertKeepsTheNewestAndTheFinal(t *testing.T) {
	cfg := Config{DatabaseURL: pgtest.Database(t), Logger: quiet}
	cfg.defaults()
	pool := newPool(t, cfg)
	for k, step := range []struct {
		final   bool
		version uint64
		chats   int64
		want    row
	}{
		{false, 2, 20, row{false, 2, 20}},
		{false, 1, 10, row{false, 2, 20}}, // an older version changes nothing
		{true, 3, 30, row{true, 3, 30}},   // the final replaces the provisional
		{false, 4, 40, row{true, 3, 30}},  // a provisional never replaces a final
		{true, 2, 99, row{true, 3, 30}},   // nor does an older final
		{true, 5, 50, row{true, 5, 50}},   // a newer final (a re-emit) does
	} {
		if err := write(ctx, pool, cfg, decoded(t, cfg, record(kafka.TopicAggregates, int64(k), window("demo_stream", 0, step.final, step.version, step.chats)))); err != nil {
			t.Fatal(err)
		}
		if got := windowRow(t, pool, "demo_stream", 0); got != step.want {
			t.Fatalf("step %d: row %+v, want %+v", k, got, step.want)
		}
	}
	var next int64
	if err := pool.QueryRow(ctx, "SELECT next_offset FROM projector_offsets WHERE topic = $1", kafka.TopicAggregates).Scan(&next); err != nil || next != 6 {
		t.Fatalf("stored offset %d, %v; want 6", next, err)
	}
}

// TestLateCorrectionsRaiseTheLateCount: a correction raises a final window's late count and
// keeps the rest; a redelivered one changes nothing, whatever its version; a re-emitted final
// does not lower the count; and a correction for a window without a row (only late events)
// starts one.
func TestLateCorrectionsRaiseTheLateCount(t *testing.T) {
	cfg := Config{DatabaseURL: pgtest.Database(t), Logger: quiet}
	cfg.defaults()
	pool := newPool(t, cfg)
	correction := func(minute int, version uint64, late int64) *pb.WindowAggregate {
		start := t0.Add(time.Duration(minute) * time.Minute)
		return &pb.WindowAggregate{Channel: "demo_stream", WindowStart: timestamppb.New(start), WindowEnd: timestamppb.New(start.Add(time.Minute)),
			Final: true, LateCorrection: true, Version: version, LateEvents: late}
	}
	final := window("demo_stream", 0, true, 3, 30)
	final.LateEvents = 1
	lateOf := func(minute int) (late, chats int64) {
		t.Helper()
		if err := pool.QueryRow(ctx, "SELECT late_events, chat_messages FROM window_aggregates WHERE channel = 'demo_stream' AND window_start = $1",
			t0.Add(time.Duration(minute)*time.Minute)).Scan(&late, &chats); err != nil {
			t.Fatal(err)
		}
		return late, chats
	}
	var offset int64
	for k, step := range []struct {
		records     []*pb.WindowAggregate
		minute      int
		late, chats int64
	}{
		{[]*pb.WindowAggregate{final}, 0, 1, 30},
		{[]*pb.WindowAggregate{correction(0, 4, 2)}, 0, 2, 30},
		{[]*pb.WindowAggregate{correction(0, 3, 2)}, 0, 2, 30},                                                              // redelivered after a crash, with another version
		{[]*pb.WindowAggregate{final}, 0, 2, 30},                                                                            // a re-emitted final keeps the larger count
		{[]*pb.WindowAggregate{correction(5, 9, 1)}, 5, 1, 0},                                                               // a window with late events only
		{[]*pb.WindowAggregate{window("demo_stream", 6, true, 10, 7), correction(6, 11, 4), correction(6, 12, 5)}, 6, 5, 7}, // one batch
	} {
		var records []*kgo.Record
		for _, a := range step.records {
			records = append(records, record(kafka.TopicAggregates, offset, a))
			offset++
		}
		if err := write(ctx, pool, cfg, decoded(t, cfg, records...)); err != nil {
			t.Fatal(err)
		}
		if late, chats := lateOf(step.minute); late != step.late || chats != step.chats {
			t.Fatalf("step %d: late %d chats %d, want %d and %d", k, late, chats, step.late, step.chats)
		}
	}
	var title string
	if err := pool.QueryRow(ctx, "SELECT title FROM channels WHERE channel = 'demo_stream'").Scan(&title); err != nil || title != "t" {
		t.Fatalf("channel title %q (%v): a correction must not touch the channel's status", title, err)
	}
}

// stream is a shuffled history of window versions and moments, and what the tables must hold.
type stream struct {
	records []*kgo.Record
	best    map[string]row // channel@minute → best record
	moments int
}

func newStream(n int) stream { return newStreamOver(n, 5) }

// newStreamOver is newStream over that many channels.
func newStreamOver(n, channels int) stream {
	rng := rand.New(rand.NewPCG(1, 2))
	s := stream{best: map[string]row{}}
	version := map[string]uint64{}
	for k := range n {
		ch := fmt.Sprintf("channel_%d", rng.IntN(channels))
		if k%5 == 4 {
			s.records = append(s.records, &kgo.Record{Topic: kafka.TopicMoments, Key: []byte(ch), Value: mustMarshal(&pb.Moment{
				Id: fmt.Sprintf("raid-%d", k), Channel: ch, Kind: pb.MomentKind_MOMENT_KIND_RAID, At: timestamppb.New(t0.Add(time.Duration(k) * time.Second)),
			})})
			s.moments++
			continue
		}
		minute := rng.IntN(20)
		key := fmt.Sprintf("%s@%d", ch, minute)
		version[ch]++
		final := rng.IntN(4) == 0
		a := window(ch, minute, final, version[ch], int64(rng.IntN(1000)))
		s.records = append(s.records, &kgo.Record{Topic: kafka.TopicAggregates, Key: []byte(ch), Value: mustMarshal(a)})
		cur, seen := s.best[key]
		cand := row{final, int64(version[ch]), a.Chat.Messages}
		if !seen || (cand.final && !cur.final) || (cand.final == cur.final && cand.version > cur.version) {
			s.best[key] = cand
		}
	}
	return s
}

func mustMarshal(m proto.Message) []byte {
	b, err := proto.Marshal(m)
	if err != nil {
		panic(err)
	}
	return b
}

// produceFast writes the stream with batching (benchmarks).
func (s stream) produceFast(t testing.TB, addr string) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.RecordPartitioner(kafka.GokaPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	for _, r := range s.records {
		cl.Produce(ctx, &kgo.Record{Topic: r.Topic, Key: r.Key, Value: r.Value}, nil)
	}
	if err := cl.Flush(ctx); err != nil {
		t.Fatal(err)
	}
}

func contextWithCancel() (context.Context, context.CancelFunc) { return context.WithCancel(ctx) }

func (s stream) produce(t *testing.T, addr string, pace time.Duration) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.RecordPartitioner(kafka.GokaPartitioner()))
	if err != nil {
		t.Error(err)
		return
	}
	defer cl.Close()
	for _, r := range s.records {
		r := &kgo.Record{Topic: r.Topic, Key: r.Key, Value: r.Value}
		if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
			t.Error(err)
			return
		}
		if pace > 0 {
			time.Sleep(pace) // the producer's pace: time passing, not a wait for anything
		}
	}
}

// check waits until the projection holds exactly what the stream implies.
func (s stream) check(t *testing.T, dbURL string, timeout time.Duration) {
	t.Helper()
	pool, err := pgxpool.New(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	testkit.WaitFor(t, "the projection the stream implies", timeout, func() error {
		got := map[string]row{}
		rows, err := pool.Query(ctx, "SELECT channel, window_start, final, version, chat_messages FROM window_aggregates")
		if err == nil {
			for rows.Next() {
				var ch string
				var start time.Time
				var r row
				if rows.Scan(&ch, &start, &r.final, &r.version, &r.chats) == nil {
					got[fmt.Sprintf("%s@%d", ch, int(start.Sub(t0).Minutes()))] = r
				}
			}
			rows.Close()
		}
		var moments, consumed int
		_ = pool.QueryRow(ctx, "SELECT count(*) FROM moments").Scan(&moments)
		// every partition starts at offset 0, so the stored next offsets add up to the records read
		_ = pool.QueryRow(ctx, "SELECT coalesce(sum(next_offset), 0) FROM projector_offsets").Scan(&consumed)
		if fmt.Sprint(got) != fmt.Sprint(s.best) || moments != s.moments || consumed != len(s.records) {
			return fmt.Errorf("%d window rows (want %d), %d moments (want %d), %d records consumed (want %d)",
				len(got), len(s.best), moments, s.moments, consumed, len(s.records))
		}
		return nil
	})
}

func runProjector(t *testing.T, cfg Config) (stop func() error) {
	t.Helper()
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- Run(runCtx, cfg) }()
	return func() error { cancel(); return <-done }
}

// TestCrashBetweenWriteAndCommit: a batch fails after its rows were written but before the
// transaction commits (the process dies there); the restarted projector resumes from the
// offsets stored with the last committed rows: nothing lost, nothing twice.
func TestCrashBetweenWriteAndCommit(t *testing.T) {
	addr := kafkatest.StartBroker(t)
	s := newStream(3000)
	s.produce(t, addr, 0)
	dbURL := pgtest.Database(t)
	batches := 0
	crashing := Config{Brokers: []string{addr}, DatabaseURL: dbURL, BatchSize: 200, Logger: quiet,
		beforeCommit: func() error {
			if batches++; batches == 4 {
				return fmt.Errorf("%w: simulated crash before commit", errStop)
			}
			return nil
		}}
	if err := Run(ctx, crashing); err == nil {
		t.Fatal("the simulated crash did not stop the projector")
	}
	stop := runProjector(t, Config{Brokers: []string{addr}, DatabaseURL: dbURL, BatchSize: 200, Logger: quiet})
	s.check(t, dbURL, time.Minute)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	// and a replay of everything from offset 0 into the same tables changes nothing
	if _, err := pgxpoolExec(dbURL, "DELETE FROM projector_offsets"); err != nil {
		t.Fatal(err)
	}
	stop = runProjector(t, Config{Brokers: []string{addr}, DatabaseURL: dbURL, BatchSize: 500, Logger: quiet})
	s.check(t, dbURL, time.Minute)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}

func pgxpoolExec(dbURL, sql string) (int64, error) {
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return 0, err
	}
	defer conn.Close(ctx)
	tag, err := conn.Exec(ctx, sql)
	return tag.RowsAffected(), err
}

// TestPostgresRestartMidStream restarts the server while records keep coming: the projector
// waits, retries the same batch and loses nothing.
func TestPostgresRestartMidStream(t *testing.T) {
	cluster := pgtest.Cluster(t)
	if cluster == nil {
		t.Skip("DATABASE_URL is set: no private cluster to restart")
	}
	addr := kafkatest.StartBroker(t)
	dbURL := pgtest.Database(t)
	s := newStream(1500)
	reg := prometheus.NewRegistry()
	metrics := NewMetrics(reg)
	stop := runProjector(t, Config{Brokers: []string{addr}, DatabaseURL: dbURL, BatchSize: 100, Logger: quiet,
		RetryMin: 50 * time.Millisecond, RetryMax: 500 * time.Millisecond, Metrics: metrics})
	produced := make(chan struct{})
	go func() { defer close(produced); s.produce(t, addr, time.Millisecond) }()
	// mid-stream: once the projector has committed a batch, while records keep coming
	testkit.WaitFor(t, "the projector's first commit", time.Minute, func() error {
		if testutil.ToFloat64(metrics.wallClockLag) == 0 { // set by every commit
			return errors.New("no batch committed")
		}
		return nil
	})
	if err := cluster.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	<-produced
	s.check(t, dbURL, time.Minute)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if retries := testutil.ToFloat64(metrics.retries); retries < 1 {
		t.Fatalf("the restart was not noticed (%v retries): the test did not test it", retries)
	}
	// the stream's windows are from 2025: the projection is that far behind the wall clock
	if lag := testutil.ToFloat64(metrics.wallClockLag); lag < time.Since(t0.Add(24*time.Hour)).Seconds() {
		t.Fatalf("wall-clock lag %.0fs", lag)
	}
}
