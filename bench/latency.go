package bench

import (
	"slices"
	"time"
)

// Latencies collects durations and reports nearest-rank percentiles.
type Latencies struct {
	samples []time.Duration
	sorted  bool
}

// Add records one sample.
func (l *Latencies) Add(d time.Duration) {
	l.samples = append(l.samples, d)
	l.sorted = false
}

// Len is the number of samples.
func (l *Latencies) Len() int { return len(l.samples) }

// Percentile returns the nearest-rank p-th percentile (0 < p ≤ 100), or zero without samples.
func (l *Latencies) Percentile(p float64) time.Duration {
	if len(l.samples) == 0 {
		return 0
	}
	if !l.sorted {
		slices.Sort(l.samples)
		l.sorted = true
	}
	rank := int(p/100*float64(len(l.samples))+0.999999) - 1
	return l.samples[min(max(rank, 0), len(l.samples)-1)]
}
