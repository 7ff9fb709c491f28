// Package pipelinetest has the checks the pipeline's integration and end-to-end tests share:
// what a seeded producer run must add up to, and reading the final windows until they do.
package pipelinetest

import (
	"context"
	"errors"
	"slices"
	"strings"
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
	return expectedBy(t, records, func(ev schemas.Event) string { return ev.EventChannel() })
}

// ExpectedWindows regenerates a seeded producer run and counts what each of its windows of the
// given size must hold, by WindowID: a stricter check than the channels' totals, for runs in
// which no event is late.
func ExpectedWindows(t testing.TB, run producer.RunConfig, size time.Duration) map[string]Totals {
	t.Helper()
	return expectedBy(t, regenerate(t, run), func(ev schemas.Event) string {
		return WindowID(ev.EventChannel(), ev.EventTime().Truncate(size))
	})
}

// WindowID names a channel's window by its start.
func WindowID(channel string, start time.Time) string {
	return channel + "@" + start.UTC().Format(time.RFC3339)
}

// expectedBy counts the records' events into totals by key.
func expectedBy(t testing.TB, records []producer.Record, key func(schemas.Event) string) map[string]Totals {
	t.Helper()
	want := map[string]Totals{}
	for _, r := range records {
		kind, _ := schemas.KindForTopic(r.Topic)
		ev, err := schemas.Decode(kind, r.Value)
		if err != nil {
			t.Fatal(err)
		}
		k := key(ev)
		tot := want[k]
		switch ev := ev.(type) {
		case schemas.ChatMessage:
			tot.Chat++
		case schemas.ViewerCount:
			tot.ViewerSamples++
		case schemas.Transaction:
			tot.Transactions++
			tot.RevenueCents += ev.AmountCents()
		}
		want[k] = tot
	}
	return want
}

// AwaitFinals reads telemetra.aggregates until the final windows of the channels in want add up
// to it, and fails with the difference if they do not within the timeout. Records of other
// channels are ignored. A window may be final twice only as a repeat with the same counts (a
// crash between an emit and the state write); anything else fails.
func AwaitFinals(t testing.TB, addr string, want map[string]Totals, timeout time.Duration) map[string]Totals {
	t.Helper()
	return awaitFinals(t, addr, want, timeout, func(agg *pb.WindowAggregate) string { return agg.Channel })
}

// AwaitFinalWindows is AwaitFinals by window (want as ExpectedWindows counts it): every final
// window must hold what the run put in it, and a window the run has no event in must not be
// final with any.
func AwaitFinalWindows(t testing.TB, addr string, want map[string]Totals, timeout time.Duration) map[string]Totals {
	t.Helper()
	channels := map[string]bool{}
	for id := range want {
		channels[strings.SplitN(id, "@", 2)[0]] = true
	}
	return awaitFinals(t, addr, want, timeout, func(agg *pb.WindowAggregate) string {
		if !channels[agg.Channel] {
			return ""
		}
		return WindowID(agg.Channel, agg.WindowStart.AsTime())
	})
}

// Brokers splits a comma-separated bootstrap list (one address, or a cluster's).
func Brokers(addr string) []string { return strings.Split(addr, ",") }

// awaitFinals reads the final windows, adding up those whose key (by) is in want.
func awaitFinals(t testing.TB, addr string, want map[string]Totals, timeout time.Duration, by func(*pb.WindowAggregate) string) map[string]Totals {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(Brokers(addr)...), kgo.ConsumeTopics(kafka.TopicAggregates),
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
			t.Fatalf("final windows do not add up after %s:\n%s", timeout, shortfall(addr, got, want))
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		fetches := cl.PollFetches(ctx)
		cancel()
		fetches.EachRecord(func(r *kgo.Record) {
			agg := new(pb.WindowAggregate)
			if err := proto.Unmarshal(r.Value, agg); err != nil {
				t.Fatalf("undecodable aggregate: %v", err)
			}
			key := by(agg)
			if key == "" || !agg.Final || agg.LateCorrection {
				return
			}
			if _, ours := want[key]; !ours && !strings.Contains(key, "@") {
				return // another test's channel
			}
			id := WindowID(agg.Channel, agg.WindowStart.AsTime())
			if prev, dup := finals[id]; dup {
				if !sameCounts(prev, agg) {
					t.Fatalf("window %s final twice with different content:\n%v\n%v", id, prev, agg)
				}
				return
			}
			finals[id] = agg
			tot := got[key]
			tot.Chat += agg.Chat.Messages
			tot.ViewerSamples += agg.Viewers.Samples
			tot.Transactions += agg.Transactions.Transactions
			tot.RevenueCents += agg.Transactions.RevenueCents
			got[key] = tot
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

// fetchOffsets asks a new client each time: a client keeps the group coordinator it found,
// and keeps dialing it after its broker is lost (a cluster test's fault).
func fetchOffsets(addr, group string) (kadm.OffsetResponses, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(Brokers(addr)...))
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return kadm.NewClient(cl).FetchOffsets(ctx, group)
}

// Committed sums a group's committed offsets over the given topics: how many of their records
// the group has processed for good. A kill test checks it right after the kill to show that
// the kill landed mid-stream (some records, not all).
func Committed(t testing.TB, addr, group string, topics ...string) int64 {
	t.Helper()
	// long enough for a lost broker's group coordinator to move under load (fencing takes 9 s,
	// then the offsets topic elects new leaders)
	deadline := time.Now().Add(90 * time.Second)
	var offsets kadm.OffsetResponses
	for {
		var err error
		offsets, err = fetchOffsets(addr, group)
		if errors.Is(err, kerr.GroupIDNotFound) || errors.Is(err, kerr.CoordinatorLoadInProgress) {
			return 0 // the group has committed nothing yet, or the coordinator is still starting
		}
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("fetch the offsets of group %s: %v", group, err)
		}
		time.Sleep(500 * time.Millisecond)
	}
	var n int64
	offsets.Each(func(o kadm.OffsetResponse) {
		if o.Err == nil && slices.Contains(topics, o.Topic) {
			n += o.At
		}
	})
	return n
}
