package pipelinehealth

import (
	"testing"
	"time"
)

func TestSeriesRates(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	type point struct {
		after time.Duration
		total int64
	}
	for _, tc := range []struct {
		name   string
		points []point
		want   float64
		ok     bool
	}{
		{"no sample", nil, 0, false},
		{"one sample", []point{{0, 7}}, 0, false},
		{"a short series: over what there is", []point{{0, 10}, {30 * time.Second, 13}}, 6, true},
		{"flat", []point{{0, 10}, {time.Minute, 10}, {2 * time.Minute, 10}}, 0, true},
		{"over the last five minutes only", []point{{0, 0}, {time.Minute, 100}, {6 * time.Minute, 110}}, 2, true},
		{"the base is the newest sample five minutes back or more", []point{
			{0, 0}, {2 * time.Minute, 50}, {4 * time.Minute, 60}, {7 * time.Minute, 70}, {9*time.Minute + 30*time.Second, 100},
		}, 40.0 / 5.5, true},
		{"a lower total starts anew", []point{{0, 100}, {time.Minute, 200}, {2 * time.Minute, 5}, {3 * time.Minute, 8}}, 3, true},
		{"a sample not after the newest is ignored", []point{{0, 0}, {time.Minute, 6}, {time.Minute, 60}}, 6, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var s Series
			for _, p := range tc.points {
				s.Add(t0.Add(p.after), p.total)
			}
			got, ok := s.PerMinute()
			if ok != tc.ok || (ok && !near(got, tc.want)) {
				t.Errorf("PerMinute = %v, %t; want %v, %t", got, ok, tc.want, tc.ok)
			}
		})
	}
}

func TestASeriesKeepsOnlyTheRateWindow(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	var s Series
	for k := range 24 * 60 * 30 { // a day of samples every 2 s
		s.Add(t0.Add(time.Duration(k)*2*time.Second), int64(k))
	}
	if n := len(s.samples); n != int(RateWindow/(2*time.Second))+1 {
		t.Errorf("%d samples kept; want the window's %d and its base", n, RateWindow/(2*time.Second))
	}
	if got, _ := s.PerMinute(); !near(got, 30) || s.Total() != 24*60*30-1 {
		t.Errorf("PerMinute = %v, Total = %d; want 30 and %d", got, s.Total(), 24*60*30-1)
	}
}

func near(a, b float64) bool { return a-b < 1e-9 && b-a < 1e-9 }
