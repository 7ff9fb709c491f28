package aggregator

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lovoo/goka"
	"github.com/lovoo/goka/tester"
	"google.golang.org/protobuf/proto"

	"github.com/telemetra/telemetra/internal/kafka"
	"github.com/telemetra/telemetra/processors/window"
	pb "github.com/telemetra/telemetra/proto/telemetra/v1"
)

// fakeClock is processing time under the test's control.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *fakeClock) Set(t time.Time) { c.mu.Lock(); defer c.mu.Unlock(); c.now = t }

type harness struct {
	t       *testing.T
	tt      *tester.Tester
	proc    *goka.Processor
	logic   *Logic
	clock   *fakeClock
	aggs    *tester.QueueTracker
	moments *tester.QueueTracker
	dlq     *tester.QueueTracker
	late    *tester.QueueTracker
}

var t0 = time.Date(2025, 10, 16, 10, 0, 0, 0, time.UTC)

func newHarness(t *testing.T, configure ...func(*LogicConfig)) *harness {
	t.Helper()
	clock := &fakeClock{now: t0}
	cfg := LogicConfig{Window: window.DefaultConfig(), Now: clock.Now}
	for _, c := range configure {
		c(&cfg)
	}
	logic, err := NewLogic(cfg)
	if err != nil {
		t.Fatal(err)
	}
	tt := tester.New(t)
	proc, err := goka.NewProcessor(nil, logic.Graph(), goka.WithTester(tt),
		goka.WithLogger(GokaLogger{slog.New(slog.NewTextHandler(io.Discard, nil)), "goka"}))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- proc.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("processor: %v", err)
		}
	})
	return &harness{t: t, tt: tt, proc: proc, logic: logic, clock: clock,
		aggs: tt.NewQueueTracker(kafka.TopicAggregates), moments: tt.NewQueueTracker(kafka.TopicMoments),
		dlq: tt.NewQueueTracker(kafka.TopicDLQ), late: tt.NewQueueTracker(kafka.TopicLate)}
}

// chat feeds a chat message with event time t0+offset, processed at processing time now.
func (h *harness) chat(offset string, user string, now time.Time) {
	h.t.Helper()
	d, _ := time.ParseDuration(offset)
	h.clock.Set(now)
	h.tt.Consume(kafka.TopicChat, "demo_stream", []byte(fmt.Sprintf(
		`{"message_id":"123e4567-e89b-12d3-a456-426614174000","channel":"demo_stream","username":%q,"message":"gg PogChamp","emotes":["PogChamp"],"sentiment_hint":"positive","timestamp":%q}`,
		user, t0.Add(d).Format(time.RFC3339Nano))))
}

func (h *harness) raw(topic, key, value string) {
	h.tt.Consume(topic, key, []byte(value))
}

func (h *harness) tick(now time.Time, caughtUp bool) {
	h.t.Helper()
	if err := h.proc.VisitAll(context.Background(), tickVisitor, Sweep{Now: now, CaughtUp: map[int32]bool{0: caughtUp}, Full: true}); err != nil {
		h.t.Fatal(err)
	}
}

// windows drains the aggregates topic into "10:00 final v3 chat=2" lines.
func (h *harness) windows() []string {
	var out []string
	for {
		_, v, ok := h.aggs.Next()
		if !ok {
			return out
		}
		a := v.(*pb.WindowAggregate)
		kind := "prov"
		if a.Final {
			kind = "final"
		}
		out = append(out, fmt.Sprintf("%s %s v%d chat=%d", a.WindowStart.AsTime().Format("15:04"), kind, a.Version, a.Chat.Messages))
	}
}

func (h *harness) expectWindows(want ...string) {
	h.t.Helper()
	if got := h.windows(); strings.Join(got, "; ") != strings.Join(want, "; ") {
		h.t.Fatalf("aggregates:\n got %q\nwant %q", got, want)
	}
}

func (h *harness) state() *pb.ChannelState {
	v := h.tt.TableValue(h.logic.Table(), "demo_stream")
	if v == nil {
		return nil
	}
	st := new(pb.ChannelState)
	if err := proto.Unmarshal(v.(storedState), st); err != nil {
		h.t.Fatal(err)
	}
	return st
}

