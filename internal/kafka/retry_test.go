package kafka

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
)

func TestTransient(t *testing.T) {
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"a broker that has not registered yet cannot place replicas", kerr.InvalidReplicationFactor, true},
		{"there is no controller yet", kerr.NotController, true},
		{"there is no coordinator yet", kerr.CoordinatorNotAvailable, true},
		{"there is no leader yet", kerr.LeaderNotAvailable, true},
		{"the broker is not available yet", kerr.BrokerNotAvailable, true},
		{"the request timed out", kerr.RequestTimedOut, true},
		{"a wrapped starting error is still one", fmt.Errorf("create topic x: %w", kerr.NotController), true},
		{"a refused connection is a broker still starting", refused, true},
		{"a reset connection is retried as kgo would", &net.OpError{Op: "read", Net: "tcp", Err: os.NewSyscallError("read", syscall.ECONNRESET)}, true},
		{"a closed connection is retried as kgo would", io.EOF, true},
		{"invalid partitions fail at once", kerr.InvalidPartitions, false},
		{"an authorization failure fails at once", kerr.TopicAuthorizationFailed, false},
		{"a bad config fails at once", kerr.InvalidConfig, false},
		{"a topic that does not exist fails at once", kerr.UnknownTopicOrPartition, false},
		{"the caller's cancellation is not the cluster's", context.Canceled, false},
		{"the caller's deadline is not the cluster's", fmt.Errorf("list: %w", context.DeadlineExceeded), false},
		{"an unknown error fails at once", errors.New("something else"), false},
		{"no error is nothing to retry", nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := transient(tc.err); got != tc.want {
				t.Fatalf("transient(%v) = %v, want %v", tc.err, got, tc.want)
			}
		})
	}
}

func TestBackoffDoublesFrom100msUpTo5sWithJitter(t *testing.T) {
	for _, tc := range []struct {
		attempt int
		jitter  float64
		want    time.Duration
	}{
		{1, 0.5, 100 * time.Millisecond},
		{2, 0.5, 200 * time.Millisecond},
		{3, 0.5, 400 * time.Millisecond},
		{6, 0.5, 3200 * time.Millisecond},
		{7, 0.5, 5 * time.Second},
		{1000, 0.5, 5 * time.Second},
		{1, 0, 80 * time.Millisecond},
		{1, 0.75, 110 * time.Millisecond},
		{1000, 0.75, 5 * time.Second},
		{1000, 0, 4 * time.Second},
	} {
		if got := backoff(tc.attempt, tc.jitter); got.Round(time.Microsecond) != tc.want {
			t.Errorf("backoff(%d, %v) = %s, want %s", tc.attempt, tc.jitter, got, tc.want)
		}
	}
}

// fakeClock makes the retry loop's sleeps advance a fake clock instead of waiting.
// Safe for concurrent use: EnsureTopics creates its topics at once.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	sleeps []time.Duration
}

func (f *fakeClock) applyAdmin(c *adminConfig) {
	c.now = func() time.Time {
		f.mu.Lock()
		defer f.mu.Unlock()
		return f.now
	}
	c.sleep = func(ctx context.Context, d time.Duration) error {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.sleeps = append(f.sleeps, d)
		f.now = f.now.Add(d)
		return ctx.Err()
	}
	c.jitter = func() float64 { return 0.5 } // no jitter: exact waits
}

// logs is a logger writing to a buffer.
func logs() (*slog.Logger, *bytes.Buffer) {
	var buf bytes.Buffer
	return slog.New(slog.NewTextHandler(&buf, nil)), &buf
}

// failing fails the first n calls with err, then succeeds.
func failing(n int, err error) (op func(context.Context) error, calls *int) {
	calls = new(int)
	return func(context.Context) error {
		*calls++
		if *calls <= n {
			return err
		}
		return nil
	}, calls
}

