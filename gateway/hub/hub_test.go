package hub

import (
	"context"
	"errors"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	pb "github.com/telemetra/telemetra/proto/telemetra/v1"
)

func TestKindMapping(t *testing.T) {
	tests := []struct {
		kind      Kind
		eventType pb.ChannelEventType
		payload   Event
	}{
		{KindProvisional, pb.ChannelEventType_CHANNEL_EVENT_TYPE_PROVISIONAL_WINDOW, provisional("a", 0, 1)},
		{KindFinal, pb.ChannelEventType_CHANNEL_EVENT_TYPE_FINAL_WINDOW, final("a", 0)},
		{KindMoment, pb.ChannelEventType_CHANNEL_EVENT_TYPE_MOMENT, moment("a", "m")},
		{KindStatus, pb.ChannelEventType_CHANNEL_EVENT_TYPE_STATUS, status("a", pb.StatusChangeReason_STATUS_CHANGE_REASON_STREAM_START)},
	}
	for _, tt := range tests {
		t.Run(tt.kind.String(), func(t *testing.T) {
			if got := tt.kind.EventType(); got != tt.eventType {
				t.Errorf("EventType() = %v, want %v", got, tt.eventType)
			}
			got, err := KindFromEventType(tt.eventType)
			if err != nil || got != tt.kind {
				t.Errorf("KindFromEventType(%v) = %v, %v; want %v", tt.eventType, got, err, tt.kind)
			}
			if got := KindOf(tt.payload.Payload); got != tt.kind {
				t.Errorf("KindOf = %v, want %v", got, tt.kind)
			}
		})
	}
	if _, err := KindFromEventType(pb.ChannelEventType_CHANNEL_EVENT_TYPE_UNSPECIFIED); err == nil {
		t.Error("KindFromEventType(UNSPECIFIED): want an error")
	}
	if got := KindOf(&pb.ChannelEvent{Event: &pb.ChannelEvent_Heartbeat{Heartbeat: &pb.Heartbeat{}}}); got != 0 {
		t.Errorf("KindOf(heartbeat) = %v, want 0", got)
	}
}

func TestFilter(t *testing.T) {
	published := []Event{
		provisional("a", 0, 1), final("a", 0), moment("a", "m1"), status("a", pb.StatusChangeReason_STATUS_CHANGE_REASON_STREAM_START),
		provisional("b", 0, 1), final("b", 0), moment("b", "m2"), status("b", pb.StatusChangeReason_STATUS_CHANGE_REASON_STREAM_END),
		final("c", 0),
	}
	all := []string{
		"a/provisional", "a/final", "a/moment", "a/status",
		"b/provisional", "b/final", "b/moment", "b/status",
		"c/final",
	}
	tests := []struct {
		name   string
		filter Filter
		want   []string
	}{
		{"empty means all", Filter{}, all},
		{"empty sets mean all", Filter{Channels: channels(), Kinds: kinds()}, all},
		{"one channel", Filter{Channels: channels("a")}, []string{"a/provisional", "a/final", "a/moment", "a/status"}},
		{"two channels", Filter{Channels: channels("a", "c")}, []string{"a/provisional", "a/final", "a/moment", "a/status", "c/final"}},
		{"unknown channel", Filter{Channels: channels("z")}, nil},
		{"one kind", Filter{Kinds: kinds(KindFinal)}, []string{"a/final", "b/final", "c/final"}},
		{"two kinds", Filter{Kinds: kinds(KindMoment, KindStatus)}, []string{"a/moment", "a/status", "b/moment", "b/status"}},
		{"channels and kinds", Filter{Channels: channels("b", "c"), Kinds: kinds(KindFinal, KindStatus)}, []string{"b/final", "b/status", "c/final"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := New()
			defer h.Close()
			s := mustSubscribe(t, h, tt.filter, nil)
			for _, ev := range published {
				h.Publish(ev)
			}
			var got []string
			for i, ev := range drain(t, s) {
				got = append(got, describe(ev))
				if ev.GetSequence() != uint64(i+1) {
					t.Errorf("event %d has sequence %d", i, ev.GetSequence())
				}
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("delivered %q, want %q", got, tt.want)
			}
		})
	}
}

