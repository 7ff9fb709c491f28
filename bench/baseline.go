package bench

import (
	"context"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// BaselineResult is what the raw consumer read.
type BaselineResult struct {
	Records     int64     `json:"records"`
	FirstBatch  int64     `json:"first_batch"` // records of the first fetch, which ends at FirstRecord
	Bytes       int64     `json:"bytes"`
	FirstRecord time.Time `json:"first_record"`
	LastRecord  time.Time `json:"last_record"`
}

// ConsumeAll is the baseline: a franz-go group consumer that reads topics from the start up
// to the end offsets they had when it began, commits like any consumer, and does nothing else
// with the records. A stage's rate is compared with it, measured in the same run.
func ConsumeAll(ctx context.Context, brokers, topics []string, group string) (BaselineResult, error) {
	var res BaselineResult
	admin, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		return res, err
	}
	ends, err := kadm.NewClient(admin).ListEndOffsets(ctx, topics...)
	admin.Close()
	if err != nil {
		return res, fmt.Errorf("list end offsets: %w", err)
	}
	remaining := map[string]map[int32]int64{}
	left := 0
	ends.Each(func(o kadm.ListedOffset) {
		if o.Err == nil && o.Offset > 0 {
			if remaining[o.Topic] == nil {
				remaining[o.Topic] = map[int32]int64{}
			}
			remaining[o.Topic][o.Partition] = o.Offset
			left++
		}
	})
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(brokers...),
		kgo.ConsumerGroup(group),
		kgo.ConsumeTopics(topics...),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
	)
	if err != nil {
		return res, err
	}
	defer cl.Close()
	for left > 0 {
		fetches := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return res, err
		}
		if errs := fetches.Errors(); len(errs) > 0 {
			return res, fmt.Errorf("fetch %s/%d: %w", errs[0].Topic, errs[0].Partition, errs[0].Err)
		}
		now := time.Now()
		first := res.Records == 0
		fetches.EachRecord(func(r *kgo.Record) {
			if first {
				res.FirstRecord = now
				res.FirstBatch++
			}
			res.Records++
			res.Bytes += int64(len(r.Key) + len(r.Value))
			if end, ok := remaining[r.Topic][r.Partition]; ok && r.Offset+1 >= end {
				delete(remaining[r.Topic], r.Partition)
				left--
			}
		})
		res.LastRecord = now
	}
	if err := cl.CommitUncommittedOffsets(ctx); err != nil {
		return res, fmt.Errorf("commit: %w", err)
	}
	return res, nil
}