func TestRetry(t *testing.T) {
	ms := time.Millisecond
	for _, tc := range []struct {
		name      string
		timeout   time.Duration
		failures  int
		err       error
		wantCalls int
		wantSleep []time.Duration
		wantErr   []string // substrings of the error; none means success
	}{
		{name: "a transient error is retried with doubling waits until it succeeds",
			timeout: time.Minute, failures: 3, err: kerr.InvalidReplicationFactor,
			wantCalls: 4, wantSleep: []time.Duration{100 * ms, 200 * ms, 400 * ms}},
		{name: "an operation that succeeds at once does not wait",
			timeout: time.Minute, failures: 0, err: kerr.NotController,
			wantCalls: 1},
		{name: "a non-transient error fails at once",
			timeout: time.Minute, failures: 5, err: kerr.InvalidPartitions,
			wantCalls: 1, wantErr: []string{"create topic t: ", "INVALID_PARTITIONS"}},
		{name: "the budget running out fails with the last error and how long it waited",
			timeout: time.Second, failures: 100, err: kerr.NotController,
			wantCalls: 5, wantSleep: []time.Duration{100 * ms, 200 * ms, 400 * ms, 300 * ms},
			wantErr: []string{"create topic t: ", "after 1s", "5 attempts", "NOT_CONTROLLER"}},
		{name: "a zero timeout fails at the first transient error",
			timeout: 0, failures: 1, err: kerr.LeaderNotAvailable,
			wantCalls: 1, wantErr: []string{"create topic t: LEADER_NOT_AVAILABLE"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clock := &fakeClock{now: time.Unix(1e9, 0)}
			logger, buf := logs()
			cfg := newAdminConfig([]AdminOption{WithStartupTimeout(tc.timeout), WithLogger(logger), clock})
			op, calls := failing(tc.failures, tc.err)
			err := cfg.retrier().do(context.Background(), "create topic t", op)
			if *calls != tc.wantCalls {
				t.Errorf("%d calls, want %d", *calls, tc.wantCalls)
			}
			if fmt.Sprint(clock.sleeps) != fmt.Sprint(tc.wantSleep) {
				t.Errorf("slept %v, want %v", clock.sleeps, tc.wantSleep)
			}
			if retries := strings.Count(buf.String(), "kafka not ready, retrying"); retries != len(tc.wantSleep) {
				t.Errorf("logged %d retries, want %d:\n%s", retries, len(tc.wantSleep), buf)
			}
			if len(tc.wantErr) == 0 {
				if err != nil {
					t.Fatalf("err = %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("no error")
			}
			if !errors.Is(err, tc.err) {
				t.Errorf("error %v does not wrap %v", err, tc.err)
			}
			for _, s := range tc.wantErr {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not say %q", err, s)
				}
			}
		})
	}
}

func TestRetryLogsTheAttemptAndTheError(t *testing.T) {
	clock := &fakeClock{now: time.Unix(1e9, 0)}
	logger, buf := logs()
	cfg := newAdminConfig([]AdminOption{WithLogger(logger), clock})
	op, _ := failing(1, kerr.CoordinatorNotAvailable)
	if err := cfg.retrier().do(context.Background(), "create topic t", op); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{`level=WARN msg="kafka not ready, retrying" op="create topic t" attempt=1 retry_in=100ms err="COORDINATOR_NOT_AVAILABLE`,
		`level=INFO msg="kafka ready" op="create topic t" attempts=2 waited=100ms`} {
		if !strings.Contains(buf.String(), s) {
			t.Errorf("log does not contain %s:\n%s", s, buf)
		}
	}
}

func TestRetryStopsWhenTheContextEnds(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	clock := &fakeClock{now: time.Unix(1e9, 0)}
	cfg := newAdminConfig([]AdminOption{WithLogger(slog.New(slog.DiscardHandler)), clock})
	calls := 0
	err := cfg.retrier().do(ctx, "create topic t", func(context.Context) error {
		calls++
		cancel() // e.g. Ctrl-C while the broker is still starting
		return kerr.NotController
	})
	if !errors.Is(err, context.Canceled) || calls != 1 {
		t.Fatalf("after %d calls: err = %v", calls, err)
	}
}

func TestRetryBoundsAnAttemptThatHangsByTheBudget(t *testing.T) {
	cfg := newAdminConfig([]AdminOption{WithStartupTimeout(50 * time.Millisecond), WithLogger(slog.New(slog.DiscardHandler))})
	err := cfg.retrier().do(context.Background(), "create topic t", func(ctx context.Context) error {
		<-ctx.Done() // a broker that accepts the request and never answers
		return ctx.Err()
	})
	if err == nil || !strings.Contains(err.Error(), "still not ready after") {
		t.Fatalf("err = %v", err)
	}
}
