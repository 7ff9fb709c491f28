package projector

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/telemetra/telemetra/internal/kafka"
	"github.com/telemetra/telemetra/migrations"
	pb "github.com/telemetra/telemetra/proto/telemetra/v1"
)

// Config configures a projector.
type Config struct {
	Brokers     []string
	DatabaseURL string
	// Schema receives the rows (a shadow schema for replays); migrated on start.
	Schema string
	// Consumer names this projection's offsets in projector_offsets and the Kafka consumer
	// group its instances share (the group commits nothing: the positions are the offsets).
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
	// Metrics default to metrics registered nowhere.
	Metrics *Metrics
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
	if c.Metrics == nil {
		c.Metrics = NewMetrics(nil)
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

// Run projects until ctx ends, as a member of the consumer group cfg.Consumer: any number of
// instances share the topics' partitions, each resuming a partition assigned to it from the
// offset stored in PostgreSQL with the rows. PostgreSQL being down makes it wait and retry the
// same batch, never skip it.
func Run(ctx context.Context, cfg Config) error {
	cfg.defaults()
	// the cluster first (it may still be starting), and the projector may start before any
	// processor created its output topics
	startup := []kafka.AdminOption{kafka.WithStartupTimeout(max(cfg.StartupTimeout, 0)), kafka.WithLogger(cfg.Logger),
		kafka.WithPartitionsOfInputs()}
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

	if err := retry(ctx, cfg, "prepare the database", func() error { return Prepare(ctx, pool, cfg) }); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	member := groupMember{cfg: cfg, pool: pool}
	cl, err := kgo.NewClient(append(append(kafka.DurableWrites(), kgo.SeedBrokers(cfg.Brokers...), kgo.ClientID(cfg.Consumer),
		kgo.RecordPartitioner(kafka.GokaPartitioner())), member.opts()...)...)
	if err != nil {
		return fmt.Errorf("kafka client: %w", err)
	}
	// leaves the group, after the batch in flight (if any) was given up: the next owner reads
	// the position of the last committed one
	defer cl.CloseAllowingRebalance()
	cfg.Logger.Info("projector running", "consumer", cfg.Consumer, "schema", cfg.Schema, "generation", cfg.Generation)

	for {
		fetches := cl.PollRecords(ctx, cfg.BatchSize)
		if ctx.Err() != nil {
			return nil
		}
		if err := projectFetches(ctx, cl, pool, cfg, fetches); err != nil {
			if ctx.Err() != nil {
				return nil // shutting down: the batch was not committed and is read again by the next owner
			}
			return err
		}
		// the batch is committed: its partitions may move now (BlockRebalanceOnPoll)
		cl.AllowRebalance()
	}
}

// projectFetches projects one poll's records and sets the lag of their partitions.
func projectFetches(ctx context.Context, cl *kgo.Client, pool *pgxpool.Pool, cfg Config, fetches kgo.Fetches) error {
	fetches.EachError(func(topic string, p int32, err error) {
		cfg.Logger.Warn("fetch failed; retrying", "topic", topic, "partition", p, "err", err)
	})
	records := fetches.Records()
	if len(records) == 0 {
		return nil
	}
	fetches.EachPartition(func(p kgo.FetchTopicPartition) {
		if n := len(p.Records); n > 0 {
			lag := p.HighWatermark - (p.Records[n-1].Offset + 1)
			cfg.Metrics.lag.WithLabelValues(p.Topic, fmt.Sprint(p.Partition)).Set(float64(lag))
		}
	})
	return project(ctx, cl, pool, cfg, records)
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
		cfg.Metrics.rejected.WithLabelValues(r.record.Topic, r.reason).Inc()
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
// one transaction. Records below their partition's stored offset were projected already and
// are left out (fence.go): with the offset rows locked, each record is projected once however
// many instances hold it.
func write(ctx context.Context, pool *pgxpool.Pool, cfg Config, in decodedBatch) error {
	started := time.Now()
	tx, err := pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	if err := lockShared(ctx, tx, cfg.Schema); err != nil {
		return err
	}
	stored, err := lockOffsets(ctx, tx, cfg.Consumer, partitionsOf(in.records))
	if err != nil {
		return err
	}
	kept, skipped := unprojected(in.records, stored)
	if len(skipped) > 0 {
		// decodeBatch is pure: decoding the rest again is planning from them alone. Their
		// rejected records were dead-lettered with the batch already (at least once).
		in = decodeBatch(kafka.OutputsFor(cfg.Generation), kept)
	}
	if len(in.records) == 0 {
		reportSkipped(cfg, skipped, stored)
		return nil // nothing left to write; the rollback releases the locks
	}
	if err := lockChannels(ctx, tx, cfg.Schema, in); err != nil {
		return err
	}
	plan := planBatch(in)
	if err := plan.addMovedSessions(ctx, tx); err != nil {
		return err
	}
	if err := plan.stage(ctx, tx); err != nil {
		return err
	}
	if err := sendBatch(ctx, tx, cfg, plan.queue(cfg.Consumer), len(in.records)); err != nil {
		return err
	}
	if err := commit(ctx, tx, cfg, len(in.records)); err != nil {
		return err
	}
	cfg.Metrics.observeBatch(plan, time.Since(started), cfg.Now)
	reportSkipped(cfg, skipped, stored)
	return nil
}

// lockShared holds schema's projection lock shared for tx and resolves names in schema.
func lockShared(ctx context.Context, tx pgx.Tx, schema string) error {
	// The shared lock first, before any name is resolved: a replay swapping the schema waits
	// for this batch, and this batch for the swap, which it then sees (names resolve after it).
	if _, err := tx.Exec(ctx, fmt.Sprintf("SELECT pg_advisory_xact_lock_shared(%d); SET LOCAL search_path TO %s; %s",
		lockKey(schema), pgx.Identifier{schema}.Sanitize(), createStages)); err != nil {
		return fmt.Errorf("lock and set search_path: %w", err)
	}
	return nil
}

// createStages creates the connection's staging tables of the set-based upserts (rows.go) the
// first time a transaction needs them.
var createStages = strings.Join([]string{
	momentUpsert.table.CreateStage(), windowUpsert.table.CreateStage(), channelUpsert.table.CreateStage(),
}, "; ")

// batchPlan is what a decoded batch writes: each window and channel once, with the version its
// upserts would have ended with, the sessions to recompute and the offsets to store.
type batchPlan struct {
	next        map[string]map[int32]int64 // topic → partition → next offset to read
	moments     []*pb.Moment
	momentsAt   map[sessionKey]time.Time // moments' channels and times, once each
	windows     []*pb.WindowAggregate
	corrections []*pb.WindowAggregate // their late counts apply after the windows
	statuses    []*pb.WindowAggregate
	sessions    map[sessionKey]struct{}
	lastEvents  []time.Time // of the aggregates, for the freshness metrics
}

// planBatch sorts a decoded batch into the rows, sessions and offsets it writes.
func planBatch(in decodedBatch) *batchPlan {
	p := &batchPlan{
		next:      map[string]map[int32]int64{},
		moments:   distinctMoments(in.moments),
		momentsAt: map[sessionKey]time.Time{},
		sessions:  map[sessionKey]struct{}{},
	}
	for _, r := range in.records {
		if p.next[r.Topic] == nil {
			p.next[r.Topic] = map[int32]int64{}
		}
		p.next[r.Topic][r.Partition] = r.Offset + 1
	}
	for _, a := range in.aggregates {
		if sid := a.GetStatus().GetSessionId(); sid != "" {
			p.sessions[sessionKey{a.GetChannel(), sid}] = struct{}{}
		}
		if t := a.GetLastEventTime(); t != nil {
			p.lastEvents = append(p.lastEvents, t.AsTime())
		}
	}
	for _, m := range in.moments {
		at := m.GetAt().AsTime()
		p.momentsAt[sessionKey{m.GetChannel(), at.String()}] = at
	}
	aggs, corrections := splitCorrections(in.aggregates)
	p.windows, p.corrections, p.statuses = newestWindows(aggs), corrections, newestStatuses(aggs)
	return p
}

// addMovedSessions adds the sessions that the plan's windows belong to before the batch.
func (p *batchPlan) addMovedSessions(ctx context.Context, tx pgx.Tx) error {
	// a window re-emitted with another session (its first version was projected before the
	// stream's start was) leaves its old session: that one is recomputed too
	channels := make([]string, len(p.windows))
	starts := make([]time.Time, len(p.windows))
	for i, a := range p.windows {
		channels[i], starts[i] = a.GetChannel(), a.GetWindowStart().AsTime()
	}
	old, err := sessionsOf(ctx, tx, channels, starts)
	if err != nil {
		return err
	}
	for _, k := range old {
		p.sessions[k] = struct{}{}
	}
	return nil
}

// stage copies the plan's moments, windows and channel statuses into their staging tables, for
// the set-based upserts that queue queues.
func (p *batchPlan) stage(ctx context.Context, tx pgx.Tx) error {
	if err := momentUpsert.stage(ctx, tx, p.moments); err != nil {
		return err
	}
	if err := windowUpsert.stage(ctx, tx, p.windows); err != nil {
		return err
	}
	return channelUpsert.stage(ctx, tx, p.statuses)
}

// queue returns the plan's statements, after stage: the generation check first, consumer's
// offsets last. Each kind of row is one statement, so a batch costs about the same number of
// statements whatever its size.
func (p *batchPlan) queue(consumer string) *pgx.Batch {
	b := &pgx.Batch{}
	b.Queue("SELECT generation FROM projection_info")
	momentUpsert.queueStaged(b, len(p.moments))
	windowUpsert.queueStaged(b, len(p.windows))
	for _, a := range p.corrections {
		queueLateCorrection(b, a)
	}
	channelUpsert.queueStaged(b, len(p.statuses))
	if len(p.sessions) > 0 {
		channels, sessions := make([]string, 0, len(p.sessions)), make([]string, 0, len(p.sessions))
		for k := range p.sessions {
			channels, sessions = append(channels, k.channel), append(sessions, k.session)
		}
		b.Queue(refreshSessions, channels, sessions)
		b.Queue(refreshOpenSessionsBefore, channels, sessions)
		b.Queue(deleteEmptySessions, channels, sessions)
	}
	if channels, hours := p.hours(); len(channels) > 0 {
		b.Queue(refreshChannelHours, channels, hours)
	}
	if len(p.momentsAt) > 0 {
		channels, times := make([]string, 0, len(p.momentsAt)), make([]time.Time, 0, len(p.momentsAt))
		for k, at := range p.momentsAt {
			channels, times = append(channels, k.channel), append(times, at)
		}
		b.Queue(recountSessionMoments, channels, times)
	}
	for topic, parts := range p.next {
		for part, off := range parts {
			offsetUpsert.queue(b, offsetRow{consumer, topic, part, off})
		}
	}
	return b
}

// refreshChannelHours recomputes the hourly roll-up of the (channel, hour) pairs $1, $2 from
// their windows and moments, after both are written (migrations/0005_channel_hours.sql).
const refreshChannelHours = `SELECT refresh_channel_hours($1::text[], $2::timestamptz[])`

// hours are the UTC hours the plan's windows start in and its moments are at, each pair once.
func (p *batchPlan) hours() ([]string, []time.Time) {
	seen := map[sessionKey]time.Time{}
	add := func(channel string, t time.Time) {
		h := t.UTC().Truncate(time.Hour)
		seen[sessionKey{channel, h.String()}] = h
	}
	for _, a := range p.windows {
		add(a.GetChannel(), a.GetWindowStart().AsTime())
	}
	for _, m := range p.moments {
		add(m.GetChannel(), m.GetAt().AsTime())
	}
	channels, hours := make([]string, 0, len(seen)), make([]time.Time, 0, len(seen))
	for k, h := range seen {
		channels, hours = append(channels, k.channel), append(hours, h)
	}
	return channels, hours
}

// sendBatch runs b in tx and checks that the schema still projects cfg.Generation.
func sendBatch(ctx context.Context, tx pgx.Tx, cfg Config, b *pgx.Batch, records int) error {
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
		return fmt.Errorf("write %d records: %w", records, err)
	}
	return nil
}

// commit commits tx, with the rows and the offsets of the batch's records.
func commit(ctx context.Context, tx pgx.Tx, cfg Config, records int) error {
	if cfg.beforeCommit != nil {
		if err := cfg.beforeCommit(); err != nil {
			return err
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("commit %d records: %w", records, err)
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
		cfg.Metrics.retries.Inc()
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
	// skipped counts records a batch left out because they were projected already, by reason
	// (skipProjectedAlready).
	skipped *prometheus.CounterVec
}

// NewMetrics registers the projector's metrics on reg; with a nil reg they are registered
// nowhere.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	f := promauto.With(reg)
	return &Metrics{
		rows: f.NewCounterVec(prometheus.CounterOpts{
			Name: "telemetra_projector_rows_written_total", Help: "Rows upserted, by table.",
		}, []string{"table"}),
		batch: f.NewHistogram(prometheus.HistogramOpts{
			Name: "telemetra_projector_batch_seconds", Help: "Time to write and commit one batch.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 14),
		}),
		lag: f.NewGaugeVec(prometheus.GaugeOpts{
			Name: "telemetra_projector_lag_records", Help: "Records not yet projected, per topic partition.",
		}, []string{"topic", "partition"}),
		freshness: f.NewHistogram(prometheus.HistogramOpts{
			Name: "telemetra_projector_event_to_row_seconds", Help: "Commit time of a window row minus the event time of its latest event.",
			Buckets: prometheus.ExponentialBuckets(0.05, 2, 16),
		}),
		wallClockLag: f.NewGauge(prometheus.GaugeOpts{
			Name: "telemetra_projector_wall_clock_lag_seconds", Help: "At the last commit: commit time minus the newest event time it made queryable.",
		}),
		retries: f.NewCounter(prometheus.CounterOpts{
			Name: "telemetra_projector_retries_total", Help: "Failed PostgreSQL operations that were retried.",
		}),
		rejected: f.NewCounterVec(prometheus.CounterOpts{
			Name: "telemetra_projector_records_rejected_total",
			Help: "Records of the projected topics that did not become rows (copied to the projector's dead-letter topic), by topic and reason.",
		}, []string{"topic", "reason"}),
		skipped: f.NewCounterVec(prometheus.CounterOpts{
			Name: "telemetra_projector_records_skipped_total",
			Help: "Records a batch did not write because they were projected already (below their partition's stored offset: by another instance, or before a rebalance), by reason.",
		}, []string{"reason"}),
	}
}

// observeBatch records a committed batch of plan, written in took.
func (m *Metrics) observeBatch(p *batchPlan, took time.Duration, now func() time.Time) {
	m.rows.WithLabelValues("window_aggregates").Add(float64(len(p.windows) + len(p.corrections)))
	m.rows.WithLabelValues("moments").Add(float64(len(p.moments)))
	m.batch.Observe(took.Seconds())
	at := now()
	var newest time.Time
	for _, t := range p.lastEvents {
		m.freshness.Observe(at.Sub(t).Seconds())
		if t.After(newest) {
			newest = t
		}
	}
	if !newest.IsZero() {
		m.wallClockLag.Set(at.Sub(newest).Seconds())
	}
}
