package kafka

import (
	"context"
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
)

// GroupReaderOf reads the committed offsets of a consumer group as a Reader of topics: a
// partition the group never committed on has not been read (a group that does not exist has
// read nothing).
func GroupReaderOf(ctx context.Context, adm *kadm.Client, group string, topics []string) (Reader, error) {
	fetched, err := adm.FetchOffsets(ctx, group)
	if err == nil {
		err = fetched.Error()
	}
	if errors.Is(err, kerr.GroupIDNotFound) {
		// Apache Kafka answers an unknown group with no offsets, kfake with this error
		return Reader{Topics: topics}, nil
	}
	if err != nil {
		return Reader{}, fmt.Errorf("fetch offsets of group %s: %w", group, err)
	}
	r := groupReader(fetched.Offsets())
	r.Topics = topics
	return r, nil
}

// Lag is how many records of its topics the reader has not read yet, summed over the partitions
// of ends (the topics' end offsets). A partition's lag counts from the reader's next offset, or
// from the partition's start (starts) when that is further: records deleted before they were
// read will never be read. A partition of the reader's topics missing from ends, or with an
// error there, is an error: its lag is unknown.
func (r Reader) Lag(starts, ends kadm.ListedOffsets) (int64, error) {
	var lag int64
	for _, topic := range r.Topics {
		parts, ok := ends[topic]
		if !ok {
			return 0, fmt.Errorf("lag of %s: no end offsets listed", topic)
		}
		for p, end := range parts {
			if end.Err != nil {
				return 0, fmt.Errorf("lag of %s/%d: end offset: %w", topic, p, end.Err)
			}
			next, _ := r.next(topic, p)
			if start, ok := starts.Lookup(topic, p); ok && start.Err == nil {
				next = max(next, start.Offset)
			}
			lag += max(end.Offset-next, 0)
		}
	}
	return lag, nil
}

// RecordsWritten is how many records were ever written to topics: the sum of their partitions'
// end offsets (deleting records moves a partition's start, never its end).
func RecordsWritten(ends kadm.ListedOffsets, topics ...string) (int64, error) {
	var total int64
	for _, topic := range topics {
		parts, ok := ends[topic]
		if !ok {
			return 0, fmt.Errorf("records of %s: no end offsets listed", topic)
		}
		for p, end := range parts {
			if end.Err != nil {
				return 0, fmt.Errorf("records of %s/%d: end offset: %w", topic, p, end.Err)
			}
			total += end.Offset
		}
	}
	return total, nil
}