func TestOrderAndSequence(t *testing.T) {
	clock := newFakeClock()
	h := New(WithClock(clock.Now))
	defer h.Close()
	s := mustSubscribe(t, h, Filter{}, nil)

	published := []Event{
		status("a", pb.StatusChangeReason_STATUS_CHANGE_REASON_STREAM_START),
		provisional("a", 0, 1),
		moment("a", "m1"),
		provisional("b", 0, 1),
		final("a", 0),
		final("b", 0),
	}
	for _, ev := range published {
		h.Publish(ev)
	}
	for i, want := range published {
		clock.Advance(time.Second)
		got := mustNext(t, s)
		if got.GetSequence() != uint64(i+1) {
			t.Errorf("event %d: sequence %d, want %d", i, got.GetSequence(), i+1)
		}
		if !got.GetEmittedAt().AsTime().Equal(clock.Now()) {
			t.Errorf("event %d: emitted_at %v, want %v", i, got.GetEmittedAt().AsTime(), clock.Now())
		}
		if got.GetSnapshot() {
			t.Errorf("event %d: live event marked snapshot", i)
		}
		if got.GetChannel() != want.Channel {
			t.Errorf("event %d: channel %q, want %q", i, got.GetChannel(), want.Channel)
		}
		// A shallow copy: the subscriber's own envelope around the shared payload.
		if got == want.Payload || got.GetEvent() != want.Payload.GetEvent() {
			t.Errorf("event %d: not a copy of the published payload", i)
		}
		if want.Payload.GetSequence() != 0 || want.Payload.GetEmittedAt() != nil {
			t.Errorf("event %d: the shared payload was modified", i)
		}
	}
}

func TestPublishDerivesEventFields(t *testing.T) {
	clock := newFakeClock()
	h := New(WithClock(clock.Now))
	defer h.Close()
	s := mustSubscribe(t, h, Filter{Channels: channels("a"), Kinds: kinds(KindFinal)}, nil)

	ev := final("a", 0)
	ev.Channel, ev.Kind = "", 0 // derived from the payload
	h.Publish(ev)
	h.Publish(Event{Channel: "a", Kind: KindFinal}) // nil payload: ignored
	got := drain(t, s)
	if len(got) != 1 || describe(got[0]) != "a/final" {
		t.Fatalf("delivered %d events, want the one final of a", len(got))
	}
}

func TestSnapshot(t *testing.T) {
	h := New()
	defer h.Close()
	snapshot := []Event{
		status("a", pb.StatusChangeReason_STATUS_CHANGE_REASON_STREAM_START),
		provisional("a", 5, 3),
		moment("b", "m1"), // not followed: filtered out
	}
	s := mustSubscribe(t, h, Filter{Channels: channels("a")}, snapshot)
	// Same CoalesceKey as the snapshot window: a live update, not coalesced into the snapshot.
	h.Publish(provisional("a", 5, 4))
	h.Publish(final("a", 5))

	got := drain(t, s)
	want := []struct {
		desc     string
		snapshot bool
	}{{"a/status", true}, {"a/provisional", true}, {"a/provisional", false}, {"a/final", false}}
	if len(got) != len(want) {
		t.Fatalf("delivered %d events, want %d", len(got), len(want))
	}
	for i, w := range want {
		if describe(got[i]) != w.desc || got[i].GetSnapshot() != w.snapshot || got[i].GetSequence() != uint64(i+1) {
			t.Errorf("event %d = %s snapshot=%v seq=%d, want %s snapshot=%v seq=%d",
				i, describe(got[i]), got[i].GetSnapshot(), got[i].GetSequence(), w.desc, w.snapshot, i+1)
		}
	}
	if v := got[1].GetWindow().GetVersion(); v != 3 {
		t.Errorf("snapshot window version %d, want 3", v)
	}
	if v := got[2].GetWindow().GetVersion(); v != 4 {
		t.Errorf("live window version %d, want 4", v)
	}
}

