package kafka

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"time"
)

// AdminOption configures the admin calls: EnsureTopics, CreateMissingTopics, PartitionCount
// and DescribeTopics.
type AdminOption interface{ applyAdmin(*adminConfig) }

// Option configures both the embedded broker and the admin calls (WithLogger).
type Option interface {
	EmbeddedOption
	AdminOption
}

// DefaultStartupTimeout is how long the admin calls retry a cluster that is still starting
// unless WithStartupTimeout says otherwise.
const DefaultStartupTimeout = 60 * time.Second

type adminConfig struct {
	startupTimeout time.Duration
	logger         *slog.Logger
	// replicationFactor and minInsyncReplicas of the topics created: -1 and 0 leave them to
	// the brokers' defaults (default.replication.factor, min.insync.replicas)
	replicationFactor int16
	minInsyncReplicas int
	// partitionsOfInputs: topics created where the input topics exist get their count
	partitionsOfInputs bool
	// injected so the retry tests run without sleeping
	now    func() time.Time
	sleep  func(context.Context, time.Duration) error
	jitter func() float64 // in [0, 1)
}

func newAdminConfig(opts []AdminOption) adminConfig {
	c := adminConfig{
		startupTimeout:    DefaultStartupTimeout,
		logger:            slog.Default(),
		replicationFactor: -1,
		now:               time.Now,
		sleep:             sleepCtx,
		jitter:            rand.Float64,
	}
	for _, o := range opts {
		o.applyAdmin(&c)
	}
	if c.logger == nil {
		c.logger = slog.Default()
	}
	return c
}

type adminOpt func(*adminConfig)

func (o adminOpt) applyAdmin(c *adminConfig) { o(c) }

// WithStartupTimeout sets how long the admin calls retry transient errors of a cluster that is
// still starting (no controller yet, broker not registered, connection refused) before they
// give up; 0 or less fails at the first error. The default is DefaultStartupTimeout.
func WithStartupTimeout(d time.Duration) AdminOption {
	return adminOpt(func(c *adminConfig) { c.startupTimeout = max(d, 0) })
}

// WithReplication makes CreateMissingTopics create topics with factor replicas and, when
// minInsync is positive, min.insync.replicas set to it: with the producers' acks=all, a write
// then succeeds only once minInsync replicas have it, so a lost broker loses none. The
// defaults, factor -1 and minInsync 0, leave both to the brokers' configuration.
func WithReplication(factor int16, minInsync int) AdminOption {
	return adminOpt(func(c *adminConfig) { c.replicationFactor, c.minInsyncReplicas = factor, minInsync })
}

// WithPartitionsOfInputs makes CreateMissingTopics create each missing topic with the
// partition count of the input topics when they exist already, whatever its spec says: a role
// that starts on a cluster set up with `telemetra topics create --partitions 12` must not add
// 3-partition outputs beside 12-partition inputs. On a cluster without the input topics, the
// specs' counts apply.
func WithPartitionsOfInputs() AdminOption {
	return adminOpt(func(c *adminConfig) { c.partitionsOfInputs = true })
}

type loggerOpt struct{ l *slog.Logger }

func (o loggerOpt) applyEmbedded(c *embeddedConfig) { c.logger = o.l }
func (o loggerOpt) applyAdmin(c *adminConfig)       { c.logger = o.l }

// WithLogger sets the logger for the embedded broker's lifecycle messages and for the admin
// calls' retries (default: slog.Default()).
func WithLogger(l *slog.Logger) Option { return loggerOpt{l} }

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
