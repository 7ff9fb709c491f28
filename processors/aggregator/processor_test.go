package aggregator

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lovoo/goka"
	"github.com/lovoo/goka/tester"
	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/proto"

	"github.com/telemetra/telemetra/internal/kafka"
	"github.com/telemetra/telemetra/processors/table"
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
	sink    *testerSink
	aggs    *tester.QueueTracker
	moments *tester.QueueTracker
	dlq     *tester.QueueTracker
	late    *tester.QueueTracker
	stop    func()
}

var t0 = time.Date(2025, 10, 16, 10, 0, 0, 0, time.UTC)

// testerSink is the Sink of the tests: what the processor writes to Kafka goes into goka's
// tester instead (outputs as emits, states and clocks into its table, markers as input
// records with their timestamps), through the same write-back cache as in production.
type testerSink struct {
	tt       *tester.Tester
	producer goka.Producer
	table    goka.Table
	mu       sync.Mutex
	read     map[string]int64 // records given to each input topic (its end offset)
	failWith error            // set: every write fails
}

func (s *testerSink) Produce(_ context.Context, records ...*kgo.Record) error {
	s.mu.Lock()
	fail := s.failWith
	s.mu.Unlock()
	if fail != nil {
		return fail
	}
	for _, r := range records {
		headers := goka.Headers{}
		for _, h := range r.Headers {
			headers[h.Key] = h.Value
		}
		switch {
		case r.Topic == string(s.table):
			s.tt.SetTableValue(s.table, string(r.Key), storedState(r.Value))
		case slices.Contains(kafka.InputTopics(), r.Topic):
			s.consume(r.Topic, string(r.Key), r.Value, tester.WithTime(r.Timestamp), tester.WithHeaders(headers))
		default:
			done := make(chan error, 1)
			s.producer.EmitWithHeaders(r.Topic, string(r.Key), r.Value, headers).Then(func(err error) { done <- err })
			if err := <-done; err != nil {
				return err
			}
		}
	}
	return nil
}

// consume gives the processor an input record, counting it towards the topic's end offset.
func (s *testerSink) consume(topic, key string, value []byte, opts ...tester.EmitOption) {
	s.mu.Lock()
	s.read[topic]++
	s.mu.Unlock()
	s.tt.Consume(topic, key, value, opts...)
}

// ends are the input topics' end offsets, as the sweeper lists them.
func (s *testerSink) ends() offsetTable {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := offsetTable{}
	for _, topic := range kafka.InputTopics() {
		out.put(topic, 0, s.read[topic])
	}
	return out
}

func newHarness(t *testing.T, configure ...func(*LogicConfig)) *harness {
	t.Helper()
	tt := tester.New(t)
	return startHarness(t, tt, configure...)
}

// startHarness runs a processor on a tester (a new one, or one an earlier processor used: a
// restart).
func startHarness(t *testing.T, tt *tester.Tester, configure ...func(*LogicConfig)) *harness {
	t.Helper()
	clock := &fakeClock{now: t0}
	producer, err := tt.ProducerBuilder()(nil, "test", nil)
	if err != nil {
		t.Fatal(err)
	}
	sink := &testerSink{tt: tt, producer: producer, read: map[string]int64{}}
	wcfg := window.DefaultConfig()
	wcfg.ProvisionalInterval = time.Second // the scenarios' arrivals are spaced against a second
	cfg := LogicConfig{Window: wcfg, Partitions: 1, Sink: sink, Now: clock.Now}
	for _, c := range configure {
		c(&cfg)
	}
	logic, err := NewLogic(cfg)
	if err != nil {
		t.Fatal(err)
	}
	sink.table = logic.Table()
	proc, err := goka.NewProcessor(nil, logic.Graph(), goka.WithTester(tt),
		goka.WithLogger(table.GokaLogger{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Component: "goka"}))
	if err != nil {
		t.Fatal(err)
	}
	logic.attach(proc)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- proc.Run(ctx) }()
	// The cache defers every commit until a flush, and the tester waits for commits: flush all
	// the time, as the sweeper does every 200 ms in production.
	flushing := make(chan struct{})
	go func() {
		defer close(flushing)
		for ctx.Err() == nil {
			_ = logic.wb.flush(ctx)
			time.Sleep(time.Millisecond) // a pause between flushes, not a wait for anything
		}
	}()
	stop := sync.OnceFunc(func() {
		cancel()
		<-flushing
		if err := <-done; err != nil {
			t.Errorf("processor: %v", err)
		}
	})
	t.Cleanup(stop)
	return &harness{t: t, tt: tt, proc: proc, logic: logic, clock: clock, sink: sink, stop: stop,
		aggs: tt.NewQueueTracker(kafka.TopicAggregates), moments: tt.NewQueueTracker(kafka.TopicMoments),
		dlq: tt.NewQueueTracker(kafka.TopicDLQ), late: tt.NewQueueTracker(kafka.TopicLate)}
}

