package aggregator

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
)

// offsetsTracker lists the input topics' end offsets and the group's committed offsets for the
// sweeps: the marker policy needs to know which inputs were read to their end, and the lag
// gauges show how far the group is behind.
type offsetsTracker struct {
	adm     *kadm.Client
	group   string
	topics  []string
	metrics *Metrics
	leaders *leaderWatch
	now     func() time.Time
}

// list returns the end offsets and the committed offsets (topic → partition → offset). A
// partition whose leader changed less than the failover grace ago is left out of the end
// offsets, so it does not count as read to its end (leaderWatch).
func (t *offsetsTracker) list(ctx context.Context) (ends, committed offsetTable, err error) {
	listed, err := t.adm.ListEndOffsets(ctx, t.topics...)
	if err != nil {
		return nil, nil, fmt.Errorf("list end offsets: %w", err)
	}
	fetched, err := t.adm.FetchOffsets(ctx, t.group)
	if err != nil {
		return nil, nil, fmt.Errorf("fetch offsets of group %s: %w", t.group, err)
	}
	ends, committed = offsetTable{}, offsetTable{}
	listed.Each(func(o kadm.ListedOffset) {
		if o.Err == nil {
			ends.put(o.Topic, o.Partition, o.Offset)
		}
	})
	fetched.Each(func(o kadm.OffsetResponse) {
		if o.Err == nil {
			committed.put(o.Topic, o.Partition, o.At)
		}
	})
	for topic, parts := range ends {
		for p, end := range parts {
			t.metrics.lag.WithLabelValues(topic, strconv.Itoa(int(p))).Set(float64(max(end-committed[topic][p], 0)))
		}
	}
	if t.leaders.grace <= 0 {
		return ends, committed, nil
	}
	now := t.now()
	listed.Each(func(o kadm.ListedOffset) {
		if o.Err == nil && !t.leaders.settled(topicPartition{o.Topic, o.Partition}, o.LeaderEpoch, now) {
			delete(ends[o.Topic], o.Partition)
		}
	})
	return ends, committed, nil
}

// offsetTable maps topic → partition → offset.
type offsetTable map[string]map[int32]int64

func (t offsetTable) put(topic string, partition int32, offset int64) {
	if t[topic] == nil {
		t[topic] = map[int32]int64{}
	}
	t[topic][partition] = offset
}

// partition is one partition's offsets by topic.
func (t offsetTable) partition(p int32) map[string]int64 {
	out := make(map[string]int64, len(t))
	for topic, parts := range t {
		if o, ok := parts[p]; ok {
			out[topic] = o
		}
	}
	return out
}
