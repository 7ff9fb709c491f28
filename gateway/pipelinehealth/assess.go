package pipelinehealth

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// The states Assess answers.
const (
	// StateOK: every figure was read and none is over its threshold.
	StateOK = "ok"
	// StateDegraded: a figure is over its threshold (whatever else could not be read).
	StateDegraded = "degraded"
	// StateUnknown: a figure could not be read, and none of those read is over its threshold.
	StateUnknown = "unknown"
)

// Thresholds are the limits above which a figure makes the pipeline degraded.
type Thresholds struct {
	// MaxLagRecords is the most records a reader may have left to read on its topics.
	MaxLagRecords int64
	// MaxLiveFreshness is the oldest the newest live state may be.
	MaxLiveFreshness time.Duration
	// MaxProjectionFreshness is the oldest the newest projected window may be.
	MaxProjectionFreshness time.Duration
	// MaxDeadLettersPerMinute is the highest dead-letter rate (0: any dead letter is a problem:
	// the producer writes none, so each one is input that some writer got wrong).
	MaxDeadLettersPerMinute float64
}

// DefaultThresholds are the gateway's: about two seconds of input at 5,000 events per second
// for the lag (a goka group commits once a second, after the state flush), ten seconds for
// both freshness figures (the processor flushes every 200 ms, the projector writes as records
// come), and no dead letter at all.
func DefaultThresholds() Thresholds {
	return Thresholds{MaxLagRecords: 10_000, MaxLiveFreshness: 10 * time.Second, MaxProjectionFreshness: 10 * time.Second}
}

// Lag is one reader's lag: Records, or Err when it could not be read.
type Lag struct {
	Consumer string
	Records  int64
	Err      error
}

// Figures are the measurements of one sample. A figure with its Err set could not be read.
type Figures struct {
	Lags []Lag
	// LiveFreshness is the sample's time minus the newest live state's update time.
	LiveFreshness time.Duration
	LiveErr       error
	// History is whether the gateway has a projection to read: without one, the projection's
	// freshness is neither measured nor judged.
	History bool
	// ProjectionFreshness is the sample's time minus the newest projected window's emit time.
	ProjectionFreshness time.Duration
	ProjectionErr       error
	// DeadLettersPerMinute and LateEventsPerMinute are rates over the last window of samples
	// (Series); DeadLettersTotal is every dead letter ever written.
	DeadLettersPerMinute float64
	DeadLettersErr       error
	DeadLettersTotal     int64
	DeadLettersTotalErr  error
	LateEventsPerMinute  float64
	LateEventsErr        error
}

// Assess judges figures against th: the state, and a line for each figure over its threshold
// or unknown (over the threshold first).
func Assess(f Figures, th Thresholds) (state string, problems []string) {
	var over, unknown []string
	for _, l := range f.Lags {
		switch {
		case l.Err != nil:
			unknown = append(unknown, fmt.Sprintf("%s lag unknown: %v", l.Consumer, l.Err))
		case l.Records > th.MaxLagRecords:
			over = append(over, fmt.Sprintf("%s lags %d records behind its topics (threshold %d)", l.Consumer, l.Records, th.MaxLagRecords))
		}
	}
	switch {
	case f.LiveErr != nil:
		unknown = append(unknown, fmt.Sprintf("live freshness unknown: %v", f.LiveErr))
	case f.LiveFreshness > th.MaxLiveFreshness:
		over = append(over, fmt.Sprintf("the newest live state is %s old (threshold %s)%s", seconds(f.LiveFreshness), th.MaxLiveFreshness, idleHint(f)))
	}
	if f.History {
		switch {
		case f.ProjectionErr != nil:
			unknown = append(unknown, fmt.Sprintf("projection freshness unknown: %v", f.ProjectionErr))
		case f.ProjectionFreshness > th.MaxProjectionFreshness:
			over = append(over, fmt.Sprintf("the newest projected window was emitted %s ago (threshold %s)", seconds(f.ProjectionFreshness), th.MaxProjectionFreshness))
		}
	}
	switch {
	case f.DeadLettersErr != nil:
		unknown = append(unknown, fmt.Sprintf("dead letters unknown: %v", f.DeadLettersErr))
	case f.DeadLettersPerMinute > th.MaxDeadLettersPerMinute:
		over = append(over, fmt.Sprintf("%s dead letters per minute (threshold %s)", perMinute(f.DeadLettersPerMinute), perMinute(th.MaxDeadLettersPerMinute)))
	}
	if f.LateEventsErr != nil {
		unknown = append(unknown, fmt.Sprintf("late events unknown: %v", f.LateEventsErr))
	}
	switch {
	case len(over) > 0:
		return StateDegraded, slices.Concat(over, unknown)
	case len(unknown) > 0:
		return StateUnknown, unknown
	default:
		return StateOK, nil
	}
}

// idleHint tells a quiet input from a stuck processor: a stale live view while the processor
// has read everything means no new events came in.
func idleHint(f Figures) string {
	for _, l := range f.Lags {
		if l.Consumer == ConsumerProcessor && l.Err == nil && l.Records == 0 {
			return ": the processor has read all its input, so no new events came in"
		}
	}
	return ""
}

// The readers whose lag the gateway measures.
const (
	ConsumerProcessor = "processor"
	ConsumerProjector = "projector"
)

func seconds(d time.Duration) string { return d.Round(100 * time.Millisecond).String() }

func perMinute(v float64) string {
	return strings.TrimSuffix(strings.TrimRight(fmt.Sprintf("%.2f", v), "0"), ".")
}