func TestSnapshotDoesNotCountAgainstBuffer(t *testing.T) {
	h := New(WithBufferSize(2))
	defer h.Close()
	snapshot := []Event{final("a", 0), final("a", 1), final("a", 2), final("a", 3)}
	s := mustSubscribe(t, h, Filter{}, snapshot)
	h.Publish(moment("a", "m1"))
	h.Publish(moment("a", "m2"))
	if n := h.Subscribers(); n != 1 {
		t.Fatalf("after filling the buffer: %d subscribers, want 1", n)
	}
	h.Publish(moment("a", "m3"))
	if n := h.Subscribers(); n != 0 {
		t.Fatalf("after overflowing the buffer: %d subscribers, want 0", n)
	}
	_, err := s.Next(t.Context())
	if !errors.Is(err, ErrSlowConsumer) || !strings.Contains(err.Error(), "6 events pending, buffer size 2") {
		t.Fatalf("Next = %v, want ErrSlowConsumer with 6 pending and buffer size 2", err)
	}
}

func TestCoalescing(t *testing.T) {
	withoutKey := provisional("a", 9, 1)
	withoutKey.CoalesceKey = ""
	finalWithKey := final("a", 0)
	finalWithKey.CoalesceKey = provisional("a", 0, 1).CoalesceKey

	// want lists the delivered events as "channel/kind@version" in order.
	tests := []struct {
		name          string
		publish       []Event
		want          []string
		wantCoalesced float64
	}{
		{
			name:    "newer update replaces pending one in place",
			publish: []Event{provisional("a", 0, 1), final("b", 0), provisional("a", 0, 2)},
			want:    []string{"a/provisional@2", "b/final@1"},
			// The update keeps the first one's position, ahead of b's final.
			wantCoalesced: 1,
		},
		{
			name: "keys are independent",
			publish: []Event{
				provisional("a", 0, 1), provisional("a", 1, 1), moment("a", "m"),
				provisional("a", 0, 2), provisional("a", 1, 2), provisional("a", 0, 3),
			},
			want:          []string{"a/provisional@3", "a/provisional@2", "a/moment@0"},
			wantCoalesced: 3,
		},
		{
			name:          "same key on another channel is not the same key",
			publish:       []Event{provisional("a", 0, 1), provisional("b", 0, 2)},
			want:          []string{"a/provisional@1", "b/provisional@2"},
			wantCoalesced: 0,
		},
		{
			name:          "empty key never coalesces",
			publish:       []Event{withoutKey, withoutKey},
			want:          []string{"a/provisional@1", "a/provisional@1"},
			wantCoalesced: 0,
		},
		{
			name:          "finals are never coalesced or replace a provisional",
			publish:       []Event{provisional("a", 0, 1), finalWithKey, finalWithKey},
			want:          []string{"a/provisional@1", "a/final@1", "a/final@1"},
			wantCoalesced: 0,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			metrics := NewMetrics(newRegistry())
			h := New(WithMetrics(metrics))
			defer h.Close()
			s := mustSubscribe(t, h, Filter{}, nil)
			for _, ev := range tt.publish {
				h.Publish(ev)
			}
			var got []string
			for i, ev := range drain(t, s) {
				got = append(got, describe(ev)+"@"+itoa(ev.GetWindow().GetVersion()))
				if ev.GetSequence() != uint64(i+1) {
					t.Errorf("event %d has sequence %d", i, ev.GetSequence())
				}
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("delivered %q, want %q", got, tt.want)
			}
			if c := counterValue(metrics.coalesced); c != tt.wantCoalesced {
				t.Errorf("coalesced = %v, want %v", c, tt.wantCoalesced)
			}
		})
	}
}

func TestCoalescingAfterDeliveryAppends(t *testing.T) {
	h := New()
	defer h.Close()
	s := mustSubscribe(t, h, Filter{}, nil)
	h.Publish(provisional("a", 0, 1))
	if v := mustNext(t, s).GetWindow().GetVersion(); v != 1 {
		t.Fatalf("first version %d, want 1", v)
	}
	// The delivered update is gone from the queue: the next one is new, not a replacement.
	h.Publish(provisional("a", 0, 2))
	h.Publish(provisional("a", 0, 3))
	got := drain(t, s)
	if len(got) != 1 || got[0].GetWindow().GetVersion() != 3 || got[0].GetSequence() != 2 {
		t.Fatalf("got %d events (first %v), want version 3 with sequence 2", len(got), got)
	}
}

