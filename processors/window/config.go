// Package window is the pure logic of Telemetra's per-channel windowing: tumbling event-time
// windows, the watermark and allowed lateness, idle and stream-end closing, provisional and
// final emits, and anomaly "moments" against rolling baselines. It works on the ChannelState
// record and knows nothing of Kafka or goka; processors/aggregator wires it to goka.
package window

import (
	"errors"
	"fmt"
	"time"
)

// Config tunes the windowing. Zero fields take the defaults of DefaultConfig.
type Config struct {
	// Size of the tumbling windows (event time).
	Size time.Duration
	// AllowedLateness: watermark = largest event time seen − AllowedLateness. A window is final
	// once the watermark passes its end; events for a final window are late.
	AllowedLateness time.Duration
	// IdleTimeout closes a channel's open windows when it has had no event for this long in
	// processing time (and the processor is caught up; see aggregator's ticker).
	IdleTimeout time.Duration
	// ProvisionalInterval is the least processing time between provisional emits of a window.
	ProvisionalInterval time.Duration
	// MaxFutureSkew rejects events whose timestamp is further than this ahead of processing
	// time: one wrong clock would otherwise push the watermark ahead and make everything late.
	MaxFutureSkew time.Duration
	// TopEmotes is how many emotes an aggregate lists.
	TopEmotes int
	Anomaly   AnomalyConfig
}

// AnomalyConfig tunes moment detection. A z-score compares a closed window's value with the
// mean and standard deviation of the previous BaselineWindows closed windows.
type AnomalyConfig struct {
	BaselineWindows int     // ring size of each baseline
	MinBaseline     int     // windows needed before z-scores are trusted
	ChatSpikeZ      float64 // chat messages per window
	ViewerZ         float64 // average viewers per window, spike (+z) and drop (−z)
	HypeZ           float64 // transactions per window
	HypeMinCount    int64   // and at least this many transactions
}

// DefaultConfig is the configuration `telemetra process` starts with.
func DefaultConfig() Config {
	return Config{
		Size:                time.Minute,
		AllowedLateness:     10 * time.Second,
		IdleTimeout:         30 * time.Second,
		ProvisionalInterval: time.Second,
		MaxFutureSkew:       5 * time.Minute,
		TopEmotes:           10,
		Anomaly: AnomalyConfig{
			BaselineWindows: 30, MinBaseline: 5,
			ChatSpikeZ: 3, ViewerZ: 3, HypeZ: 3, HypeMinCount: 5,
		},
	}
}

// withDefaults fills zero fields from DefaultConfig.
func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.Size == 0 {
		c.Size = d.Size
	}
	if c.AllowedLateness == 0 {
		c.AllowedLateness = d.AllowedLateness
	}
	if c.IdleTimeout == 0 {
		c.IdleTimeout = d.IdleTimeout
	}
	if c.ProvisionalInterval == 0 {
		c.ProvisionalInterval = d.ProvisionalInterval
	}
	if c.MaxFutureSkew == 0 {
		c.MaxFutureSkew = d.MaxFutureSkew
	}
	if c.TopEmotes == 0 {
		c.TopEmotes = d.TopEmotes
	}
	if c.Anomaly == (AnomalyConfig{}) {
		c.Anomaly = d.Anomaly
	}
	return c
}

// Validate reports a configuration that cannot work.
func (c Config) Validate() error {
	var errs []error
	if c.Size < time.Second || time.Hour*24%c.Size != 0 {
		errs = append(errs, fmt.Errorf("window size %s: must be at least 1s and divide a day", c.Size))
	}
	if c.AllowedLateness < 0 {
		errs = append(errs, fmt.Errorf("allowed lateness %s: must not be negative", c.AllowedLateness))
	}
	if c.IdleTimeout <= 0 || c.ProvisionalInterval <= 0 || c.MaxFutureSkew <= 0 {
		errs = append(errs, errors.New("idle timeout, provisional interval and max future skew must be positive"))
	}
	a := c.Anomaly
	if a.BaselineWindows < 2 || a.MinBaseline < 2 || a.MinBaseline > a.BaselineWindows {
		errs = append(errs, fmt.Errorf("baseline of %d windows, trusted from %d: need 2 <= min <= size", a.BaselineWindows, a.MinBaseline))
	}
	if a.ChatSpikeZ <= 0 || a.ViewerZ <= 0 || a.HypeZ <= 0 {
		errs = append(errs, errors.New("z-score thresholds must be positive"))
	}
	return errors.Join(errs...)
}
