package bench

import (
	"testing"
	"time"
)

func TestPercentile(t *testing.T) {
	var l Latencies
	if got := l.Percentile(50); got != 0 {
		t.Fatalf("no samples: %s", got)
	}
	for _, ms := range []int{9, 1, 8, 2, 7, 3, 6, 4, 5, 10} {
		l.Add(time.Duration(ms) * time.Millisecond)
	}
	for _, tc := range []struct {
		p    float64
		want time.Duration
	}{
		{50, 5 * time.Millisecond},
		{95, 10 * time.Millisecond},
		{99, 10 * time.Millisecond},
		{10, 1 * time.Millisecond},
		{11, 2 * time.Millisecond},
		{100, 10 * time.Millisecond},
	} {
		if got := l.Percentile(tc.p); got != tc.want {
			t.Errorf("p%v = %s, want %s", tc.p, got, tc.want)
		}
	}
}