func TestWindowsAreEmittedProvisionalThenFinal(t *testing.T) {
	h := newHarness(t)
	h.chat("5s", "alice", t0.Add(6*time.Second))
	h.chat("6s", "bob", t0.Add(6500*time.Millisecond)) // coalesced: < 1s since the last emit
	h.chat("40s", "carol", t0.Add(41*time.Second))
	h.expectWindows("10:00 prov v1 chat=1", "10:00 prov v2 chat=3")
	h.chat("1m12s", "alice", t0.Add(73*time.Second)) // watermark 1m02s closes 10:00
	h.expectWindows("10:00 final v3 chat=3", "10:01 prov v4 chat=1")

	st := h.state()
	if st.EventsTotal != 4 || len(st.OpenWindows) != 1 || st.LastFinal.Chat.Messages != 3 {
		t.Fatalf("state = %v", st)
	}
	if a := st.AppliedOffsets; len(a) != 1 || a[0].Topic != kafka.TopicChat || a[0].Partition != 0 || a[0].Offset != 3 {
		t.Fatalf("applied offsets = %v", a)
	}
}

func TestBadInputGoesToTheDeadLetterTopic(t *testing.T) {
	h := newHarness(t)
	future := t0.Add(time.Hour).Format(time.RFC3339)
	for _, tc := range []struct {
		topic, key, value, reason, mentions string
	}{
		{kafka.TopicChat, "demo_stream", `{"message_id": broken`, ReasonInvalid, ""},
		{kafka.TopicViewer, "demo_stream", `{"event_id":"123e4567-e89b-12d3-a456-426614174000","channel":"demo_stream","viewer_count":"many","chatter_count":1,"timestamp":"2025-10-16T10:00:00Z"}`, ReasonInvalid, "viewer_count"},
		{kafka.TopicTransactions, "demo_stream", `{"transaction_id":"txn_a1b2c3d4e5f6g7h8","channel":"demo_stream","transaction_type":"refund","amount":5,"timestamp":"2025-10-16T10:00:00Z"}`, ReasonInvalid, "transaction_type"},
		{kafka.TopicStreamMeta, "gaming", `{"event_id":"123e4567-e89b-12d3-a456-426614174000","channel":"demo_stream","event_type":"stream_start","title":"x","timestamp":"2025-10-16T10:00:00Z"}`, ReasonKeyMismatch, "gaming"},
		{kafka.TopicChat, "demo_stream", "\xff\xfe not utf-8", ReasonInvalid, ""},
		{kafka.TopicViewer, "demo_stream", `{"event_id":"123e4567-e89b-12d3-a456-426614174000","channel":"demo_stream","viewer_count":5,"chatter_count":1,"timestamp":"` + future + `"}`, ReasonFuture, "ahead of processing time"},
	} {
		h.raw(tc.topic, tc.key, tc.value)
		headers, key, raw, ok := h.dlq.NextRawWithHeaders()
		if !ok {
			t.Fatalf("%s: nothing dead-lettered for %s", tc.reason, tc.value)
		}
		if string(raw) != tc.value || key != tc.key {
			t.Errorf("dead letter holds %q/%q, want the original %q/%q", key, raw, tc.key, tc.value)
		}
		if got := string(headers[HeaderReason]); got != tc.reason {
			t.Errorf("reason %q, want %q (error: %s)", got, tc.reason, headers[HeaderError])
		}
		if string(headers[HeaderSourceTopic]) != tc.topic || len(headers[HeaderSourceOffset]) == 0 || len(headers[HeaderSourcePartition]) == 0 {
			t.Errorf("source headers = %v", headers)
		}
		if !strings.Contains(string(headers[HeaderError]), tc.mentions) {
			t.Errorf("error %q does not mention %q", headers[HeaderError], tc.mentions)
		}
	}
	// and processing goes on
	h.chat("5s", "alice", t0.Add(6*time.Second))
	h.expectWindows("10:00 prov v1 chat=1")
}

func TestLateEventsGoToTheLateTopic(t *testing.T) {
	h := newHarness(t)
	h.chat("50s", "alice", t0.Add(51*time.Second))
	h.chat("1m15s", "alice", t0.Add(76*time.Second)) // closes 10:00
	h.chat("30s", "bob", t0.Add(77*time.Second))     // late: 10:00 is final
	h.expectWindows("10:00 prov v1 chat=1", "10:00 final v2 chat=1", "10:01 prov v3 chat=1")
	headers, key, raw, ok := h.late.NextRawWithHeaders()
	if !ok || key != "demo_stream" || !strings.Contains(string(raw), `"bob"`) {
		t.Fatalf("late topic: %q %q %v", key, raw, ok)
	}
	if string(headers[HeaderSourceOffset]) != "2" || !strings.Contains(string(headers[HeaderError]), "window already final") {
		t.Fatalf("late headers = %v", headers)
	}
	if st := h.state(); st.LateTotal != 1 || st.EventsTotal != 2 {
		t.Fatalf("late %d, events %d", st.LateTotal, st.EventsTotal)
	}
}

