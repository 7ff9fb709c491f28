package alerts

import (
	"testing"
	"time"
)

func TestBackoff(t *testing.T) {
	b := DefaultBackoff
	for _, tc := range []struct {
		failed int
		random float64
		want   time.Duration
	}{
		{1, 0.999999999, time.Second - time.Nanosecond},
		{1, 0.5, 500 * time.Millisecond},
		{2, 0.5, time.Second},
		{3, 0.5, 2 * time.Second},
		{8, 0.5, 64 * time.Second},
		{9, 1, 256 * time.Second},
		{10, 1, 5 * time.Minute}, // 512 s capped
		{100, 0.5, 150 * time.Second},
		{1, 0, 0}, // full jitter: a retry may go at once
	} {
		if got := b.Delay(tc.failed, func() float64 { return tc.random }); got.Round(time.Millisecond) != tc.want.Round(time.Millisecond) {
			t.Errorf("Delay(%d, %v) = %v, want %v", tc.failed, tc.random, got, tc.want)
		}
	}
}
