package kafka

import (
	"context"
	"errors"
	"fmt"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Backoff between attempts: doubling from minBackoff up to maxBackoff, each ±20% at random so
// roles starting together do not hit the cluster in step.
const (
	minBackoff = 100 * time.Millisecond
	maxBackoff = 5 * time.Second
)

// startingErrors are what a cluster answers while it is still starting: a broker that has not
// registered with the controller yet cannot place a topic's replicas (INVALID_REPLICATION_FACTOR
// with the broker default of -1), and there may be no controller, coordinator or leader yet.
var startingErrors = []error{
	kerr.InvalidReplicationFactor,
	kerr.NotController,
	kerr.CoordinatorNotAvailable,
	kerr.LeaderNotAvailable,
	kerr.BrokerNotAvailable,
	kerr.RequestTimedOut,
}

// transient reports whether err is worth retrying while the cluster starts. Everything else
// (invalid partitions, authorization, a bad config, a topic that does not exist) fails at once.
func transient(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false // the caller's own deadline, not the cluster's state
	}
	for _, e := range startingErrors {
		if errors.Is(err, e) {
			return true
		}
	}
	// kgo fails a refused dial at once (to catch a typo'd address), but a broker that is still
	// starting refuses connections too
	if errors.Is(err, syscall.ECONNREFUSED) {
		return true
	}
	// connection resets, EOFs, an unknown controller: what kgo itself would retry
	return kgo.IsRetryableBrokerErr(err)
}

// backoff is the wait after the given failed attempt (1-based); jitter is in [0, 1).
func backoff(attempt int, jitter float64) time.Duration {
	d := maxBackoff
	if attempt < 16 { // 100ms << 15 is far beyond maxBackoff already
		d = min(minBackoff<<max(attempt-1, 0), maxBackoff)
	}
	return min(time.Duration(float64(d)*(0.8+0.4*jitter)), maxBackoff)
}

// retrier retries operations against a starting cluster within one budget: the startup timeout
// counts from the start of the admin call, however many operations it makes.
type retrier struct {
	cfg   adminConfig
	start time.Time
}

func (c adminConfig) retrier() *retrier { return &retrier{cfg: c, start: c.now()} }

// do runs op until it succeeds, fails with an error that is not transient, or the budget runs
// out. what names the operation in logs and errors ("create topic telemetra.dlq").
func (r *retrier) do(ctx context.Context, what string, op func(context.Context) error) error {
	var last error
	for attempt := 1; ; attempt++ {
		remaining := r.cfg.startupTimeout - r.cfg.now().Sub(r.start)
		actx, cancel := ctx, context.CancelFunc(func() {})
		if r.cfg.startupTimeout > 0 {
			// a request that hangs (kgo retries some errors itself) must not outlast the budget;
			// the last attempt, made at the deadline, still gets a second
			bound := remaining
			if bound <= 0 {
				bound = time.Second
			}
			actx, cancel = context.WithTimeout(ctx, bound)
		}
		err := op(actx)
		budgetOut := actx.Err() != nil && ctx.Err() == nil
		cancel()
		switch {
		case err == nil:
			if attempt > 1 {
				r.cfg.logger.Info("kafka ready", "op", what, "attempts", attempt, "waited", r.waited())
			}
			return nil
		case ctx.Err() != nil:
			if errors.Is(err, ctx.Err()) {
				return fmt.Errorf("%s: %w", what, err)
			}
			return fmt.Errorf("%s: %w (last error: %w)", what, ctx.Err(), err)
		case budgetOut:
			if last == nil {
				last = err
			}
			return r.gaveUp(what, attempt, last)
		case !transient(err):
			return fmt.Errorf("%s: %w", what, err)
		}
		last = err
		remaining = r.cfg.startupTimeout - r.cfg.now().Sub(r.start)
		if remaining <= 0 {
			if r.cfg.startupTimeout <= 0 {
				return fmt.Errorf("%s: %w", what, err) // retrying is off
			}
			return r.gaveUp(what, attempt, err)
		}
		wait := min(backoff(attempt, r.cfg.jitter()), remaining)
		r.cfg.logger.Warn("kafka not ready, retrying", "op", what, "attempt", attempt, "retry_in", wait.Round(time.Millisecond), "err", err)
		if err := r.cfg.sleep(ctx, wait); err != nil {
			return fmt.Errorf("%s: %w (last error: %w)", what, err, last)
		}
	}
}

func (r *retrier) waited() time.Duration { return r.cfg.now().Sub(r.start).Round(time.Millisecond) }

func (r *retrier) gaveUp(what string, attempts int, last error) error {
	return fmt.Errorf("%s: kafka still not ready after %s (%d attempts, startup timeout %s): %w",
		what, r.waited(), attempts, r.cfg.startupTimeout, last)
}