func TestRedeliveredEventsAreNotCountedTwice(t *testing.T) {
	h := newHarness(t)
	// As after a crash between the state write and the offset commit: the state already holds
	// the effect of offsets 0..2, and goka delivers them again.
	h.tt.SetTableValue(h.logic.Table(), "demo_stream", &pb.ChannelState{
		Channel: "demo_stream", EventsTotal: 3,
		AppliedOffsets: []*pb.AppliedOffset{{Topic: kafka.TopicChat, Partition: 0, Offset: 2}},
	})
	for k := range 4 {
		h.chat(fmt.Sprintf("%ds", k+1), "alice", t0.Add(time.Duration(k+2)*time.Second))
	}
	if st := h.state(); st.EventsTotal != 4 || st.AppliedOffsets[0].Offset != 3 {
		t.Fatalf("events %d offsets %v: redelivered events were applied again", st.EventsTotal, st.AppliedOffsets)
	}
	h.expectWindows("10:00 prov v1 chat=1")
}

func TestIdleChannelsCloseOnlyWhenCaughtUp(t *testing.T) {
	h := newHarness(t)
	h.chat("10s", "alice", t0.Add(11*time.Second))
	h.chat("10.5s", "bob", t0.Add(11500*time.Millisecond))
	h.expectWindows("10:00 prov v1 chat=1")

	h.tick(t0.Add(13*time.Second), true) // the pending update goes out
	h.expectWindows("10:00 prov v2 chat=2")
	h.tick(t0.Add(2*time.Minute), false) // idle, but the partition has a backlog: wait
	h.expectWindows()
	h.tick(t0.Add(2*time.Minute), true)
	h.expectWindows("10:00 final v3 chat=2")
	if st := h.state(); len(st.OpenWindows) != 0 {
		t.Fatalf("open windows after the idle close: %v", st.OpenWindows)
	}
	h.chat("12s", "carol", t0.Add(121*time.Second))
	h.expectWindows()
	if _, _, ok := h.late.Next(); !ok {
		t.Fatal("an event for the idle-closed window was not routed to the late topic")
	}
}

func TestStreamEndClosesWindowsAndMomentsAreEmitted(t *testing.T) {
	h := newHarness(t)
	h.clock.Set(t0.Add(2 * time.Second))
	h.raw(kafka.TopicStreamMeta, "demo_stream", `{"event_id":"123e4567-e89b-12d3-a456-426614174000","channel":"demo_stream","event_type":"stream_start","title":"Chill","category":"Art","timestamp":"2025-10-16T10:00:01Z"}`)
	h.raw(kafka.TopicStreamMeta, "demo_stream", `{"event_id":"123e4567-e89b-12d3-a456-426614174001","channel":"demo_stream","event_type":"raid_incoming","title":"Chill","raid_from":"big_streamer","raid_viewers":300,"timestamp":"2025-10-16T10:00:02Z"}`)
	h.chat("3s", "alice", t0.Add(4*time.Second))
	h.clock.Set(t0.Add(5 * time.Second))
	h.raw(kafka.TopicStreamMeta, "demo_stream", `{"event_id":"123e4567-e89b-12d3-a456-426614174002","channel":"demo_stream","event_type":"stream_end","title":"Chill","timestamp":"2025-10-16T10:00:04Z"}`)
	h.expectWindows("10:00 prov v1 chat=0", "10:00 prov v2 chat=1", "10:00 prov v3 chat=1")
	h.tick(t0.Add(14*time.Second), false) // not caught up: wait
	h.expectWindows()
	h.tick(t0.Add(15*time.Second), true) // the allowed lateness after the end
	h.expectWindows("10:00 final v4 chat=1")

	_, v, ok := h.moments.Next()
	if !ok {
		t.Fatal("no raid moment")
	}
	m := v.(*pb.Moment)
	if m.Kind != pb.MomentKind_MOMENT_KIND_RAID || m.Id != fmt.Sprintf("raid-%d", t0.Add(2*time.Second).UnixMilli()) || m.Raid.Viewers != 300 {
		t.Fatalf("moment = %v", m)
	}
	if st := h.state(); st.Status.Live || st.Status.EndedAt == nil || st.Status.LastRaid.FromChannel != "big_streamer" {
		t.Fatalf("status = %v", st.Status)
	}
}

