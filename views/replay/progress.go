package replay

import (
	"log/slog"
	"time"
)

// progress logs how far a long phase is: done, remaining (lag), rate and ETA, at most once per
// interval and once at the end.
type progress struct {
	phase   string
	unit    string
	total   int64 // may grow between rounds
	done    int64
	started time.Time
	logged  time.Time
	every   time.Duration
	now     func() time.Time
	logger  *slog.Logger
}

func newProgress(phase, unit string, every time.Duration, now func() time.Time, logger *slog.Logger) *progress {
	t := now()
	return &progress{phase: phase, unit: unit, started: t, logged: t, every: every, now: now, logger: logger}
}

// set records absolute figures (for phases measured by polling, like a consumer group's lag).
func (p *progress) set(done, total int64) {
	p.done, p.total = done, total
	p.maybeLog()
}

func (p *progress) add(n int) {
	p.done += int64(n)
	p.maybeLog()
}

func (p *progress) grow(n int64) { p.total += n }

func (p *progress) maybeLog() {
	if now := p.now(); now.Sub(p.logged) >= p.every {
		p.logged = now
		p.log("replay progress")
	}
}

// rate is the phase's mean throughput so far, per second.
func (p *progress) rate() float64 {
	elapsed := p.now().Sub(p.started).Seconds()
	if elapsed <= 0 {
		return 0
	}
	return float64(p.done) / elapsed
}

func (p *progress) log(msg string) {
	lag := max(p.total-p.done, 0)
	rate := p.rate()
	attrs := []any{"phase", p.phase, p.unit, p.done, "lag", lag, p.unit + "_per_second", int64(rate)}
	if lag > 0 && rate > 0 {
		attrs = append(attrs, "eta", (time.Duration(float64(lag) / rate * float64(time.Second))).Round(time.Second))
	}
	if p.total > 0 {
		attrs = append(attrs, "percent", int(100*float64(min(p.done, p.total))/float64(p.total)))
	}
	p.logger.Info(msg, attrs...)
}

func (p *progress) finish() time.Duration {
	p.log("replay phase done")
	return p.now().Sub(p.started)
}
