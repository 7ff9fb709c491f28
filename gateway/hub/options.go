package hub

import "time"

// Defaults of the options.
const (
	DefaultBufferSize = 1024             // pending live events per subscriber
	DefaultHeartbeat  = 15 * time.Second // idle time before a Heartbeat is sent
)

// config is what the options set.
type config struct {
	bufferSize     int
	heartbeat      time.Duration
	now            func() time.Time
	metrics        *Metrics
	maxSubscribers int
	// initialHeartbeat: see WithInitialHeartbeat
	initialHeartbeat bool
}

func defaultConfig() config {
	return config{bufferSize: DefaultBufferSize, heartbeat: DefaultHeartbeat, now: time.Now, metrics: NewMetrics(nil)}
}

// Option configures a Hub in New.
type Option interface{ apply(*config) }

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

// WithBufferSize sets how many live events may be pending for one subscriber
// before it is dropped as too slow (default 1024). n < 1 keeps the default.
func WithBufferSize(n int) Option {
	return optionFunc(func(c *config) {
		if n >= 1 {
			c.bufferSize = n
		}
	})
}

// WithHeartbeat sets how long a subscription may stay silent before Next
// returns a Heartbeat (default 15s). d <= 0 keeps the default.
func WithHeartbeat(d time.Duration) Option {
	return optionFunc(func(c *config) {
		if d > 0 {
			c.heartbeat = d
		}
	})
}

// WithClock replaces time.Now for Event.Published, emitted_at, delivery
// latency and the heartbeat's due time (waiting itself uses real timers).
// nil keeps time.Now.
func WithClock(now func() time.Time) Option {
	return optionFunc(func(c *config) {
		if now != nil {
			c.now = now
		}
	})
}

// WithMetrics makes the hub record to m; without it (or with nil) the hub records to metrics
// registered nowhere.
func WithMetrics(m *Metrics) Option {
	return optionFunc(func(c *config) {
		if m != nil {
			c.metrics = m
		}
	})
}

// WithInitialHeartbeat makes a subscription with nothing queued answer its
// first Next at once with a heartbeat: it confirms the subscription to the
// client, and gets an HTTP stream's headers out before the first event.
func WithInitialHeartbeat() Option {
	return optionFunc(func(c *config) { c.initialHeartbeat = true })
}

// WithMaxSubscribers limits concurrent subscriptions; beyond it Subscribe
// returns ErrTooManySubscribers. 0 (the default) or less means unlimited.
func WithMaxSubscribers(n int) Option {
	return optionFunc(func(c *config) { c.maxSubscribers = max(n, 0) })
}