// TestSlowConsumer runs a subscriber that never calls Next next to one that
// reads concurrently. The publisher waits until the fast subscriber has each
// event before publishing the next, so the fast one never has anything to
// coalesce and every count is exact.
func TestSlowConsumer(t *testing.T) {
	const (
		bufferSize       = 8
		provisionalCount = 100
		provisionalKeys  = 3 // windows 0..2 of channel a
		distinctCount    = 20
	)
	reg := newRegistry()
	metrics := NewMetrics(reg)
	h := New(WithBufferSize(bufferSize), WithMetrics(metrics))
	defer h.Close()

	slow := mustSubscribe(t, h, Filter{}, nil)
	fast := mustSubscribe(t, h, Filter{}, nil)

	received := make(chan *pb.ChannelEvent)
	readerDone := make(chan error, 1)
	go func() {
		for {
			ev, err := fast.Next(context.Background())
			if err != nil {
				readerDone <- err
				return
			}
			received <- ev
		}
	}()

	var published []Event
	var delivered []*pb.ChannelEvent
	publish := func(ev Event) {
		h.Publish(ev)
		published = append(published, ev)
		select {
		case got := <-received:
			delivered = append(delivered, got)
		case <-time.After(waitTimeout):
			t.Fatalf("fast subscriber did not receive event %d", len(published))
		}
	}

	// Phase 1: provisional updates of a few keys are coalesced for the slow subscriber.
	for i := range provisionalCount {
		publish(provisional("a", i%provisionalKeys, uint64(i+1)))
	}
	if n := h.Subscribers(); n != 2 {
		t.Fatalf("after %d provisional updates of %d keys: %d subscribers, want 2", provisionalCount, provisionalKeys, n)
	}
	if c := counterValue(metrics.coalesced); c != provisionalCount-provisionalKeys {
		t.Fatalf("coalesced = %v, want %d", c, provisionalCount-provisionalKeys)
	}

	// Phase 2: distinct events fill the slow subscriber's queue (3 pending + 5)
	// and the 6th drops it; the fast subscriber keeps receiving.
	for i := range distinctCount {
		if i%2 == 0 {
			publish(final("a", 10+i))
		} else {
			publish(moment("a", "m"+itoa(uint64(i))))
		}
		wantSubscribers := 2
		if i >= bufferSize-provisionalKeys {
			wantSubscribers = 1
		}
		if n := h.Subscribers(); n != wantSubscribers {
			t.Fatalf("after distinct event %d: %d subscribers, want %d", i, n, wantSubscribers)
		}
	}

	if len(delivered) != provisionalCount+distinctCount {
		t.Fatalf("fast subscriber received %d events, want %d", len(delivered), provisionalCount+distinctCount)
	}
	for i, got := range delivered {
		if got.GetSequence() != uint64(i+1) || got.GetEvent() != published[i].Payload.GetEvent() {
			t.Fatalf("fast subscriber event %d: sequence %d, or not the published payload", i, got.GetSequence())
		}
	}

	// The slow subscriber learns at once, without the 8 events it had pending.
	for range 2 {
		ev, err := slow.Next(t.Context())
		if !errors.Is(err, ErrSlowConsumer) || ev != nil {
			t.Fatalf("slow Next = %v, %v; want ErrSlowConsumer", ev, err)
		}
		if !strings.Contains(err.Error(), "8 events pending, buffer size 8") {
			t.Errorf("error %q does not say 8 events pending with buffer size 8", err)
		}
	}

	checkCounter(t, "published", metrics.published, provisionalCount+distinctCount)
	checkCounter(t, "delivered", metrics.delivered, provisionalCount+distinctCount)
	checkCounter(t, "coalesced", metrics.coalesced, provisionalCount-provisionalKeys)
	checkCounter(t, "dropped slow", metrics.dropped.WithLabelValues(dropReasonSlow), 1)
	checkGauge(t, "subscribers", metrics.subscribers, 1)

	fast.Close()
	if err := <-readerDone; !errors.Is(err, ErrSubscriptionClosed) {
		t.Fatalf("fast reader ended with %v, want ErrSubscriptionClosed", err)
	}
}

