package alerts

import "time"

// Backoff is the retry schedule of failed attempts: exponential with full jitter (AWS's
// "Exponential Backoff and Jitter"): the wait after the n-th failure is uniform in
// [0, min(Max, Base·Factor^(n-1))). Full jitter spreads the retries of many deliveries that
// failed together (a receiver back from an outage) instead of sending them in waves.
type Backoff struct {
	Base   time.Duration
	Factor float64
	Max    time.Duration
}

// DefaultBackoff is 1 s, doubling, capped at 5 minutes.
var DefaultBackoff = Backoff{Base: time.Second, Factor: 2, Max: 5 * time.Minute}

// Ceiling is the upper bound of the wait after the failed-th failed attempt (1 for the first).
func (b Backoff) Ceiling(failed int) time.Duration {
	d := float64(b.Base)
	for i := 1; i < failed && d < float64(b.Max); i++ {
		d *= b.Factor
	}
	return time.Duration(min(d, float64(b.Max)))
}

// Delay is the wait after the failed-th failed attempt; random returns a float in [0, 1)
// (math/rand/v2's Float64, or a fixed value in tests).
func (b Backoff) Delay(failed int, random func() float64) time.Duration {
	return time.Duration(random() * float64(b.Ceiling(failed)))
}
