package pipelinehealth

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"
)

// Source reads the raw figures of one sample.
type Source interface {
	Read(ctx context.Context) Reading
}

// Reading is what a Source read; an Err field set means its figure could not be read.
type Reading struct {
	Lags []Lag
	// NewestLiveUpdate is the update time of the newest live state (zero: no state yet).
	NewestLiveUpdate time.Time
	LiveErr          error
	// History is whether there is a projection; NewestEmit is the emit time of its newest
	// window (zero: no window yet).
	History       bool
	NewestEmit    time.Time
	ProjectionErr error
	// DeadLetters and LateEvents are the records ever written to the dead-letter and late
	// topics.
	DeadLetters    int64
	DeadLettersErr error
	LateEvents     int64
	LateEventsErr  error
}

// Report is one sample's figures and their judgement.
type Report struct {
	// At is when the sample was taken; zero before the first one.
	At time.Time
	Figures
	State    string
	Problems []string
}

// Errors of figures that have no value yet.
var (
	ErrNoLiveState   = errors.New("the live view holds no channel state yet")
	ErrNoWindow      = errors.New("no window projected yet")
	errNoRate        = errors.New("one sample so far; the rate needs two")
	errNotSampledYet = errors.New("the first sample of the pipeline's figures is not taken yet")
)

// Options configure a Sampler; zero fields take defaults.
type Options struct {
	// Interval between samples (default 2 s): the most a figure served is older than its sample.
	Interval time.Duration
	// Timeout bounds one sample's reads (default 5 s).
	Timeout    time.Duration
	Thresholds Thresholds
	Now        func() time.Time
	Metrics    *Metrics
	Logger     *slog.Logger
}

// Sampler samples a Source every interval and keeps the latest Report, which every caller of
// Latest shares: however many ask, the Source is read once per interval.
type Sampler struct {
	src  Source
	opts Options

	mu     sync.Mutex
	latest Report
	dead   Series
	late   Series
}

// NewSampler returns a sampler of src; opts.Thresholds is used as given (DefaultThresholds are
// the gateway's).
func NewSampler(src Source, opts Options) *Sampler {
	if opts.Interval <= 0 {
		opts.Interval = 2 * time.Second
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 5 * time.Second
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Metrics == nil {
		opts.Metrics = NewMetrics(nil)
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	return &Sampler{src: src, opts: opts}
}

// Run samples at once and then every interval until ctx ends.
func (s *Sampler) Run(ctx context.Context) error {
	t := time.NewTicker(s.opts.Interval)
	defer t.Stop()
	for {
		s.Sample(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Sample takes one sample now and returns its report, also the latest from now on.
func (s *Sampler) Sample(ctx context.Context) Report {
	readCtx, cancel := context.WithTimeout(ctx, s.opts.Timeout)
	defer cancel()
	r := s.src.Read(readCtx)
	at := s.opts.Now()
	f := Figures{Lags: r.Lags, History: r.History}
	f.LiveFreshness, f.LiveErr = age(at, r.NewestLiveUpdate, r.LiveErr, ErrNoLiveState)
	if r.History {
		f.ProjectionFreshness, f.ProjectionErr = age(at, r.NewestEmit, r.ProjectionErr, ErrNoWindow)
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	f.DeadLettersTotal, f.DeadLettersTotalErr = r.DeadLetters, r.DeadLettersErr
	f.DeadLettersPerMinute, f.DeadLettersErr = rate(&s.dead, at, r.DeadLetters, r.DeadLettersErr)
	f.LateEventsPerMinute, f.LateEventsErr = rate(&s.late, at, r.LateEvents, r.LateEventsErr)
	rep := Report{At: at, Figures: f}
	rep.State, rep.Problems = Assess(f, s.opts.Thresholds)
	if s.latest.State != rep.State {
		s.opts.Logger.Info("pipeline health changed", "state", rep.State, "problems", rep.Problems)
	}
	s.latest = rep
	s.opts.Metrics.observe(rep)
	return rep
}

// Latest is the newest sample's report; before the first sample, an unknown state saying so.
func (s *Sampler) Latest() Report {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.latest.At.IsZero() {
		return Report{State: StateUnknown, Problems: []string{errNotSampledYet.Error()}}
	}
	return s.latest
}

// age is at minus since, or why it is unknown (none: since is zero).
func age(at, since time.Time, err, none error) (time.Duration, error) {
	switch {
	case err != nil:
		return 0, err
	case since.IsZero():
		return 0, none
	default:
		return max(at.Sub(since), 0), nil
	}
}

// rate adds a total read at at to its series and returns the series' rate.
func rate(series *Series, at time.Time, total int64, err error) (float64, error) {
	if err != nil {
		return 0, err
	}
	series.Add(at, total)
	perMinute, ok := series.PerMinute()
	if !ok {
		return 0, errNoRate
	}
	return perMinute, nil
}
