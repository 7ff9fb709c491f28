package pipelinetest

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/telemetra/telemetra/internal/kafka"
)

// shortfall describes how got differs from want, key by key, and what the processor set aside
// for the channels concerned (their records in the late and dead-letter topics): a final that
// comes short either lost events or judged them late, and the failure must say which.
func shortfall(addr string, got, want map[string]Totals) string {
	var b strings.Builder
	channels := map[string]bool{}
	keys := make([]string, 0, len(want))
	for k := range want {
		keys = append(keys, k)
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		g, w := got[k], want[k]
		if g == w {
			continue
		}
		_, final := got[k]
		fmt.Fprintf(&b, "  %s: got %+v want %+v (final seen: %v)\n", k, g, w, final)
		channels[strings.SplitN(k, "@", 2)[0]] = true
	}
	for _, topic := range []string{kafka.TopicLate, kafka.TopicDLQ} {
		set, err := setAside(addr, topic, channels)
		if err != nil {
			fmt.Fprintf(&b, "  %s: not read: %v\n", topic, err)
			continue
		}
		fmt.Fprintf(&b, "  %s holds %d records of these channels\n", topic, len(set))
		for _, line := range set {
			b.WriteString("    " + line + "\n")
		}
	}
	return b.String()
}

// setAside describes the records of topic keyed by one of the channels: where the processor
// read each, why it set it aside, and when it wrote the copy.
func setAside(addr, topic string, channels map[string]bool) ([]string, error) {
	records, err := ReadTopic(addr, topic)
	var out []string
	for _, r := range records {
		if !channels[string(r.Key)] {
			continue
		}
		h := map[string]string{}
		for _, x := range r.Headers {
			h[x.Key] = string(x.Value)
		}
		out = append(out, fmt.Sprintf("%s/%s@%s %s: %s (copied at %s)", h[kafka.HeaderSourceTopic], h[kafka.HeaderSourcePartition],
			h[kafka.HeaderSourceOffset], h[kafka.HeaderReason], h[kafka.HeaderError], r.Timestamp.UTC().Format(time.RFC3339Nano)))
	}
	return out, err
}

// ReadTopic reads a topic from its start to its end offsets as listed when it begins, within
// 30 seconds; on an error it returns what it read so far.
func ReadTopic(addr, topic string) ([]*kgo.Record, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(Brokers(addr)...), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	ends, err := kadm.NewClient(cl).ListEndOffsets(ctx, topic)
	if err != nil {
		return nil, fmt.Errorf("list the end offsets of %s: %w", topic, err)
	}
	remaining := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) {
		if o.Offset > 0 {
			remaining[o.Partition] = o.Offset
		}
	})
	var out []*kgo.Record
	for len(remaining) > 0 {
		fetches := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return out, fmt.Errorf("read %s: %d partitions not read to their end: %w", topic, len(remaining), err)
		}
		fetches.EachRecord(func(r *kgo.Record) {
			out = append(out, r)
			if end, ok := remaining[r.Partition]; ok && r.Offset+1 >= end {
				delete(remaining, r.Partition)
			}
		})
	}
	return out, nil
}
