// Package pipelinetest has the checks the pipeline's integration and end-to-end tests share:
// what a seeded producer run must add up to, and reading the final windows until they do.
package pipelinetest

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/proto"

	"github.com/telemetra/telemetra/internal/kafka"
	"github.com/telemetra/telemetra/producer"
	pb "github.com/telemetra/telemetra/proto/telemetra/v1"
	"github.com/telemetra/telemetra/schemas"
)

// Totals is what the final windows of a channel must add up to.
type Totals struct {
	Chat, ViewerSamples, Transactions, RevenueCents int64
}

// Expected regenerates a seeded producer run (it must use StartTime) and counts what each
// channel's windows must hold.
func Expected(t testing.TB, run producer.RunConfig) map[string]Totals {
	t.Helper()
	return ExpectedOf(t, regenerate(t, run))
}

// regenerate returns the records of a seeded producer run (it must use StartTime).
func regenerate(t testing.TB, run producer.RunConfig) []producer.Record {
	t.Helper()
	g, err := producer.NewGenerator(run.Sim)
	if err != nil {
		t.Fatal(err)
	}
	step := run.TimeStep
	if step <= 0 {
		t.Fatal("pipelinetest: the run needs an explicit TimeStep")
	}
	records := make([]producer.Record, 0, run.Count)
	for k := range run.Count {
		records = append(records, g.Next(run.StartTime.Add(time.Duration(k)*step)))
	}
	return records
}

// Chatters regenerates a seeded producer run and counts each channel's distinct chatters: what
// its final windows' first-time chatters add up to when none of its chat is late and it has
// fewer chatters than the processor's memory of them holds (2,048, see processors/window).
func Chatters(t testing.TB, run producer.RunConfig) map[string]int64 {
	t.Helper()
	seen := map[string]map[string]bool{}
	for _, r := range regenerate(t, run) {
		if r.Topic != kafka.TopicChat {
			continue
		}
		m, err := schemas.DecodeChat(r.Value)
		if err != nil {
			t.Fatal(err)
		}
		if seen[m.Channel] == nil {
			seen[m.Channel] = map[string]bool{}
		}
		seen[m.Channel][m.Username] = true
	}
	out := map[string]int64{}
	for ch, names := range seen {
		out[ch] = int64(len(names))
	}
	return out
}

// ExpectedOf counts what each channel's windows must hold for the given input records.
func ExpectedOf(t testing.TB, records []producer.Record) map[string]Totals {
	t.Helper()
	want := map[string]Totals{}
	for _, r := range records {
		kind, _ := schemas.KindForTopic(r.Topic)
		ev, err := schemas.Decode(kind, r.Value)
		if err != nil {
			t.Fatal(err)
		}
		tot := want[ev.EventChannel()]
		switch ev := ev.(type) {
		case schemas.ChatMessage:
			tot.Chat++
		case schemas.ViewerCount:
			tot.ViewerSamples++
		case schemas.Transaction:
			tot.Transactions++
			tot.RevenueCents += ev.AmountCents()
		}
		want[ev.EventChannel()] = tot
	}
	return want
}

// AwaitFinals reads telemetra.aggregates until the final windows of the channels in want add up
// to it, and fails with the difference if they do not within the timeout. Records of other
// channels are ignored. A window may be final twice only as a repeat with the same counts (a
// crash between an emit and the state write); anything else fails.
func AwaitFinals(t testing.TB, addr string, want map[string]Totals, timeout time.Duration) map[string]Totals {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumeTopics(kafka.TopicAggregates),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	finals := map[string]*pb.WindowAggregate{}
	got := map[string]Totals{}
	deadline := time.Now().Add(timeout)
	for {
		if equal(got, want) {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("final windows do not add up after %s:\n got %v\nwant %v", timeout, got, want)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		fetches := cl.PollFetches(ctx)
		cancel()
		fetches.EachRecord(func(r *kgo.Record) {
			agg := new(pb.WindowAggregate)
			if err := proto.Unmarshal(r.Value, agg); err != nil {
				t.Fatalf("undecodable aggregate: %v", err)
			}
			if _, ours := want[agg.Channel]; !ours || !agg.Final || agg.LateCorrection {
				return
			}
			id := agg.Channel + "@" + agg.WindowStart.AsTime().Format(time.RFC3339)
			if prev, dup := finals[id]; dup {
				if !sameCounts(prev, agg) {
					t.Fatalf("window %s final twice with different content:\n%v\n%v", id, prev, agg)
				}
				return
			}
			finals[id] = agg
			tot := got[agg.Channel]
			tot.Chat += agg.Chat.Messages
			tot.ViewerSamples += agg.Viewers.Samples
			tot.Transactions += agg.Transactions.Transactions
			tot.RevenueCents += agg.Transactions.RevenueCents
			got[agg.Channel] = tot
		})
	}
}

// sameCounts compares two records of a window, ignoring when and as which version they were
// emitted, and their late counts: a late event read before or after the close counts in the
// final or in a correction, and consumers keep the larger count.
func sameCounts(a, b *pb.WindowAggregate) bool {
	a, b = proto.Clone(a).(*pb.WindowAggregate), proto.Clone(b).(*pb.WindowAggregate)
	a.EmittedAt, b.EmittedAt, a.Version, b.Version = nil, nil, 0, 0
	a.LateEvents, b.LateEvents = 0, 0
	return proto.Equal(a, b)
}

func equal(a, b map[string]Totals) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range b {
		if a[k] != v {
			return false
		}
	}
	return true
}

// Committed sums a group's committed offsets over the given topics: how many of their records
// the group has processed for good. A kill test checks it right after the kill to show that
// the kill landed mid-stream (some records, not all).
func Committed(t testing.TB, addr, group string, topics ...string) int64 {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	offsets, err := kadm.NewClient(cl).FetchOffsets(ctx, group)
	if errors.Is(err, kerr.GroupIDNotFound) || kerr.IsRetriable(err) {
		return 0 // the group has committed nothing yet, or the coordinator is still starting
	}
	if err != nil {
		t.Fatalf("fetch the offsets of group %s: %v", group, err)
	}
	var n int64
	offsets.Each(func(o kadm.OffsetResponse) {
		if o.Err == nil && slices.Contains(topics, o.Topic) {
			n += o.At
		}
	})
	return n
}
