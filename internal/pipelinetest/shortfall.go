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

// setAside reads topic to its end and describes the records keyed by one of the channels.
func setAside(addr, topic string, channels map[string]bool) ([]string, error) {
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
		return nil, err
	}
	remaining := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) {
		if o.Offset > 0 {
			remaining[o.Partition] = o.Offset
		}
	})
	var out []string
	for len(remaining) > 0 {
		fetches := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return out, fmt.Errorf("%d partitions not read to their end: %w", len(remaining), err)
		}
		fetches.EachRecord(func(r *kgo.Record) {
			if r.Offset+1 >= remaining[r.Partition] {
				delete(remaining, r.Partition)
			}
			if !channels[string(r.Key)] {
				return
			}
			h := map[string]string{}
			for _, x := range r.Headers {
				h[x.Key] = string(x.Value)
			}
			out = append(out, fmt.Sprintf("%s/%s@%s %s: %s (stamped %s)", h[kafka.HeaderSourceTopic], h[kafka.HeaderSourcePartition],
				h[kafka.HeaderSourceOffset], h[kafka.HeaderReason], h[kafka.HeaderError], r.Timestamp.UTC().Format(time.RFC3339Nano)))
		})
	}
	return out, nil
}
