package pipelinehealth

import (
	"errors"
	"slices"
	"testing"
	"time"
)

func TestAssess(t *testing.T) {
	th := DefaultThresholds()
	healthy := func() Figures {
		return Figures{
			Lags:          []Lag{{Consumer: ConsumerProcessor, Records: 120}, {Consumer: ConsumerProjector, Records: 0}},
			LiveFreshness: 300 * time.Millisecond, History: true, ProjectionFreshness: 2 * time.Second,
		}
	}
	with := func(change func(*Figures)) Figures {
		f := healthy()
		change(&f)
		return f
	}
	down := errors.New("broker down")
	for _, tc := range []struct {
		name     string
		figures  Figures
		state    string
		problems []string
	}{
		{"every figure within its threshold", healthy(), StateOK, nil},
		{"a lag at its threshold is within it", with(func(f *Figures) { f.Lags[0].Records = th.MaxLagRecords }), StateOK, nil},
		{"a lag over its threshold", with(func(f *Figures) { f.Lags[1].Records = 10_001 }), StateDegraded,
			[]string{"projector lags 10001 records behind its topics (threshold 10000)"}},
		{"a stale live view while the processor is behind", with(func(f *Figures) { f.LiveFreshness = 12345 * time.Millisecond }), StateDegraded,
			[]string{"the newest live state is 12.3s old (threshold 10s)"}},
		{"a stale live view with no input left to read", with(func(f *Figures) { f.Lags[0].Records = 0; f.LiveFreshness = time.Minute }), StateDegraded,
			[]string{"the newest live state is 1m0s old (threshold 10s): the processor has read all its input, so no new events came in"}},
		{"a stale projection", with(func(f *Figures) { f.ProjectionFreshness = 11 * time.Second }), StateDegraded,
			[]string{"the newest projected window was emitted 11s ago (threshold 10s)"}},
		{"without history the projection is not judged", with(func(f *Figures) { f.History = false; f.ProjectionErr = down }), StateOK, nil},
		{"any dead letter", with(func(f *Figures) { f.DeadLettersPerMinute = 0.2; f.DeadLettersTotal = 1 }), StateDegraded,
			[]string{"0.2 dead letters per minute (threshold 0)"}},
		{"late events are no problem", with(func(f *Figures) { f.LateEventsPerMinute = 40 }), StateOK, nil},
		{"a lag that cannot be read", with(func(f *Figures) { f.Lags[0].Err = down }), StateUnknown,
			[]string{"processor lag unknown: broker down"}},
		{"no live state yet", with(func(f *Figures) { f.LiveErr = ErrNoLiveState }), StateUnknown,
			[]string{"live freshness unknown: the live view holds no channel state yet"}},
		{"no rate yet", with(func(f *Figures) { f.DeadLettersErr = errNoRate; f.LateEventsErr = errNoRate }), StateUnknown,
			[]string{"dead letters unknown: one sample so far; the rate needs two", "late events unknown: one sample so far; the rate needs two"}},
		{"over a threshold wins over unknown, and comes first", with(func(f *Figures) {
			f.ProjectionErr = down
			f.Lags[0].Records = 50_000
		}), StateDegraded, []string{"processor lags 50000 records behind its topics (threshold 10000)", "projection freshness unknown: broker down"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			state, problems := Assess(tc.figures, th)
			if state != tc.state || !slices.Equal(problems, tc.problems) {
				t.Errorf("Assess = %s %q; want %s %q", state, problems, tc.state, tc.problems)
			}
		})
	}
}

func TestAssessUsesTheThresholdsGiven(t *testing.T) {
	f := Figures{Lags: []Lag{{Consumer: ConsumerProcessor, Records: 500}}, LiveFreshness: 3 * time.Second, DeadLettersPerMinute: 1}
	loose := Thresholds{MaxLagRecords: 1000, MaxLiveFreshness: 5 * time.Second, MaxDeadLettersPerMinute: 2}
	if state, problems := Assess(f, loose); state != StateOK {
		t.Errorf("loose thresholds: %s %q; want ok", state, problems)
	}
	strict := Thresholds{MaxLagRecords: 100, MaxLiveFreshness: time.Second, MaxDeadLettersPerMinute: 0.5}
	if state, problems := Assess(f, strict); state != StateDegraded || len(problems) != 3 {
		t.Errorf("strict thresholds: %s %q; want degraded with three problems", state, problems)
	}
}
