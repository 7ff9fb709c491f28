package aggregator

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
)

// lagTracker answers "has every partition processed all input that existed a little while
// ago?" from the group's committed offsets and the topics' end offsets. Commits trail
// processing (the consumer commits every second, and deferred commits wait for a state flush),
// so the comparison is with the end offsets of at least `tolerance` ago: a partition is caught
// up when it lags less than that.
type lagTracker struct {
	adm       *kadm.Client
	group     string
	topics    []string
	tolerance time.Duration
	now       func() time.Time
	history   []endsAt   // oldest first
	frontiers *frontiers // receives the offsets too
	metrics   *Metrics   // nil: no lag gauges
}

type endsAt struct {
	at   time.Time
	ends offsetTable
}

func (t *lagTracker) caughtUp(ctx context.Context) (map[int32]bool, error) {
	ends, err := t.adm.ListEndOffsets(ctx, t.topics...)
	if err != nil {
		return nil, fmt.Errorf("list end offsets: %w", err)
	}
	committed, err := t.adm.FetchOffsets(ctx, t.group)
	if err != nil {
		return nil, fmt.Errorf("fetch offsets of group %s: %w", t.group, err)
	}
	cur, done := offsetTable{}, offsetTable{}
	ends.Each(func(o kadm.ListedOffset) {
		if o.Err == nil {
			cur.put(o.Topic, o.Partition, o.Offset)
		}
	})
	committed.Each(func(o kadm.OffsetResponse) {
		if o.Err == nil {
			done.put(o.Topic, o.Partition, o.At)
		}
	})
	if t.frontiers != nil {
		t.frontiers.setOffsets(cur, done)
	}
	if t.metrics != nil {
		for topic, parts := range cur {
			for p, end := range parts {
				t.metrics.lag.WithLabelValues(topic, strconv.Itoa(int(p))).Set(float64(max(end-done[topic][p], 0)))
			}
		}
	}
	now := t.now()
	t.history = append(t.history, endsAt{at: now, ends: cur})
	// the newest snapshot at least `tolerance` old is the one to compare with; older ones go
	var prev offsetTable
	for len(t.history) > 0 && !t.history[0].at.After(now.Add(-t.tolerance)) {
		prev = t.history[0].ends
		if len(t.history) > 1 && !t.history[1].at.After(now.Add(-t.tolerance)) {
			t.history = t.history[1:]
			continue
		}
		break
	}
	return CaughtUp(prev, cur, done), nil
}

// offsetTable maps topic → partition → offset.
type offsetTable map[string]map[int32]int64

func (t offsetTable) put(topic string, partition int32, offset int64) {
	if t[topic] == nil {
		t[topic] = map[int32]int64{}
	}
	t[topic][partition] = offset
}

// CaughtUp decides, per partition number, whether the group has processed every record that
// existed at an earlier check (prevEnds) on every topic: committed offsets (the next offset to
// read) at or past those ends. A partition seen for the first time is not caught up yet: there is
// no earlier end to compare with.
func CaughtUp(prevEnds, ends, committed map[string]map[int32]int64) map[int32]bool {
	out := map[int32]bool{}
	for topic, parts := range ends {
		for p := range parts {
			if _, seen := out[p]; !seen {
				out[p] = true
			}
			prev, ok := prevEnds[topic][p]
			if !ok {
				out[p] = false
				continue
			}
			if prev == 0 {
				continue // nothing was ever written there
			}
			if c, ok := committed[topic][p]; !ok || c < prev {
				out[p] = false
			}
		}
	}
	return out
}
