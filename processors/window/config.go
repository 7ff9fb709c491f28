// Package window is the pure logic of Telemetra's per-channel windowing: tumbling event-time
// windows, what a window counts, provisional and final emits, late-event counts, and anomaly
// "moments" against rolling baselines. Which events are late and when a window closes is the
// rule of package eventtime, which the engine applies. It works on the ChannelState record and
// knows nothing of Kafka or goka; processors/aggregator wires it to goka.
package window

import (
	"errors"
	"fmt"
	"time"

	"github.com/telemetra/telemetra/processors/eventtime"
)

// Config tunes the windowing. Zero fields take the defaults of DefaultConfig.
type Config struct {
	// Size of the tumbling windows (event time).
	Size time.Duration
	// AllowedLateness is how long after its window's end an event may reach Kafka and still
	// count (its record's arrival, see package eventtime); later events are late.
	AllowedLateness time.Duration
	// ProvisionalInterval is the least processing time between provisional emits of a window.
	ProvisionalInterval time.Duration
	// MaxFutureSkew refuses events timestamped further than this after their record's arrival:
	// one wrong clock would otherwise open windows far in the future.
	MaxFutureSkew time.Duration
	// MaxPastSkew refuses events timestamped further than this before their record's arrival,
	// as not believable (a clock that was never set): they go to the DLQ, not the late topic.
	MaxPastSkew time.Duration
	// ProducerDelay bounds how long a producer takes to get a record into Kafka after the ones
	// it wrote after it reached other partitions; markers wait this long (see
	// eventtime.MarkerPolicy), so a final closes about this much after the allowed lateness
	// when an input is silent.
	ProducerDelay time.Duration
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
		ProvisionalInterval: 250 * time.Millisecond,
		MaxFutureSkew:       5 * time.Minute,
		MaxPastSkew:         7 * 24 * time.Hour,
		ProducerDelay:       2 * time.Second,
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
	if c.ProvisionalInterval == 0 {
		c.ProvisionalInterval = d.ProvisionalInterval
	}
	if c.MaxFutureSkew == 0 {
		c.MaxFutureSkew = d.MaxFutureSkew
	}
	if c.MaxPastSkew == 0 {
		c.MaxPastSkew = d.MaxPastSkew
	}
	if c.ProducerDelay == 0 {
		c.ProducerDelay = d.ProducerDelay
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
	if c.ProvisionalInterval <= 0 || c.MaxFutureSkew <= 0 || c.MaxPastSkew <= 0 || c.ProducerDelay <= 0 {
		errs = append(errs, errors.New("provisional interval, max future and past skew and producer delay must be positive"))
	}
	if c.MaxPastSkew > 0 && c.MaxPastSkew <= c.Size+c.AllowedLateness {
		errs = append(errs, fmt.Errorf("max past skew %s: must be longer than a window plus the allowed lateness (%s), or late events would be refused instead",
			c.MaxPastSkew, c.Size+c.AllowedLateness))
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

// Markers is the marker policy of this configuration.
func (c Config) Markers() eventtime.MarkerPolicy {
	return eventtime.MarkerPolicy{ProducerDelay: c.ProducerDelay}
}

// Rule is the event-time rule of this configuration.
func (c Config) Rule() eventtime.Rule {
	return eventtime.Rule{Size: c.Size, AllowedLateness: c.AllowedLateness, MaxFutureSkew: c.MaxFutureSkew, MaxPastSkew: c.MaxPastSkew}
}