// chat feeds a chat message with event time t0+offset that reached Kafka at arrival, processed
// at processing time arrival + 1ms.
func (h *harness) chat(offset, user string, arrival time.Time) {
	h.t.Helper()
	d, _ := time.ParseDuration(offset)
	h.clock.Set(arrival.Add(time.Millisecond))
	h.sink.consume(kafka.TopicChat, "demo_stream", []byte(fmt.Sprintf(
		`{"message_id":"123e4567-e89b-12d3-a456-426614174000","channel":"demo_stream","username":%q,"message":"gg PogChamp","emotes":["PogChamp"],"sentiment_hint":"positive","timestamp":%q}`,
		user, t0.Add(d).Format(time.RFC3339Nano))), tester.WithTime(arrival))
}

// raw feeds a record as it is, reaching Kafka at arrival.
func (h *harness) raw(topic, key, value string, arrival time.Time) {
	h.t.Helper()
	h.clock.Set(arrival.Add(time.Millisecond))
	h.sink.consume(topic, key, []byte(value), tester.WithTime(arrival))
}

// sweep runs the sweeper's round at processing time now: provisional updates, markers, flush.
func (h *harness) sweep(now time.Time) {
	h.t.Helper()
	h.clock.Set(now)
	if err := h.logic.sweep(context.Background(), now, h.sink.ends(), offsetTable{}); err != nil {
		h.t.Fatal(err)
	}
}

// quiet sweeps until the processor has written the markers that quiet inputs need: twice, the
// producer delay apart.
func (h *harness) quiet(now time.Time) {
	h.t.Helper()
	h.sweep(now)
	h.sweep(now.Add(window.DefaultConfig().ProducerDelay))
	h.tt.Catchup()
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
		switch {
		case a.LateCorrection:
			kind = "correction"
		case a.Final:
			kind = "final"
		}
		out = append(out, fmt.Sprintf("%s %s v%d chat=%d late=%d", a.WindowStart.AsTime().Format("15:04"), kind, a.Version, a.Chat.GetMessages(), a.LateEvents))
	}
}

func (h *harness) expectWindows(want ...string) {
	h.t.Helper()
	h.tt.Catchup()
	if got := h.windows(); strings.Join(got, "; ") != strings.Join(want, "; ") {
		h.t.Fatalf("aggregates:\n got %q\nwant %q", got, want)
	}
}

func (h *harness) state() *pb.ChannelState {
	h.tt.Catchup()
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
	h.expectWindows("10:00 prov v1 chat=1 late=0", "10:00 prov v2 chat=3 late=0")
	// chat arrives past 10:01:10, but the other inputs have said nothing: the window waits
	h.chat("1m12s", "alice", t0.Add(73*time.Second))
	h.expectWindows("10:01 prov v3 chat=1 late=0")
	// until markers move the silent inputs on, once chat has been past it for the producer delay
	h.quiet(t0.Add(74 * time.Second))
	h.expectWindows("10:00 final v4 chat=3 late=0")

	st := h.state()
	if st.EventsTotal != 4 || len(st.OpenWindows) != 1 || st.LastFinal.Chat.Messages != 3 {
		t.Fatalf("state = %v", st)
	}
	if a := st.AppliedOffsets; len(a) != 1 || a[0].Topic != kafka.TopicChat || a[0].Partition != 0 || a[0].Offset != 3 {
		t.Fatalf("applied offsets = %v", a)
	}
	if n := h.sink.ends()[kafka.TopicStreamMeta][0]; n != 1 {
		t.Fatalf("%d markers written to stream_meta, want 1", n)
	}
}

