package kafka

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
)

// Reader is a consumer whose progress bounds what may be deleted: the topics it reads and the
// next offset it will read of each partition (topic → partition → offset). A partition of one
// of its topics with no offset has not been read at all.
type Reader struct {
	Topics []string
	Next   map[string]map[int32]int64
}

// next is where the reader stands on a partition, and whether it reads the topic.
func (r Reader) next(topic string, partition int32) (int64, bool) {
	if !slices.Contains(r.Topics, topic) {
		return 0, false
	}
	return r.Next[topic][partition], true // absent: 0, nothing read
}

// TrimConsumed deletes, from the partitions of topics, the records older than retention (by
// timestamp, at now) that every reader has read: every consumer group with committed offsets
// (on each topic it committed on), and the readers given, which keep their offsets elsewhere
// (the projector keeps its own in PostgreSQL). The embedded broker of `telemetra dev` would
// otherwise keep every record in memory. A topic nobody reads (a dead-letter topic) keeps its
// retention only. It returns how many records were deleted.
func TrimConsumed(ctx context.Context, adm *kadm.Client, topics []string, retention time.Duration, now time.Time, readers ...Reader) (int64, error) {
	byTime, err := adm.ListOffsetsAfterMilli(ctx, now.Add(-retention).UnixMilli(), topics...)
	if err != nil {
		return 0, fmt.Errorf("list offsets before the retention: %w", err)
	}
	starts, err := adm.ListStartOffsets(ctx, topics...)
	if err != nil {
		return 0, fmt.Errorf("list start offsets: %w", err)
	}
	groups, err := adm.ListGroups(ctx)
	if err != nil {
		return 0, fmt.Errorf("list groups: %w", err)
	}
	for _, r := range adm.FetchManyOffsets(ctx, groups.Groups()...) {
		if r.Err != nil {
			return 0, fmt.Errorf("fetch offsets of group %s: %w", r.Group, r.Err)
		}
		readers = append(readers, groupReader(r.Fetched.Offsets()))
	}
	cut := kadm.Offsets{}
	var deleted int64
	byTime.Each(func(o kadm.ListedOffset) {
		if o.Err != nil {
			return
		}
		start, ok := starts.Lookup(o.Topic, o.Partition)
		if !ok || start.Err != nil {
			return
		}
		var read []int64
		for _, r := range readers {
			if next, reads := r.next(o.Topic, o.Partition); reads {
				read = append(read, next)
			}
		}
		if to := trimPoint(o.Offset, read); to > start.Offset {
			cut.AddOffset(o.Topic, o.Partition, to, -1)
			deleted += to - start.Offset
		}
	})
	if len(cut) == 0 {
		return 0, nil
	}
	resp, err := adm.DeleteRecords(ctx, cut)
	if err != nil {
		return 0, fmt.Errorf("delete records: %w", err)
	}
	if err := resp.Error(); err != nil {
		return 0, fmt.Errorf("delete records: %w", err)
	}
	return deleted, nil
}

// trimPoint is the offset a partition can be trimmed to: the first record within the retention,
// held back to the least offset a reader will read next.
func trimPoint(retained int64, read []int64) int64 {
	to := retained
	for _, next := range read {
		to = min(to, next)
	}
	return max(to, 0)
}

// groupReader is a consumer group as a Reader: it reads every topic it committed on.
func groupReader(committed kadm.Offsets) Reader {
	r := Reader{Next: map[string]map[int32]int64{}}
	committed.Each(func(o kadm.Offset) {
		if o.At < 0 {
			return
		}
		if r.Next[o.Topic] == nil {
			r.Next[o.Topic] = map[int32]int64{}
			r.Topics = append(r.Topics, o.Topic)
		}
		r.Next[o.Topic][o.Partition] = o.At
	})
	return r
}
