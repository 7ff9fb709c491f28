package aggregator

import "sync"

// writeOrder makes one partition's flushed batches reach Kafka in the order they were taken.
// A batch is taken under the partition's lock but written outside it, and more than one writer
// can be at work on a partition: the sweep's flush, and the final flush when goka stops the
// partition (or a callback that ends after it). A channel's newer state written before an
// older one would leave the older one last in the changelog while the newer one's commits
// are released: a restart or the next owner would then recover the older state and never see
// the records in between again.
//
// After a failed write the later batches are not written and fail too: their commits would
// cover the failed batch's records, whose emits may never have been written.
type writeOrder struct {
	mu      sync.Mutex
	turns   *sync.Cond
	taken   uint64 // turns handed out
	written uint64 // turns done
	failed  error
}

// take hands out the next turn; the caller holds the partition's lock, so turns follow the
// order in which batches are taken.
func (o *writeOrder) take() uint64 {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.taken++
	return o.taken - 1
}

// await blocks until every batch taken before turn is written, and returns the first error of
// an earlier write, if any. The caller must call done after an await that returned nil.
func (o *writeOrder) await(turn uint64) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.turns == nil {
		o.turns = sync.NewCond(&o.mu)
	}
	for o.written != turn {
		o.turns.Wait()
	}
	if o.failed != nil {
		o.written++
		o.turns.Broadcast()
		return o.failed
	}
	return nil
}

// done ends the current turn with the write's outcome.
func (o *writeOrder) done(err error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if err != nil && o.failed == nil {
		o.failed = err
	}
	o.written++
	o.turns.Broadcast()
}
