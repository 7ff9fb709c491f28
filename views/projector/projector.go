package projector

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/proto"

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
	// Consumer names this projection's offsets in projector_offsets.
	Consumer string
	// BatchSize is the most records written in one transaction.
	BatchSize int
	// RetryMin and RetryMax bound the backoff while PostgreSQL is unreachable.
	RetryMin, RetryMax time.Duration
	Now                func() time.Time
	Logger             *slog.Logger
	Metrics            *Metrics
	// beforeCommit, for tests, runs inside a batch's transaction after its rows were written.
	beforeCommit func() error
}

func (c *Config) defaults() {
	if c.Schema == "" {
		c.Schema = "public"
	}
	if c.Consumer == "" {
		c.Consumer = "telemetra-projector"
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

// Topics the projector reads.
func Topics() []string { return []string{kafka.TopicAggregates, kafka.TopicMoments} }

// Run projects until ctx ends. It resumes from the offsets stored in PostgreSQL; PostgreSQL
// being down makes it wait and retry the same batch, never skip it.
func Run(ctx context.Context, cfg Config) error {
	cfg.defaults()
	pool, err := pgxpool.New(ctx, cfg.DatabaseURL)
	if err != nil {
		return fmt.Errorf("database config: %w", err)
	}
	defer pool.Close()

	var offsets map[string]map[int32]kgo.Offset
	if err := retry(ctx, cfg, "prepare the database", func() error {
		var err error
		offsets, err = prepare(ctx, pool, cfg)
		return err
	}); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	for _, topic := range Topics() {
		n, err := kafka.PartitionCount(ctx, cfg.Brokers, topic)
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
		kgo.ClientID(cfg.Consumer))
	if err != nil {
		return fmt.Errorf("kafka client: %w", err)
	}
	defer cl.Close()
	cfg.Logger.Info("projector running", "consumer", cfg.Consumer, "schema", cfg.Schema)

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
		if err := retry(ctx, cfg, "write a batch", func() error { return write(ctx, pool, cfg, records) }); err != nil {
			if ctx.Err() != nil {
				return nil // shutting down: the batch was not committed and is read again on start
			}
			return err
		}
	}
}

// prepare migrates the schema and reads the stored offsets.
func prepare(ctx context.Context, pool *pgxpool.Pool, cfg Config) (map[string]map[int32]kgo.Offset, error) {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	defer conn.Release()
	if _, err := migrations.Apply(ctx, conn.Conn(), cfg.Schema, cfg.Logger); err != nil {
		return nil, err
	}
	rows, err := conn.Query(ctx, "SELECT topic, partition, next_offset FROM "+pgx.Identifier{cfg.Schema, "projector_offsets"}.Sanitize()+
		" WHERE consumer = $1", cfg.Consumer)
	if err != nil {
		return nil, fmt.Errorf("read offsets: %w", err)
	}
	defer rows.Close()
	out := map[string]map[int32]kgo.Offset{}
	for rows.Next() {
		var topic string
		var p int32
		var next int64
		if err := rows.Scan(&topic, &p, &next); err != nil {
			return nil, fmt.Errorf("read offsets: %w", err)
		}
		if out[topic] == nil {
			out[topic] = map[int32]kgo.Offset{}
		}
		out[topic][p] = kgo.NewOffset().At(next)
	}
	return out, rows.Err()
}

type sessionKey struct{ channel, session string }

// write applies a batch of records and their offsets in one transaction.
func write(ctx context.Context, pool *pgxpool.Pool, cfg Config, records []*kgo.Record) error {
	started := time.Now()
	tx, err := pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	if _, err := tx.Exec(ctx, "SET LOCAL search_path TO "+pgx.Identifier{cfg.Schema}.Sanitize()); err != nil {
		return fmt.Errorf("set search_path: %w", err)
	}
	b := &pgx.Batch{}
	next := map[string]map[int32]int64{}
	sessions := map[sessionKey]struct{}{}
	var windows, moments int
	var lastEvents []time.Time
	for _, r := range records {
		if next[r.Topic] == nil {
			next[r.Topic] = map[int32]int64{}
		}
		next[r.Topic][r.Partition] = r.Offset + 1
		switch r.Topic {
		case kafka.TopicAggregates:
			a := new(pb.WindowAggregate)
			if err := proto.Unmarshal(r.Value, a); err != nil {
				cfg.Logger.Error("undecodable aggregate skipped", "partition", r.Partition, "offset", r.Offset, "err", err)
				continue
			}
			if err := queueWindow(b, a); err != nil {
				return err
			}
			queueChannel(b, a)
			if sid := a.GetStatus().GetSessionId(); sid != "" {
				sessions[sessionKey{a.GetChannel(), sid}] = struct{}{}
			}
			if t := a.GetLastEventTime(); t != nil {
				lastEvents = append(lastEvents, t.AsTime())
			}
			windows++
		case kafka.TopicMoments:
			m := new(pb.Moment)
			if err := proto.Unmarshal(r.Value, m); err != nil {
				cfg.Logger.Error("undecodable moment skipped", "partition", r.Partition, "offset", r.Offset, "err", err)
				continue
			}
			queueMoment(b, m)
			moments++
		}
	}
	for k := range sessions {
		b.Queue(refreshSession, k.channel, k.session)
	}
	for topic, parts := range next {
		for p, off := range parts {
			b.Queue(saveOffset, cfg.Consumer, topic, p, off)
		}
	}
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("write %d records: %w", len(records), err)
	}
	if cfg.beforeCommit != nil {
		if err := cfg.beforeCommit(); err != nil {
			return err
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("commit %d records: %w", len(records), err)
	}
	if m := cfg.Metrics; m != nil {
		m.rows.WithLabelValues("window_aggregates").Add(float64(windows))
		m.rows.WithLabelValues("moments").Add(float64(moments))
		m.batch.Observe(time.Since(started).Seconds())
		now := cfg.Now()
		for _, t := range lastEvents {
			m.freshness.Observe(now.Sub(t).Seconds())
		}
	}
	return nil
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
		if errors.Is(err, errStop) || ctx.Err() != nil {
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
	retries   prometheus.Counter
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
		retries: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "telemetra_projector_retries_total", Help: "Failed PostgreSQL operations that were retried.",
		}),
	}
	reg.MustRegister(m.rows, m.batch, m.lag, m.freshness, m.retries)
	return m
}