func TestBadInputGoesToTheDeadLetterTopic(t *testing.T) {
	h := newHarness(t)
	arrival := t0.Add(time.Minute)
	future := t0.Add(time.Hour).Format(time.RFC3339)
	for _, tc := range []struct {
		topic, key, value, reason, mentions string
	}{
		{kafka.TopicChat, "demo_stream", `{"message_id": broken`, kafka.ReasonInvalidEvent, ""},
		{kafka.TopicViewer, "demo_stream", `{"event_id":"123e4567-e89b-12d3-a456-426614174000","channel":"demo_stream","viewer_count":"many","chatter_count":1,"timestamp":"2025-10-16T10:00:00Z"}`, kafka.ReasonInvalidEvent, "viewer_count"},
		{kafka.TopicTransactions, "demo_stream", `{"transaction_id":"txn_a1b2c3d4e5f6g7h8","channel":"demo_stream","transaction_type":"refund","amount":5,"timestamp":"2025-10-16T10:00:00Z"}`, kafka.ReasonInvalidEvent, "transaction_type"},
		{kafka.TopicStreamMeta, "gaming", `{"event_id":"123e4567-e89b-12d3-a456-426614174000","channel":"demo_stream","event_type":"stream_start","title":"x","timestamp":"2025-10-16T10:00:00Z"}`, kafka.ReasonKeyMismatch, "gaming"},
		{kafka.TopicChat, "demo_stream", "\xff\xfe not utf-8", kafka.ReasonInvalidEvent, ""},
		{kafka.TopicViewer, "demo_stream", `{"event_id":"123e4567-e89b-12d3-a456-426614174000","channel":"demo_stream","viewer_count":5,"chatter_count":1,"timestamp":"` + future + `"}`, kafka.ReasonFutureTimestamp, "59m0s after the record's arrival"},
		{kafka.TopicStreamMeta, "demo_stream", `{"event_id":"123e4567-e89b-12d3-a456-426614174000","channel":"demo_stream","event_type":"stream_start","title":"x","timestamp":"1970-01-01T00:00:00Z"}`, kafka.ReasonPastTimestamp, "56y before the record's arrival"},
	} {
		h.raw(tc.topic, tc.key, tc.value, arrival)
		headers, key, raw, ok := h.dlq.NextRawWithHeaders()
		if !ok {
			t.Fatalf("%s: nothing dead-lettered for %s", tc.reason, tc.value)
		}
		if string(raw) != tc.value || key != tc.key {
			t.Errorf("dead letter holds %q/%q, want the original %q/%q", key, raw, tc.key, tc.value)
		}
		if got := string(headers[kafka.HeaderReason]); got != tc.reason {
			t.Errorf("reason %q, want %q (error: %s)", got, tc.reason, headers[kafka.HeaderError])
		}
		if string(headers[kafka.HeaderSourceTopic]) != tc.topic || len(headers[kafka.HeaderSourceOffset]) == 0 || len(headers[kafka.HeaderSourcePartition]) == 0 {
			t.Errorf("source headers = %v", headers)
		}
		if !strings.Contains(string(headers[kafka.HeaderError]), tc.mentions) {
			t.Errorf("error %q does not mention %q", headers[kafka.HeaderError], tc.mentions)
		}
	}
	// and processing goes on; nothing refused made the channel live
	h.chat("1m5s", "alice", t0.Add(66*time.Second))
	h.expectWindows("10:01 prov v1 chat=1 late=0")
	if st := h.state(); st.Status.GetLive() || st.Status.GetStartedAt() != nil {
		t.Fatalf("a refused stream_start changed the status: %v", st.Status)
	}
}

