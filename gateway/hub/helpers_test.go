package hub

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	pb "github.com/telemetra/telemetra/proto/telemetra/v1"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// fakeClock is an injectable clock that only moves when told to.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

var windowBase = time.Date(2026, 3, 1, 11, 0, 0, 0, time.UTC)

// windowEvent is a window update for the minute-th window of channel; its
// CoalesceKey is channel + window start, as the gateway's consumer builds it.
func windowEvent(channel string, minute int, version uint64, final bool) Event {
	start := windowBase.Add(time.Duration(minute) * time.Minute)
	kind := KindProvisional
	if final {
		kind = KindFinal
	}
	return Event{
		Channel:     channel,
		Kind:        kind,
		CoalesceKey: fmt.Sprintf("%s/%d", channel, start.Unix()),
		Payload: &pb.ChannelEvent{
			Channel: channel,
			Event: &pb.ChannelEvent_Window{Window: &pb.WindowMetrics{
				Channel:     channel,
				WindowStart: timestamppb.New(start),
				WindowEnd:   timestamppb.New(start.Add(time.Minute)),
				Final:       final,
				Version:     version,
			}},
		},
	}
}

func provisional(channel string, minute int, version uint64) Event {
	return windowEvent(channel, minute, version, false)
}

func final(channel string, minute int) Event { return windowEvent(channel, minute, 1, true) }

func moment(channel, id string) Event {
	return Event{
		Channel: channel,
		Kind:    KindMoment,
		Payload: &pb.ChannelEvent{
			Channel: channel,
			Event:   &pb.ChannelEvent_Moment{Moment: &pb.Moment{Id: id, Channel: channel}},
		},
	}
}

func status(channel string, reason pb.StatusChangeReason) Event {
	return Event{
		Channel: channel,
		Kind:    KindStatus,
		Payload: &pb.ChannelEvent{
			Channel: channel,
			Event:   &pb.ChannelEvent_Status{Status: &pb.StatusChange{Reason: reason}},
		},
	}
}

// describe names a delivered event for comparisons: "channel/kind".
func describe(ev *pb.ChannelEvent) string {
	if ev.GetHeartbeat() != nil {
		return "heartbeat"
	}
	return ev.GetChannel() + "/" + KindOf(ev).String()
}

// waitTimeout bounds every wait that should succeed, so a bug fails the test
// instead of hanging it.
const waitTimeout = 5 * time.Second

// mustNext returns the subscription's next event or fails the test.
func mustNext(t *testing.T, s *Subscription) *pb.ChannelEvent {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), waitTimeout)
	defer cancel()
	ev, err := s.Next(ctx)
	if err != nil {
		t.Fatalf("Next: %v", err)
	}
	return ev
}

// drain returns the events already pending: it stops at the first Next that
// has to wait longer than a short grace period.
func drain(t *testing.T, s *Subscription) []*pb.ChannelEvent {
	t.Helper()
	var out []*pb.ChannelEvent
	for {
		ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
		ev, err := s.Next(ctx)
		cancel()
		if errors.Is(err, context.DeadlineExceeded) {
			return out
		}
		if err != nil {
			t.Fatalf("Next after %d events: %v", len(out), err)
		}
		out = append(out, ev)
	}
}

func mustSubscribe(t *testing.T, h *Hub, f Filter, snapshot []Event) *Subscription {
	t.Helper()
	s, err := h.Subscribe(f, snapshot)
	if err != nil {
		t.Fatalf("Subscribe: %v", err)
	}
	return s
}

func channels(names ...string) map[string]struct{} {
	set := make(map[string]struct{}, len(names))
	for _, n := range names {
		set[n] = struct{}{}
	}
	return set
}

func kinds(ks ...Kind) map[Kind]struct{} {
	set := make(map[Kind]struct{}, len(ks))
	for _, k := range ks {
		set[k] = struct{}{}
	}
	return set
}
