package pipelinehealth

import "time"

// RateWindow is the span the rates are taken over.
const RateWindow = 5 * time.Minute

// Series is a counter's samples over the last RateWindow, for its rate: a topic's records
// written, sampled from its end offsets.
type Series struct {
	samples []sample
}

type sample struct {
	at    time.Time
	total int64
}

// Add records the counter's total at at. Samples are kept back to the newest one at least
// RateWindow older than at, the rate's base. A total lower than the previous one (a topic
// deleted and created again) starts the series anew.
func (s *Series) Add(at time.Time, total int64) {
	if n := len(s.samples); n > 0 {
		switch prev := s.samples[n-1]; {
		case total < prev.total:
			s.samples = s.samples[:0]
		case !at.After(prev.at):
			return // not after the newest sample: nothing to learn
		}
	}
	s.samples = append(s.samples, sample{at: at, total: total})
	drop := 0
	for drop+1 < len(s.samples) && !s.samples[drop+1].at.After(at.Add(-RateWindow)) {
		drop++
	}
	s.samples = s.samples[drop:]
}

// PerMinute is the counter's increase per minute from the rate's base to the newest sample:
// over RateWindow once the series is that long (a little more, up to one sampling interval),
// over what there is before. False with fewer than two samples.
func (s *Series) PerMinute() (float64, bool) {
	if len(s.samples) < 2 {
		return 0, false
	}
	first, last := s.samples[0], s.samples[len(s.samples)-1]
	return float64(last.total-first.total) / last.at.Sub(first.at).Minutes(), true
}

// Total is the newest sample's total (0 without samples).
func (s *Series) Total() int64 {
	if len(s.samples) == 0 {
		return 0
	}
	return s.samples[len(s.samples)-1].total
}
