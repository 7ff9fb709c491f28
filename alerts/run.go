package alerts

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/telemetra/telemetra/internal/kafka"
	"github.com/telemetra/telemetra/migrations"
)

// Config configures the alert role.
type Config struct {
	Brokers     []string
	DatabaseURL string
	// Schema holds the alerting tables (migrations.ApplyAlerts, applied on start).
	Schema string
	// Generation selects the processor generation whose moments topic is read.
	Generation int
	// Consumer is the Kafka consumer group the role's instances share (it commits nothing to
	// Kafka: the positions are in alert_offsets).
	Consumer string
	// MaxAttempts is how many attempts a delivery gets before it is dead-lettered.
	MaxAttempts int
	// MaxPending bounds a subscription's pending deliveries: past it, a new one is stored
	// dead-lettered ("queue full").
	MaxPending int
	// MaxMomentAge: moments whose event time is older than this (processing time) are not
	// alerted. Zero: 15 minutes; negative: no limit.
	MaxMomentAge time.Duration
	// AttemptTimeout bounds one attempt, from connecting to the status line.
	AttemptTimeout time.Duration
	Backoff        Backoff
	// PollInterval is how often the sender looks for due deliveries (the consumer also wakes
	// it when it queues some).
	PollInterval time.Duration
	// SubscriptionRefresh is how often the live subscriptions are read again.
	SubscriptionRefresh time.Duration
	// BatchSize is the most moments read and queued in one transaction.
	BatchSize int
	// StartupTimeout bounds the retries of a Kafka cluster still starting (zero:
	// kafka.DefaultStartupTimeout; negative: fail at the first error).
	StartupTimeout time.Duration
	Now            func() time.Time
	// Random is the jitter's source, in [0, 1).
	Random  func() float64
	Logger  *slog.Logger
	Metrics *Metrics
	// beforeCommit, for tests, runs in a batch's transaction after its deliveries were written.
	beforeCommit func() error
}

// Defaults of Config (and of the role's flags).
const (
	DefaultMaxAttempts    = 8
	DefaultMaxPending     = 1000
	DefaultMaxMomentAge   = 15 * time.Minute
	DefaultAttemptTimeout = 10 * time.Second
	DefaultConsumer       = "telemetra-alert"
)