// TestReplayOfOldData feeds a year-old hour of chat as fast as it can, ticking on the wall clock
// throughout: every minute's window is final exactly once, with every message, none late.
func TestReplayOfOldData(t *testing.T) {
	h := newHarness(t)
	wall := time.Date(2026, 11, 27, 6, 0, 0, 0, time.UTC)
	for k := range 600 { // one message every 6 s for an hour of event time
		h.chat(fmt.Sprintf("%ds", k*6), fmt.Sprintf("u%d", k%5), wall.Add(time.Duration(k)*time.Millisecond))
		if k%100 == 0 {
			h.tick(wall.Add(time.Duration(k)*time.Millisecond), false) // a backlog: not caught up
		}
	}
	finals := map[string]int64{}
	for _, w := range h.windows() {
		if strings.Contains(w, "final") {
			var start, kind, version string
			var n int64
			fmt.Sscanf(w, "%s %s %s chat=%d", &start, &kind, &version, &n)
			if _, dup := finals[start]; dup {
				t.Fatalf("window %s final twice", start)
			}
			finals[start] = n
		}
	}
	if len(finals) != 59 {
		t.Fatalf("%d final windows, want 59 (the last one is still open)", len(finals))
	}
	for start, n := range finals {
		if n != 10 {
			t.Errorf("window %s has %d messages, want 10", start, n)
		}
	}
	if _, _, late := h.late.Next(); late {
		t.Fatal("a replayed event was late")
	}
	// once caught up and idle, the last window closes too
	h.tick(wall.Add(time.Hour), true)
	if got := h.windows(); len(got) != 1 || got[0] != fmt.Sprintf("10:59 final v%d chat=10", h.state().NextVersion) {
		t.Fatalf("after the idle close: %v", got)
	}
}

func TestOutOfOrderEventsWithinTheLatenessCount(t *testing.T) {
	h := newHarness(t)
	h.chat("50s", "alice", t0.Add(51*time.Second))
	h.chat("1m5s", "bob", t0.Add(66*time.Second))   // watermark 55s: 10:00 still open
	h.chat("57s", "carol", t0.Add(67*time.Second))  // out of order, but within the lateness
	h.chat("1m11s", "dave", t0.Add(72*time.Second)) // watermark 1m01s: 10:00 closes
	h.expectWindows("10:00 prov v1 chat=1", "10:01 prov v2 chat=1", "10:00 prov v3 chat=2",
		"10:00 final v4 chat=2", "10:01 prov v5 chat=2")
	if _, _, late := h.late.Next(); late {
		t.Fatal("an event within the allowed lateness was routed to the late topic")
	}
}

// TestAFutureTimestampDoesNotMoveTheFrontier: an event dead-lettered for a timestamp far in the
// future is no progress of its input. If it counted, the input would stop holding back windows
// it is behind on, and its next events would turn late whenever another input ran ahead.
func TestAFutureTimestampDoesNotMoveTheFrontier(t *testing.T) {
	h := newHarness(t, func(c *LogicConfig) { c.TrackFrontiers = true })
	ends := map[string]map[int32]int64{}
	for _, topic := range h.logic.inputTopics() {
		ends[topic] = map[int32]int64{0: 0} // nothing to read there
	}
	ends[kafka.TopicChat][0], ends[kafka.TopicViewer][0] = 1000, 1000 // records left on both
	h.logic.frontiers.setOffsets(ends, nil)
	h.logic.frontiers.setOffsets(ends, nil) // the ends did not move: the other inputs are drained

	h.chat("10s", "alice", t0.Add(10*time.Minute))
	h.raw(kafka.TopicChat, "demo_stream", `{"message_id":"123e4567-e89b-12d3-a456-426614174000","channel":"demo_stream","username":"bob","message":"hi","emotes":[],"sentiment_hint":"neutral","timestamp":"`+
		t0.Add(24*time.Hour).Format(time.RFC3339)+`"}`)
	h.raw(kafka.TopicViewer, "demo_stream", `{"event_id":"123e4567-e89b-12d3-a456-426614174000","channel":"demo_stream","viewer_count":5,"chatter_count":1,"timestamp":"`+
		t0.Add(10*time.Minute).Format(time.RFC3339)+`"}`)
	if _, _, ok := h.dlq.Next(); !ok {
		t.Fatal("the future event was not dead-lettered")
	}
	if got, want := h.logic.frontier(0), t0.Add(10*time.Second); !got.Equal(want) {
		t.Fatalf("frontier = %s, want %s (chat read up to its last trusted event)", got, want)
	}
}
