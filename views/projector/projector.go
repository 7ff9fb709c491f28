package projector

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/telemetra/telemetra/internal/kafka"
	"github.com/telemetra/telemetra/migrations"
)

// Config configures a projector.
type Config struct {
	Brokers     []string
	DatabaseURL string
	// Schema receives the rows (a shadow schema for replays); migrated on start.
	Schema string
	// Consumer names this projection's offsets in projector_offsets.
	Consumer string
	// Generation selects the processor generation whose output topics are projected
	// (kafka.OutputsFor); a schema holds the projection of one generation only.
	Generation int
	// BatchSize is the most records written in one transaction.
	BatchSize int
	// RetryMin and RetryMax bound the backoff while PostgreSQL is unreachable.
	RetryMin, RetryMax time.Duration
	// StartupTimeout bounds the retries of a Kafka cluster that is still starting (zero:
	// kafka.DefaultStartupTimeout; negative: fail at the first error).
	StartupTimeout time.Duration
	Now            func() time.Time
	Logger         *slog.Logger
	Metrics        *Metrics
	// beforeCommit, for tests, runs inside a batch's transaction after its rows were written.
	beforeCommit func() error
}

func (c *Config) defaults() {
	if c.StartupTimeout == 0 {
		c.StartupTimeout = kafka.DefaultStartupTimeout
	}
	if c.Schema == "" {
		c.Schema = "public"
	}
	if c.Consumer == "" {
		c.Consumer = "telemetra-projector"
	}
	if c.Generation <= 0 {
		c.Generation = 1
	}
	if c.BatchSize <= 0 {
		c.BatchSize = 2000
	}
	if c.RetryMin <= 0 {
		c.RetryMin = 100 * time.Millisecond
	}
	if c.RetryMax <= 0 {
		c.RetryMax = 10 * time.Second
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

// Topics the projector reads for a processor generation.
func Topics(generation int) []string {
	out := kafka.OutputsFor(generation)
	return []string{out.Aggregates, out.Moments}
}

// Offsets are positions in the projected topics: topic → partition → next offset.
type Offsets map[string]map[int32]int64

// ErrGenerationMismatch means the schema is a projection of another processor generation's topics.
var ErrGenerationMismatch = errors.New("projection of another generation")

// Run projects until ctx ends. It resumes from the offsets stored in PostgreSQL; PostgreSQL
// being down makes it wait and retry the same batch, never skip it.
func Run(ctx context.Context, cfg Config) error {
	cfg.defaults()
	// the cluster first (it may still be starting), and the projector may start before any
	// processor created its output topics
	startup := []kafka.AdminOption{kafka.WithStartupTimeout(max(cfg.StartupTimeout, 0)), kafka.WithLogger(cfg.Logger)}
	if err := kafka.EnsureTopics(ctx, cfg.Brokers, append(kafka.AllTopics(), kafka.OutputsFor(cfg.Generation).Specs()...), startup...); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	pool, err := pgxpool.New(ctx, cfg.DatabaseURL)
	if err != nil {
		return fmt.Errorf("database config: %w", err)
	}
	defer pool.Close()

	var stored Offsets
	if err := retry(ctx, cfg, "prepare the database", func() error {
		if err := Prepare(ctx, pool, cfg); err != nil {
			return err
		}
		var err error
		stored, err = StoredOffsets(ctx, pool, cfg)
		return err
	}); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	offsets := map[string]map[int32]kgo.Offset{}
	for topic, parts := range stored {
		offsets[topic] = map[int32]kgo.Offset{}
		for p, next := range parts {
			offsets[topic][p] = kgo.NewOffset().At(next)
		}
	}
	for _, topic := range Topics(cfg.Generation) {
		n, err := kafka.PartitionCount(ctx, cfg.Brokers, topic, startup...)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		if offsets[topic] == nil {
			offsets[topic] = map[int32]kgo.Offset{}
		}
		for p := range int32(n) {
			if _, ok := offsets[topic][p]; !ok {
				offsets[topic][p] = kgo.NewOffset().AtStart()
			}
		}
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(cfg.Brokers...), kgo.ConsumePartitions(offsets),
		kgo.ClientID(cfg.Consumer), kgo.RecordPartitioner(kafka.GokaPartitioner()))
	if err != nil {
		return fmt.Errorf("kafka client: %w", err)
	}
	defer cl.Close()
	cfg.Logger.Info("projector running", "consumer", cfg.Consumer, "schema", cfg.Schema, "generation", cfg.Generation)

	for {
		fetches := cl.PollRecords(ctx, cfg.BatchSize)
		if ctx.Err() != nil {
			return nil
		}
		fetches.EachError(func(topic string, p int32, err error) {
			cfg.Logger.Warn("fetch failed; retrying", "topic", topic, "partition", p, "err", err)
		})
		records := fetches.Records()
		if len(records) == 0 {
			continue
		}
		if cfg.Metrics != nil {
			fetches.EachPartition(func(p kgo.FetchTopicPartition) {
				if n := len(p.Records); n > 0 {
					lag := p.HighWatermark - (p.Records[n-1].Offset + 1)
					cfg.Metrics.lag.WithLabelValues(p.Topic, fmt.Sprint(p.Partition)).Set(float64(lag))
				}
			})
		}
		if err := project(ctx, cl, pool, cfg, records); err != nil {
			if ctx.Err() != nil {
				return nil // shutting down: the batch was not committed and is read again on start
			}
			return err
		}
	}
}

// project copies a batch's rejected records to the dead-letter topic, then writes the rest and
// the offsets of all, retrying while PostgreSQL is unreachable.
func project(ctx context.Context, cl *kgo.Client, pool *pgxpool.Pool, cfg Config, records []*kgo.Record) error {
	out := kafka.OutputsFor(cfg.Generation)
	in := decodeBatch(out, records)
	if err := deadLetter(ctx, cl, cfg, out.ProjectorDLQ, in.rejected); err != nil {
		return err
	}
	return retry(ctx, cfg, "write a batch", func() error { return write(ctx, pool, cfg, in) })
}

// deadLetter logs and counts the rejected records and copies them to topic. It returns once the
// broker has acknowledged every copy, before the batch's offsets are committed: a crash in
// between copies them again when the batch is read again (at least once), none is lost. kgo
// retries a produce itself; an error here is one it gave up on, and stops the projector
// rather than commit past a record it did not copy.
func deadLetter(ctx context.Context, cl *kgo.Client, cfg Config, topic string, rejected []rejectedRecord) error {
	if len(rejected) == 0 {
		return nil
	}
	copies := make([]*kgo.Record, len(rejected))
	for i, r := range rejected {
		cfg.Logger.Warn("record rejected: not projected, copied to the dead-letter topic", "topic", r.record.Topic,
			"partition", r.record.Partition, "offset", r.record.Offset, "reason", r.reason, "detail", r.detail, "dlq", topic)
		if cfg.Metrics != nil {
			cfg.Metrics.rejected.WithLabelValues(r.record.Topic, r.reason).Inc()
		}
		copies[i] = deadLetterRecord(topic, r)
	}
	if err := cl.ProduceSync(ctx, copies...).FirstErr(); err != nil {
		return fmt.Errorf("copy %d rejected records to %s: %w", len(copies), topic, err)
	}
	return nil
}

// Prepare migrates cfg.Schema and claims it for cfg.Generation: a schema already holding the
// projection of another generation is ErrGenerationMismatch.
func Prepare(ctx context.Context, pool *pgxpool.Pool, cfg Config) error {
	cfg.defaults()
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer conn.Release()
	if _, err := migrations.Apply(ctx, conn.Conn(), cfg.Schema, cfg.Logger); err != nil {
		return err
	}
	info := pgx.Identifier{cfg.Schema, "projection_info"}.Sanitize()
	if _, err := conn.Exec(ctx, "INSERT INTO "+info+" (generation) VALUES ($1) ON CONFLICT DO NOTHING", cfg.Generation); err != nil {
		return fmt.Errorf("claim schema %s: %w", cfg.Schema, err)
	}
	var gen int
	if err := conn.QueryRow(ctx, "SELECT generation FROM "+info).Scan(&gen); err != nil {
		return fmt.Errorf("read the generation of schema %s: %w", cfg.Schema, err)
	}
	return checkGeneration(cfg, gen)
}

func checkGeneration(cfg Config, stored int) error {
	if stored == cfg.Generation {
		return nil
	}
	return fmt.Errorf("%w: schema %s projects generation %d's topics, this projector reads generation %d's; run it with --generation %d",
		ErrGenerationMismatch, cfg.Schema, stored, cfg.Generation, stored)
}

// StoredOffsets reads the positions stored with cfg.Consumer's rows in cfg.Schema.
func StoredOffsets(ctx context.Context, pool *pgxpool.Pool, cfg Config) (Offsets, error) {
	cfg.defaults()
	rows, err := pool.Query(ctx, "SELECT topic, partition, next_offset FROM "+pgx.Identifier{cfg.Schema, "projector_offsets"}.Sanitize()+
		" WHERE consumer = $1", cfg.Consumer)
	if err != nil {
		return nil, fmt.Errorf("read offsets: %w", err)
	}
	defer rows.Close()
	out := Offsets{}
	for rows.Next() {
		var topic string
		var p int32
		var next int64
		if err := rows.Scan(&topic, &p, &next); err != nil {
			return nil, fmt.Errorf("read offsets: %w", err)
		}
		if out[topic] == nil {
			out[topic] = map[int32]int64{}
		}
		out[topic][p] = next
	}
	return out, rows.Err()
}

// lockKey is the advisory lock that a projection's writers hold shared for each batch and a
// replay holds exclusively while it swaps a rebuilt schema in under the same name.
func lockKey(schema string) int64 {
	h := fnv.New64a()
	h.Write([]byte("telemetra.projection/" + schema))
	return int64(h.Sum64())
}

// LockForSwap takes the exclusive side of schema's projection lock in tx: once it returns, no
// projector batch is in flight in that schema and none starts until tx ends.
func LockForSwap(ctx context.Context, tx pgx.Tx, schema string) error {
	if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", lockKey(schema)); err != nil {
		return fmt.Errorf("lock projection %s: %w", schema, err)
	}
	return nil
}

type sessionKey struct{ channel, session string }

// write applies a decoded batch and the offsets of all its records, the rejected ones' too, in
// one transaction.
func write(ctx context.Context, pool *pgxpool.Pool, cfg Config, in decodedBatch) error {
	started := time.Now()
	tx, err := pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	// The shared lock first, before any name is resolved: a replay swapping the schema waits
	// for this batch, and this batch for the swap, which it then sees (names resolve after it).
	if _, err := tx.Exec(ctx, fmt.Sprintf("SELECT pg_advisory_xact_lock_shared(%d); SET LOCAL search_path TO %s",
		lockKey(cfg.Schema), pgx.Identifier{cfg.Schema}.Sanitize())); err != nil {
		return fmt.Errorf("lock and set search_path: %w", err)
	}
	b := &pgx.Batch{}
	b.Queue("SELECT generation FROM projection_info")
	next := map[string]map[int32]int64{}
	sessions := map[sessionKey]struct{}{}
	var lastEvents []time.Time
	momentsAt := map[sessionKey]time.Time{} // moments' channels and times, once each
	for _, r := range in.records {
		if next[r.Topic] == nil {
			next[r.Topic] = map[int32]int64{}
		}
		next[r.Topic][r.Partition] = r.Offset + 1
	}
	for _, a := range in.aggregates {
		if sid := a.GetStatus().GetSessionId(); sid != "" {
			sessions[sessionKey{a.GetChannel(), sid}] = struct{}{}
		}
		if t := a.GetLastEventTime(); t != nil {
			lastEvents = append(lastEvents, t.AsTime())
		}
	}
	for _, m := range in.moments {
		queueMoment(b, m)
		at := m.GetAt().AsTime()
		momentsAt[sessionKey{m.GetChannel(), at.String()}] = at
	}
	moments := len(in.moments)
	// each window and channel once, with the version its upserts would have ended with; the
	// late counts of corrections after them
	aggs, corrections := splitCorrections(in.aggregates)
	newest := newestWindows(aggs)
	windows := len(newest)
	windowChannels := make([]string, len(newest))
	windowStarts := make([]time.Time, len(newest))
	for i, a := range newest {
		if err := queueWindow(b, a); err != nil {
			return err
		}
		windowChannels[i], windowStarts[i] = a.GetChannel(), a.GetWindowStart().AsTime()
	}
	for _, a := range corrections {
		queueLateCorrection(b, a)
	}
	windows += len(corrections)
	for _, a := range newestStatuses(aggs) {
		queueChannel(b, a)
	}
	// a window re-emitted with another session (its first version was projected before the
	// stream's start was) leaves its old session: that one is recomputed too
	old, err := sessionsOf(ctx, tx, windowChannels, windowStarts)
	if err != nil {
		return err
	}
	for _, k := range old {
		sessions[k] = struct{}{}
	}
	for k := range sessions {
		b.Queue(refreshSession, k.channel, k.session)
		b.Queue(deleteEmptySession, k.channel, k.session)
	}
	for k, at := range momentsAt {
		b.Queue(recountSessionMoments, k.channel, at)
	}
	for topic, parts := range next {
		for p, off := range parts {
			b.Queue(saveOffset, cfg.Consumer, topic, p, off)
		}
	}
	br := tx.SendBatch(ctx, b)
	var gen int
	if err := br.QueryRow().Scan(&gen); err != nil {
		_ = br.Close() // the read error is the one to report
		return fmt.Errorf("read the generation of schema %s: %w", cfg.Schema, err)
	}
	if err := checkGeneration(cfg, gen); err != nil {
		_ = br.Close() // the mismatch is the one to report
		return err
	}
	if err := br.Close(); err != nil {
		return fmt.Errorf("write %d records: %w", len(in.records), err)
	}
	if cfg.beforeCommit != nil {
		if err := cfg.beforeCommit(); err != nil {
			return err
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("commit %d records: %w", len(in.records), err)
	}
	if m := cfg.Metrics; m != nil {
		m.rows.WithLabelValues("window_aggregates").Add(float64(windows))
		m.rows.WithLabelValues("moments").Add(float64(moments))
		m.batch.Observe(time.Since(started).Seconds())
		now := cfg.Now()
		var newest time.Time
		for _, t := range lastEvents {
			m.freshness.Observe(now.Sub(t).Seconds())
			if t.After(newest) {
				newest = t
			}
		}
		if !newest.IsZero() {
			m.wallClockLag.Set(now.Sub(newest).Seconds())
		}
	}
	return nil
}

// sessionsOf returns the sessions the given windows belong to now.
func sessionsOf(ctx context.Context, tx pgx.Tx, channels []string, starts []time.Time) ([]sessionKey, error) {
	if len(channels) == 0 {
		return nil, nil
	}
	rows, err := tx.Query(ctx, sessionsOfWindows, channels, starts)
	if err != nil {
		return nil, fmt.Errorf("read the sessions of %d windows: %w", len(channels), err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (sessionKey, error) {
		var k sessionKey
		err := r.Scan(&k.channel, &k.session)
		return k, err
	})
}

// errStop marks errors that must end Run instead of being retried.
var errStop = errors.New("stop")

// retry runs fn until it succeeds or ctx ends, backing off exponentially and logging each
// failure: the batch is never skipped.
func retry(ctx context.Context, cfg Config, what string, fn func() error) error {
	wait := cfg.RetryMin
	for attempt := 1; ; attempt++ {
		err := fn()
		if err == nil {
			if attempt > 1 {
				cfg.Logger.Info("PostgreSQL is back", "what", what, "attempts", attempt)
			}
			return nil
		}
		if errors.Is(err, errStop) || errors.Is(err, ErrGenerationMismatch) || ctx.Err() != nil {
			return err
		}
		cfg.Logger.Warn("PostgreSQL operation failed; retrying", "what", what, "attempt", attempt, "retry_in", wait, "err", err)
		if cfg.Metrics != nil {
			cfg.Metrics.retries.Inc()
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
		wait = min(2*wait, cfg.RetryMax)
	}
}

// Metrics are the projector's Prometheus metrics.
type Metrics struct {
	rows      *prometheus.CounterVec
	batch     prometheus.Histogram
	lag       *prometheus.GaugeVec
	freshness prometheus.Histogram
	// wallClockLag is how far behind the wall clock the projection is, like Materialize's
	// wall-clock lag: commit time minus the newest event time committed.
	wallClockLag prometheus.Gauge
	retries      prometheus.Counter
	// rejected counts records that never became rows (dead-lettered), by topic and reason.
	rejected *prometheus.CounterVec
}

// NewMetrics registers the projector's metrics on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		rows: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "telemetra_projector_rows_written_total", Help: "Rows upserted, by table.",
		}, []string{"table"}),
		batch: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "telemetra_projector_batch_seconds", Help: "Time to write and commit one batch.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 14),
		}),
		lag: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "telemetra_projector_lag_records", Help: "Records not yet projected, per topic partition.",
		}, []string{"topic", "partition"}),
		freshness: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "telemetra_projector_event_to_row_seconds", Help: "Commit time of a window row minus the event time of its latest event.",
			Buckets: prometheus.ExponentialBuckets(0.05, 2, 16),
		}),
		wallClockLag: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "telemetra_projector_wall_clock_lag_seconds", Help: "At the last commit: commit time minus the newest event time it made queryable.",
		}),
		retries: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "telemetra_projector_retries_total", Help: "Failed PostgreSQL operations that were retried.",
		}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "telemetra_projector_records_rejected_total",
			Help: "Records of the projected topics that did not become rows (copied to the projector's dead-letter topic), by topic and reason.",
		}, []string{"topic", "reason"}),
	}
	reg.MustRegister(m.rows, m.batch, m.lag, m.freshness, m.wallClockLag, m.retries, m.rejected)
	return m
}