func (c *Config) defaults() {
	if c.Schema == "" {
		c.Schema = migrations.DefaultAlertsSchema
	}
	if c.Generation <= 0 {
		c.Generation = 1
	}
	if c.Consumer == "" {
		c.Consumer = DefaultConsumer
	}
	if c.MaxAttempts <= 0 {
		c.MaxAttempts = DefaultMaxAttempts
	}
	if c.MaxPending <= 0 {
		c.MaxPending = DefaultMaxPending
	}
	if c.MaxMomentAge == 0 {
		c.MaxMomentAge = DefaultMaxMomentAge
	}
	if c.AttemptTimeout <= 0 {
		c.AttemptTimeout = DefaultAttemptTimeout
	}
	if c.Backoff == (Backoff{}) {
		c.Backoff = DefaultBackoff
	}
	if c.PollInterval <= 0 {
		c.PollInterval = 250 * time.Millisecond
	}
	if c.SubscriptionRefresh <= 0 {
		c.SubscriptionRefresh = 2 * time.Second
	}
	if c.BatchSize <= 0 {
		c.BatchSize = 500
	}
	if c.StartupTimeout == 0 {
		c.StartupTimeout = kafka.DefaultStartupTimeout
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Random == nil {
		c.Random = rand.Float64
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Metrics == nil {
		c.Metrics = NewMetrics(nil)
	}
}

// lease is how long a claimed delivery stays invisible to other instances: an attempt's
// timeout and the time to record it, with room to spare.
func (c *Config) lease() time.Duration { return c.AttemptTimeout + 30*time.Second }

// Run runs the alert role until ctx ends: it migrates the alerting schema, then queues the
// deliveries of the moments it reads (consumer.go) and sends them (sender.go). Any number of
// instances may run with the same Consumer: Kafka splits the moments topic's partitions among
// them, and a delivery is claimed by one instance at a time.
func Run(ctx context.Context, cfg Config) error {
	cfg.defaults()
	topics := append(kafka.AllTopics(), kafka.OutputsFor(cfg.Generation).Specs()...)
	if err := kafka.EnsureTopics(ctx, cfg.Brokers, topics, kafka.WithStartupTimeout(max(cfg.StartupTimeout, 0)),
		kafka.WithLogger(cfg.Logger), kafka.WithPartitionsOfInputs()); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	st, err := openStore(ctx, cfg.DatabaseURL, cfg.Schema)
	if err != nil {
		return err
	}
	defer st.close()
	if err := retry(ctx, cfg, "migrate the alerting schema", func() error { return migrate(ctx, st, cfg) }); err != nil {
		return ignoreStopped(ctx, err)
	}
	subs := &subscriptions{}
	if err := retry(ctx, cfg, "read the subscriptions", func() error { return subs.refresh(ctx, st) }); err != nil {
		return ignoreStopped(ctx, err)
	}
	cfg.Logger.Info("alert role running", "consumer", cfg.Consumer, "schema", cfg.Schema, "generation", cfg.Generation,
		"subscriptions", len(subs.get()), "max_attempts", cfg.MaxAttempts, "max_pending", cfg.MaxPending, "max_moment_age", cfg.MaxMomentAge)
	snd := newSender(cfg, st, subs)
	grp, gctx := errgroup.WithContext(ctx)
	grp.Go(func() error { refreshPeriodically(gctx, cfg, st, subs); return nil })
	grp.Go(func() error { return consume(gctx, cfg, st, subs, snd.wake) })
	grp.Go(func() error { snd.run(gctx); return nil })
	return ignoreStopped(ctx, grp.Wait())
}

func migrate(ctx context.Context, st *store, cfg Config) error {
	conn, err := st.pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer conn.Release()
	_, err = migrations.ApplyAlerts(ctx, conn.Conn(), cfg.Schema, cfg.Logger)
	return err
}

func ignoreStopped(ctx context.Context, err error) error {
	if ctx.Err() != nil && (err == nil || errors.Is(err, context.Canceled)) {
		return nil
	}
	return err
}

// subscriptions is the cache of the live subscriptions, read again every SubscriptionRefresh: a
// new subscription matches moments within seconds, and no batch waits for a query of them.
type subscriptions struct {
	mu   sync.RWMutex
	live []Subscription
}

func (s *subscriptions) get() []Subscription {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.live
}

func (s *subscriptions) refresh(ctx context.Context, st *store) error {
	live, err := st.liveSubscriptions(ctx)
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.live = live
	s.mu.Unlock()
	return nil
}

func refreshPeriodically(ctx context.Context, cfg Config, st *store, subs *subscriptions) {
	t := time.NewTicker(cfg.SubscriptionRefresh)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := subs.refresh(ctx, st); err != nil && ctx.Err() == nil {
				cfg.Logger.Warn("read the subscriptions; keeping the last ones", "err", err)
			}
		}
	}
}

// retry runs fn until it succeeds or ctx ends, backing off (100 ms doubling to 10 s) while
// PostgreSQL is unreachable: a batch is never skipped.
func retry(ctx context.Context, cfg Config, what string, fn func() error) error {
	wait := 100 * time.Millisecond
	for n := 1; ; n++ {
		err := fn()
		if err == nil || ctx.Err() != nil {
			return err
		}
		cfg.Logger.Warn("PostgreSQL operation failed; retrying", "what", what, "attempt", n, "retry_in", wait, "err", err)
		cfg.Metrics.retries.Inc()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
		wait = min(2*wait, 10*time.Second)
	}
}
