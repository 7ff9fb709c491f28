package aggregator

import (
	"context"
	"testing"
	"time"
)

// TestAWriteIsBoundedOnlyAfterTheStop: a write's context has no deadline while the instance
// runs (a loaded cluster may take long), outlives the stop, and ends the bound after it.
func TestAWriteIsBoundedOnlyAfterTheStop(t *testing.T) {
	const bound = 50 * time.Millisecond
	run, stop := context.WithCancel(context.Background())
	write, done := writeContext(run, bound)
	defer done()

	time.Sleep(4 * bound)
	if write.Err() != nil {
		t.Fatalf("the write's context ended while the instance ran: %v", write.Err())
	}
	if _, ok := write.Deadline(); ok {
		t.Fatal("the write's context has a deadline while the instance runs")
	}
	stop()
	if write.Err() != nil {
		t.Fatal("the stop canceled the write at once")
	}
	select {
	case <-write.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("the write's context did not end after the stop's bound")
	}
}

// TestAWriteEndsWithItsOwnCancel: the write's own cancel ends it, and releases its watch on
// the instance's context.
func TestAWriteEndsWithItsOwnCancel(t *testing.T) {
	run, stop := context.WithCancel(context.Background())
	write, done := writeContext(run, time.Hour)
	done()
	if write.Err() == nil {
		t.Fatal("done did not end the write's context")
	}
	stop() // the watch is gone: no timer of an hour is started
}
