package testkit

import (
	"testing"
	"time"
)

// maxPause bounds the pause between two calls of a WaitFor condition, so a test notices soon.
const maxPause = 100 * time.Millisecond

// WaitFor calls cond until it returns nil: at once, then after pauses that double from 1 ms to
// 100 ms, each at least as long as the call before it took (a condition that runs a command or
// a query is not run back to back). If cond still fails after timeout, the test fails, naming
// what it waited for and cond's last error: what it last saw. Tests wait with it instead of
// sleeping a fixed time; call it from the test's goroutine.
func WaitFor(t testing.TB, what string, timeout time.Duration, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for pause := time.Millisecond; ; pause = min(2*pause, maxPause) {
		called := time.Now()
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("waited %s for %s: %v", timeout, what, err)
		}
		time.Sleep(max(pause, time.Since(called)))
	}
}