// TestSlowConsumerUnderLoad publishes without waiting for each event while a
// fast subscriber reads concurrently; the publisher only holds back when the
// fast subscriber is half a buffer behind, so it can never be dropped, while
// one that never reads is dropped after exactly one buffer of events.
func TestSlowConsumerUnderLoad(t *testing.T) {
	const (
		bufferSize = 64
		events     = 2000
	)
	metrics := NewMetrics(newRegistry())
	h := New(WithBufferSize(bufferSize), WithMetrics(metrics))
	defer h.Close()
	fast := mustSubscribe(t, h, Filter{}, nil)
	slow := mustSubscribe(t, h, Filter{}, nil)

	var received atomic.Int64
	var got []*pb.ChannelEvent
	var readErr error
	var wg sync.WaitGroup
	wg.Go(func() {
		for len(got) < events {
			ev, err := mustNextOrErr(fast)
			if err != nil {
				readErr = err
				return
			}
			got = append(got, ev)
			received.Add(1)
		}
	})

	published := make([]Event, events)
	deadline := time.Now().Add(waitTimeout)
	for i := range published {
		for int64(i)-received.Load() >= bufferSize/2 {
			if time.Now().After(deadline) {
				t.Fatalf("fast subscriber stuck at %d of %d events", received.Load(), i)
			}
			runtime.Gosched()
		}
		if i%2 == 0 {
			published[i] = final("a", i)
		} else {
			published[i] = moment("b", itoa(uint64(i)))
		}
		h.Publish(published[i])
		if wantSubscribers := 2 - min(i/bufferSize, 1); h.Subscribers() != wantSubscribers {
			t.Fatalf("after event %d: %d subscribers, want %d", i, h.Subscribers(), wantSubscribers)
		}
	}
	wg.Wait()
	if readErr != nil {
		t.Fatalf("fast subscriber: %v after %d events", readErr, len(got))
	}
	if len(got) != events {
		t.Fatalf("fast subscriber received %d events, want %d", len(got), events)
	}
	for i, ev := range got {
		if ev.GetSequence() != uint64(i+1) || ev.GetEvent() != published[i].Payload.GetEvent() {
			t.Fatalf("event %d out of order (sequence %d)", i, ev.GetSequence())
		}
	}
	if _, err := slow.Next(t.Context()); !errors.Is(err, ErrSlowConsumer) ||
		!strings.Contains(err.Error(), "64 events pending, buffer size 64") {
		t.Errorf("slow Next = %v, want ErrSlowConsumer with 64 pending", err)
	}
	checkCounter(t, "dropped slow", metrics.dropped.WithLabelValues(dropReasonSlow), 1)
	checkCounter(t, "delivered", metrics.delivered, events)
	checkCounter(t, "coalesced", metrics.coalesced, 0)
}

func mustNextOrErr(s *Subscription) (*pb.ChannelEvent, error) {
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	return s.Next(ctx)
}