// TestAnEventOnTheWrongPartitionIsDeadLettered: goka keeps a channel's state on the partition
// its hash gives the channel; an event written elsewhere cannot be applied, and says where it
// belongs.
func TestAnEventOnTheWrongPartitionIsDeadLettered(t *testing.T) {
	// the tester has one partition: with two configured, "demo_stream" belongs to partition 1
	if p := kafka.PartitionForKey([]byte("demo_stream"), 2); p != 1 {
		t.Fatalf("demo_stream hashes to %d of 2", p)
	}
	h := newHarness(t, func(c *LogicConfig) { c.Partitions = 2 })
	h.chat("5s", "alice", t0.Add(6*time.Second))
	headers, _, _, ok := h.dlq.NextRawWithHeaders()
	if !ok || string(headers[kafka.HeaderReason]) != kafka.ReasonWrongPartition ||
		!strings.Contains(string(headers[kafka.HeaderError]), "puts it on partition 1") {
		t.Fatalf("dead letter %v (%v)", headers, ok)
	}
}

// TestLateEventsAreCountedOnTheirOwnWindow: a late event goes to the late topic and counts on
// the window its event time falls in, in the final record while the window is open, in a
// correction once it is final.
func TestLateEventsAreCountedOnTheirOwnWindow(t *testing.T) {
	h := newHarness(t)
	h.chat("50s", "alice", t0.Add(51*time.Second))
	h.chat("30s", "bob", t0.Add(71*time.Second)) // late: 10:00 took events until 10:01:10
	headers, key, raw, ok := h.late.NextRawWithHeaders()
	if !ok || key != "demo_stream" || !strings.Contains(string(raw), `"bob"`) {
		t.Fatalf("late topic: %q %q %v", key, raw, ok)
	}
	if string(headers[kafka.HeaderSourceOffset]) != "1" || string(headers[kafka.HeaderReason]) != kafka.ReasonLate ||
		!strings.Contains(string(headers[kafka.HeaderError]), "1s after its window") {
		t.Fatalf("late headers = %v", headers)
	}
	h.quiet(t0.Add(72 * time.Second))
	h.expectWindows("10:00 prov v1 chat=1 late=0", "10:00 prov v2 chat=1 late=1", "10:00 final v3 chat=1 late=1")
	h.chat("20s", "carol", t0.Add(80*time.Second)) // late again, after the final
	h.expectWindows("10:00 correction v4 chat=0 late=2")
	if st := h.state(); st.LateTotal != 2 || st.EventsTotal != 1 {
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
	h.expectWindows("10:00 prov v1 chat=1 late=0")
}

// TestAQuietChannelClosesByMarkers: nothing more arrives on any input. Once the wall clock is
// the producer delay past a window's close point, the processor writes markers into every
// input, and the window closes; an event for it after that is late.
func TestAQuietChannelClosesByMarkers(t *testing.T) {
	h := newHarness(t)
	h.chat("10s", "alice", t0.Add(11*time.Second))
	h.chat("10.5s", "bob", t0.Add(11500*time.Millisecond))
	h.expectWindows("10:00 prov v1 chat=1 late=0")
	h.sweep(t0.Add(13 * time.Second)) // the pending update goes out
	h.expectWindows("10:00 prov v2 chat=2 late=0")
	h.sweep(t0.Add(71 * time.Second)) // not the producer delay past 10:01:10 yet: wait
	h.sweep(t0.Add(72 * time.Second))
	h.expectWindows()
	h.quiet(t0.Add(73 * time.Second))
	h.expectWindows("10:00 final v3 chat=2 late=0")
	h.chat("12s", "carol", t0.Add(74*time.Second))
	h.expectWindows("10:00 correction v4 chat=0 late=1")
}

func TestStreamEndAndMoments(t *testing.T) {
	h := newHarness(t)
	h.raw(kafka.TopicStreamMeta, "demo_stream", `{"event_id":"123e4567-e89b-12d3-a456-426614174000","channel":"demo_stream","event_type":"stream_start","title":"Chill","category":"Art","timestamp":"2025-10-16T10:00:01Z"}`, t0.Add(time.Second))
	h.raw(kafka.TopicStreamMeta, "demo_stream", `{"event_id":"123e4567-e89b-12d3-a456-426614174001","channel":"demo_stream","event_type":"raid_incoming","title":"Chill","raid_from":"big_streamer","raid_viewers":300,"timestamp":"2025-10-16T10:00:02Z"}`, t0.Add(2*time.Second))
	h.chat("3s", "alice", t0.Add(4*time.Second))
	h.raw(kafka.TopicStreamMeta, "demo_stream", `{"event_id":"123e4567-e89b-12d3-a456-426614174002","channel":"demo_stream","event_type":"stream_end","title":"Chill","timestamp":"2025-10-16T10:00:04Z"}`, t0.Add(5*time.Second))
	h.expectWindows("10:00 prov v1 chat=0 late=0", "10:00 prov v2 chat=0 late=0", "10:00 prov v3 chat=1 late=0", "10:00 prov v4 chat=1 late=0")
	h.quiet(t0.Add(73 * time.Second))
	h.expectWindows("10:00 final v5 chat=1 late=0")

	_, v, ok := h.moments.Next()
	if !ok {
		t.Fatal("no raid moment")
	}
	m := v.(*pb.Moment)
	if m.Kind != pb.MomentKind_MOMENT_KIND_RAID || m.Id != fmt.Sprintf("raid-%d", t0.Add(2*time.Second).UnixMilli()) || m.Raid.Viewers != 300 {
		t.Fatalf("moment = %v", m)
	}
	if st := h.state(); st.Status.Live || st.Status.EndedAt == nil || st.Status.LastRaid.FromChannel != "big_streamer" || st.LastFinal.Status.Live {
		t.Fatalf("status = %v, last final's %v", st.Status, st.LastFinal.GetStatus())
	}
}

// TestTheClockSurvivesARestart: the partition's arrival clock is written with the states, so
// a processor that takes over judges the records after the commit exactly as the one before
// would have: an event that arrives behind the clock is late after the restart too.
func TestTheClockSurvivesARestart(t *testing.T) {
	tt := tester.New(t)
	first := startHarness(t, tt)
	first.chat("10s", "alice", t0.Add(5*time.Minute)) // chat's clock: 10:05
	first.expectWindows()                             // late: 10:00 stopped at 10:01:10
	if _, _, ok := first.late.Next(); !ok {
		t.Fatal("not late before the restart")
	}
	if v := tt.TableValue(first.logic.Table(), newClockKeys(1).key(0)); v == nil {
		t.Fatal("no clock in the table")
	}
	// the next owner recovers the table (goka's tester runs no processor after another stopped:
	// a new tester gets the table's contents)
	table := map[string]any{}
	for _, key := range tt.GetTableKeys(first.logic.Table()) {
		table[key] = tt.TableValue(first.logic.Table(), key)
	}
	first.stop()
	next := tester.New(t)
	second := startHarness(t, next)
	for key, v := range table {
		next.SetTableValue(first.logic.Table(), key, v)
	}
	// another channel of the partition (the new tester starts its offsets at 0 again, so
	// demo_stream's record would be a redelivery), stamped early, but chat is at 10:05
	second.raw(kafka.TopicChat, "other_stream", `{"message_id":"123e4567-e89b-12d3-a456-426614174000","channel":"other_stream","username":"bob","message":"hi","emotes":[],"sentiment_hint":"neutral","timestamp":"2025-10-16T10:02:00Z"}`,
		t0.Add(time.Minute+5*time.Second))
	if _, _, ok := second.late.Next(); !ok {
		t.Fatal("after the restart, an event that arrived behind the restored clock was not late")
	}
}
