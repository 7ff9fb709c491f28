package aggregator

import "time"

// leaderWatch holds the markers of an input partition back for a while after its leader
// changed. When a broker is lost, the writes to the partitions it led stall until new leaders
// are elected (9 to 13 s measured on the test cluster, docs/operations.md), and the producers
// then retry them on the new leader. A marker written into such a partition right after the
// election, claiming the wall clock less the producer delay, could land before those records
// and make them late. While the old leader is unreachable no end offset is listed for the
// partition, so it does not count as read to its end and no marker is written; the watch
// extends that by grace from the moment a new leader epoch is seen, so the retried records
// land first.
type leaderWatch struct {
	grace   time.Duration
	epochs  map[topicPartition]int32
	changed map[topicPartition]time.Time
}

type topicPartition struct {
	topic     string
	partition int32
}

func newLeaderWatch(grace time.Duration) *leaderWatch {
	return &leaderWatch{grace: grace, epochs: map[topicPartition]int32{}, changed: map[topicPartition]time.Time{}}
}

// settled notes the partition's leader epoch as listed at now, and reports whether its leader
// has been the same for at least grace. The first epoch seen counts as settled: a processor
// that starts has no record of a failover, and its first markers wait for the producer delay
// anyway. An epoch of -1 (a broker too old to say) is never a change.
func (w *leaderWatch) settled(tp topicPartition, epoch int32, now time.Time) bool {
	prev, seen := w.epochs[tp]
	w.epochs[tp] = epoch
	if seen && epoch != prev && epoch >= 0 {
		w.changed[tp] = now
	}
	at, ok := w.changed[tp]
	if !ok {
		return true
	}
	if now.Sub(at) >= w.grace {
		delete(w.changed, tp)
		return true
	}
	return false
}
