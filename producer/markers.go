package producer

import (
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/telemetra/telemetra/internal/kafka"
	"github.com/telemetra/telemetra/processors/table"
)

// quietMarks decides the markers a simulated run writes (RunConfig.MarkEvery). A simulated run
// goes faster than its event time, and the processor's own markers wait for processing time to
// pass (eventtime.MarkerPolicy), so a quiet input such as stream_meta falls behind the others
// by ever more event time and holds every window of the run open. The producer knows what it
// will write: every MarkEvery of event time, it writes a marker into each input partition it
// wrote nothing to over that span, timestamped at the span's end. Later records are stamped at
// or after it (the run's timestamps never go back), so no record is ever overtaken by one.
type quietMarks struct {
	every  time.Duration
	topics []string
	keys   map[string][]string    // topic → a key per partition
	latest map[string][]time.Time // topic → partition → the latest timestamp written there
	next   time.Time              // end of the current span
}

// newQuietMarks starts the spans at start, for the input topics with the given partition counts.
func newQuietMarks(every time.Duration, start time.Time, partitions map[string]int) *quietMarks {
	q := &quietMarks{every: every, keys: map[string][]string{}, latest: map[string][]time.Time{},
		next: start.Truncate(every).Add(every)}
	for _, topic := range kafka.InputTopics() {
		n, ok := partitions[topic]
		if !ok {
			continue
		}
		q.topics = append(q.topics, topic)
		q.keys[topic] = kafka.KeyPerPartition(n, table.ClockKey)
		q.latest[topic] = make([]time.Time, n)
	}
	return q
}

// wrote notes a record written to topic with key at a timestamp.
func (q *quietMarks) wrote(topic string, key []byte, at time.Time) {
	if latest, ok := q.latest[topic]; ok {
		p := kafka.PartitionForKey(key, len(latest))
		latest[p] = maxTime(latest[p], at)
	}
}

// due returns the markers to write before a record timestamped at: one per input partition
// left quiet over the latest span that ended by then.
func (q *quietMarks) due(at time.Time) []*kgo.Record {
	if at.Before(q.next) {
		return nil
	}
	end := q.next.Add(at.Sub(q.next).Truncate(q.every)) // the latest span end at or before at
	q.next = end.Add(q.every)
	var out []*kgo.Record
	for _, topic := range q.topics {
		latest := q.latest[topic]
		for p, t := range latest {
			if t.Before(end.Add(-q.every)) {
				out = append(out, kafka.MarkerRecord(topic, int32(p), q.keys[topic][p], end))
				latest[p] = end
			}
		}
	}
	return out
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