func TestHeartbeat(t *testing.T) {
	t.Run("injected clock", func(t *testing.T) {
		clock := newFakeClock()
		h := New(WithClock(clock.Now), WithHeartbeat(15*time.Second))
		defer h.Close()
		s := mustSubscribe(t, h, Filter{}, nil)

		clock.Advance(10 * time.Second)
		if ev, err := nextWithin(s, 30*time.Millisecond); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("10s after subscribing: Next = %v, %v; want nothing yet", ev, err)
		}
		clock.Advance(5 * time.Second)
		hb := mustNext(t, s)
		if hb.GetHeartbeat() == nil || hb.GetSequence() != 1 || hb.GetChannel() != "" {
			t.Fatalf("15s after subscribing: got %v, want a heartbeat with sequence 1", hb)
		}
		if hb.GetHeartbeat().GetDroppedEvents() != 0 {
			t.Errorf("dropped_events = %d, want 0", hb.GetHeartbeat().GetDroppedEvents())
		}
		if !hb.GetEmittedAt().AsTime().Equal(clock.Now()) {
			t.Errorf("emitted_at %v, want %v", hb.GetEmittedAt().AsTime(), clock.Now())
		}

		// An event resets the interval.
		clock.Advance(14 * time.Second)
		h.Publish(final("a", 0))
		if ev := mustNext(t, s); ev.GetHeartbeat() != nil || ev.GetSequence() != 2 {
			t.Fatalf("got %v, want the final with sequence 2", ev)
		}
		clock.Advance(14 * time.Second)
		if ev, err := nextWithin(s, 30*time.Millisecond); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("14s after the last event: Next = %v, %v; want nothing yet", ev, err)
		}
		clock.Advance(time.Second)
		if ev := mustNext(t, s); ev.GetHeartbeat() == nil || ev.GetSequence() != 3 {
			t.Fatalf("got %v, want a heartbeat with sequence 3", ev)
		}
	})

	t.Run("short interval", func(t *testing.T) {
		// the real clock and timers, in a bubble: its fake time moves only when every goroutine
		// waits, so each heartbeat comes exactly one interval after the last
		synctest.Test(t, func(t *testing.T) {
			const interval = 30 * time.Millisecond
			h := New(WithHeartbeat(interval))
			defer h.Close()
			s := mustSubscribe(t, h, Filter{}, nil)
			for i := range 2 {
				start := time.Now()
				ev := mustNext(t, s)
				if ev.GetHeartbeat() == nil || ev.GetSequence() != uint64(i+1) {
					t.Fatalf("got %v, want heartbeat %d", ev, i+1)
				}
				if elapsed := time.Since(start); elapsed != interval {
					t.Errorf("heartbeat %d after %v, want %v", i+1, elapsed, interval)
				}
			}
		})
	})
}

func nextWithin(s *Subscription, d time.Duration) (*pb.ChannelEvent, error) {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	return s.Next(ctx)
}

func TestHubClose(t *testing.T) {
	reg := newRegistry()
	metrics := NewMetrics(reg)
	h := New(WithMetrics(metrics))
	waiting := mustSubscribe(t, h, Filter{}, nil)
	withPending := mustSubscribe(t, h, Filter{}, nil)
	h.Publish(final("a", 0))
	_ = mustNext(t, waiting)

	result := make(chan error, 1)
	go func() {
		_, err := waiting.Next(context.Background())
		result <- err
	}()
	h.Close()
	select {
	case err := <-result:
		if !errors.Is(err, ErrHubClosed) {
			t.Errorf("blocked Next = %v, want ErrHubClosed", err)
		}
	case <-time.After(waitTimeout):
		t.Fatal("blocked Next did not return after Close")
	}
	if _, err := withPending.Next(t.Context()); !errors.Is(err, ErrHubClosed) {
		t.Errorf("Next with a pending event = %v, want ErrHubClosed", err)
	}
	if n := h.Subscribers(); n != 0 {
		t.Errorf("Subscribers() = %d, want 0", n)
	}
	checkGauge(t, "subscribers", metrics.subscribers, 0)
	if _, err := h.Subscribe(Filter{}, nil); !errors.Is(err, ErrHubClosed) {
		t.Errorf("Subscribe after Close = %v, want ErrHubClosed", err)
	}
	h.Publish(final("a", 1)) // no subscribers, no panic
	h.Close()                // idempotent
	withPending.Close()      // already ended: keeps ErrHubClosed
	if _, err := withPending.Next(t.Context()); !errors.Is(err, ErrHubClosed) {
		t.Errorf("Next after Close of both = %v, want ErrHubClosed", err)
	}
}

func TestSubscriptionClose(t *testing.T) {
	h := New()
	defer h.Close()
	closing := mustSubscribe(t, h, Filter{}, nil)
	other := mustSubscribe(t, h, Filter{}, nil)

	result := make(chan error, 1)
	go func() {
		_, err := closing.Next(context.Background())
		result <- err
	}()
	closing.Close()
	select {
	case err := <-result:
		if !errors.Is(err, ErrSubscriptionClosed) {
			t.Errorf("blocked Next = %v, want ErrSubscriptionClosed", err)
		}
	case <-time.After(waitTimeout):
		t.Fatal("blocked Next did not return after Close")
	}
	closing.Close() // idempotent
	if n := h.Subscribers(); n != 1 {
		t.Errorf("Subscribers() = %d, want 1", n)
	}
	h.Publish(final("a", 0))
	if ev := mustNext(t, other); describe(ev) != "a/final" {
		t.Errorf("other subscriber got %s, want a/final", describe(ev))
	}
}

func TestNextContext(t *testing.T) {
	h := New()
	defer h.Close()
	s := mustSubscribe(t, h, Filter{}, nil)

	t.Run("blocked Next returns on cancel", func(t *testing.T) {
		// in a bubble of its own, so the test knows when Next is blocked (synctest.Wait)
		synctest.Test(t, func(t *testing.T) {
			h := New()
			defer h.Close()
			s := mustSubscribe(t, h, Filter{}, nil)
			ctx, cancel := context.WithCancel(t.Context())
			result := make(chan error, 1)
			go func() {
				_, err := s.Next(ctx)
				result <- err
			}()
			synctest.Wait() // Next is blocked, waiting for an event or its heartbeat
			cancel()
			if err := <-result; !errors.Is(err, context.Canceled) {
				t.Errorf("Next = %v, want context.Canceled", err)
			}
		})
	})

	t.Run("deadline", func(t *testing.T) {
		if _, err := nextWithin(s, 10*time.Millisecond); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Next = %v, want context.DeadlineExceeded", err)
		}
	})

	t.Run("cancelled context leaves pending events", func(t *testing.T) {
		h.Publish(final("a", 0))
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		if _, err := s.Next(ctx); !errors.Is(err, context.Canceled) {
			t.Fatalf("Next = %v, want context.Canceled", err)
		}
		if ev := mustNext(t, s); describe(ev) != "a/final" || ev.GetSequence() != 1 {
			t.Errorf("next event %s with sequence %d, want a/final with sequence 1", describe(ev), ev.GetSequence())
		}
		if n := h.Subscribers(); n != 1 {
			t.Errorf("Subscribers() = %d, want 1", n)
		}
	})
}

func TestMaxSubscribers(t *testing.T) {
	h := New(WithMaxSubscribers(2), WithBufferSize(1))
	defer h.Close()
	first := mustSubscribe(t, h, Filter{}, nil)
	_ = mustSubscribe(t, h, Filter{Channels: channels("b")}, nil)
	_, err := h.Subscribe(Filter{}, nil)
	if !errors.Is(err, ErrTooManySubscribers) || !strings.Contains(err.Error(), "limit is 2") {
		t.Fatalf("third Subscribe = %v, want ErrTooManySubscribers with the limit", err)
	}

	first.Close()
	third := mustSubscribe(t, h, Filter{}, nil)

	// A subscriber dropped as slow frees its place too.
	h.Publish(final("a", 0))
	h.Publish(final("a", 1))
	if _, err := third.Next(t.Context()); !errors.Is(err, ErrSlowConsumer) {
		t.Fatalf("third Next = %v, want ErrSlowConsumer", err)
	}
	_ = mustSubscribe(t, h, Filter{}, nil)
	if n := h.Subscribers(); n != 2 {
		t.Errorf("Subscribers() = %d, want 2", n)
	}
}

func TestInitialHeartbeat(t *testing.T) {
	h := New(WithInitialHeartbeat())
	defer h.Close()
	s := mustSubscribe(t, h, Filter{}, nil)
	ev, err := nextWithin(s, time.Second)
	if err != nil || ev.GetHeartbeat() == nil || ev.GetSequence() != 1 {
		t.Fatalf("first Next = %v, %v; want heartbeat 1 at once", ev, err)
	}
	h.Publish(final("a", 1))
	if ev := mustNext(t, s); describe(ev) != "a/final" || ev.GetSequence() != 2 {
		t.Fatalf("then %s with sequence %d", describe(ev), ev.GetSequence())
	}
}

func TestDefaultsUnlimited(t *testing.T) {
	h := New(WithMaxSubscribers(0), WithBufferSize(0), WithHeartbeat(0), WithClock(nil))
	defer h.Close()
	if h.cfg.bufferSize != DefaultBufferSize || h.cfg.heartbeat != DefaultHeartbeat || h.cfg.now == nil {
		t.Fatalf("invalid option values changed the defaults: %+v", h.cfg)
	}
	for i := range 50 {
		if _, err := h.Subscribe(Filter{}, nil); err != nil {
			t.Fatalf("Subscribe %d: %v", i, err)
		}
	}
}
