package hub

import (
	"context"
	"fmt"
	"sync"
	"time"

	pb "github.com/telemetra/telemetra/proto/telemetra/v1"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// Subscription is one subscriber's view of the hub. Next must not be called
// concurrently with itself (like a stream's Recv); Close may be called from
// any goroutine.
type Subscription struct {
	hub    *Hub
	filter Filter // read-only after Subscribe

	// notify has capacity 1: Publish (when the queue stops being empty) and
	// end leave a token without blocking, and Next rechecks the queue after
	// taking it, so no wakeup is lost.
	notify chan struct{}

	mu    sync.Mutex
	queue eventQueue
	err   error // set once when the subscription ends

	// Owned by Next.
	sequence uint64
	lastSent time.Time
}

type offerResult int

const (
	offerQueued offerResult = iota
	offerCoalesced
	offerDropped // the queue was full: the subscription has ended as slow
	offerIgnored // the subscription had already ended
)

// offer queues ev for the subscriber, applying the slow-consumer policy.
func (s *Subscription) offer(ev *Event) offerResult {
	s.mu.Lock()
	if s.err != nil {
		s.mu.Unlock()
		return offerIgnored
	}
	if s.queue.coalesce(ev) {
		s.mu.Unlock()
		return offerCoalesced // already signalled when the replaced event was queued
	}
	if live := s.queue.live(); live >= s.hub.cfg.bufferSize {
		s.err = fmt.Errorf("%w: %d events pending, buffer size %d",
			ErrSlowConsumer, s.queue.count, s.hub.cfg.bufferSize)
		s.queue.release()
		s.mu.Unlock()
		s.signal()
		return offerDropped
	}
	wasEmpty := s.queue.count == 0
	s.queue.push(pending{event: *ev})
	s.mu.Unlock()
	// Next waits only after finding the queue empty under the lock, so only
	// the push that ends an empty queue needs to wake it; skipping the others
	// saves a channel operation per event for a reader that is behind.
	if wasEmpty {
		s.signal()
	}
	return offerQueued
}

func (s *Subscription) signal() {
	select {
	case s.notify <- struct{}{}:
	default: // a wakeup is already pending
	}
}

// end ends the subscription with err unless it has already ended, releasing
// its pending events, and wakes a waiting Next.
func (s *Subscription) end(err error) bool {
	s.mu.Lock()
	if s.err != nil {
		s.mu.Unlock()
		return false
	}
	s.err = err
	s.queue.release()
	s.mu.Unlock()
	s.signal()
	return true
}

// Next blocks until the next event, returning it with the next sequence
// number (1, 2, 3, ... per subscription, heartbeats included) and emitted_at
// set. If nothing was sent for the heartbeat interval it returns a Heartbeat.
// It returns ctx's error when ctx is done (the subscription stays usable),
// and the subscription's terminal error once it has ended: ErrSlowConsumer
// (immediately, without delivering the pending events), ErrHubClosed or
// ErrSubscriptionClosed.
func (s *Subscription) Next(ctx context.Context) (*pb.ChannelEvent, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("hub: waiting for the next event: %w", err)
	}
	var heartbeat *time.Timer
	for {
		s.mu.Lock()
		if s.err != nil {
			err := s.err
			s.mu.Unlock()
			return nil, err
		}
		p, ok := s.queue.pop()
		s.mu.Unlock()
		if ok {
			return s.deliver(&p), nil
		}

		if heartbeat == nil {
			// Due one interval after the last message; the clock decides when
			// that is, a real timer does the waiting.
			wait := s.hub.cfg.heartbeat - s.hub.cfg.now().Sub(s.lastSent)
			if wait <= 0 {
				return s.deliverHeartbeat(), nil
			}
			heartbeat = time.NewTimer(wait)
			defer heartbeat.Stop()
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("hub: waiting for the next event: %w", ctx.Err())
		case <-s.notify:
			// Recheck the queue and the terminal error.
		case <-heartbeat.C:
			return s.deliverHeartbeat(), nil
		}
	}
}

// deliver builds the subscriber's copy of a queued event.
func (s *Subscription) deliver(p *pending) *pb.ChannelEvent {
	now := s.hub.cfg.now()
	out := s.stamp(now, &pb.ChannelEvent{
		Channel:  p.event.Payload.GetChannel(),
		Snapshot: p.snapshot,
		Event:    p.event.Payload.GetEvent(), // shared oneof, read-only
	})
	if out.Channel == "" {
		out.Channel = p.event.Channel
	}
	s.hub.cfg.metrics.observeDelivery(now.Sub(p.event.Published), !p.snapshot)
	return out
}

func (s *Subscription) deliverHeartbeat() *pb.ChannelEvent {
	// dropped_events stays 0: the hub drops whole subscribers, never single
	// events, and coalesced updates are not counted.
	return s.stamp(s.hub.cfg.now(), &pb.ChannelEvent{
		Event: &pb.ChannelEvent_Heartbeat{Heartbeat: &pb.Heartbeat{}},
	})
}

func (s *Subscription) stamp(now time.Time, ev *pb.ChannelEvent) *pb.ChannelEvent {
	s.sequence++
	s.lastSent = now
	ev.Sequence = s.sequence
	ev.EmittedAt = timestamppb.New(now)
	return ev
}

// Close ends the subscription: it leaves the hub, its pending events are
// released and Next returns ErrSubscriptionClosed. Close is idempotent and
// does nothing if the subscription has already ended.
func (s *Subscription) Close() {
	if s.end(ErrSubscriptionClosed) {
		s.hub.remove(s)
	}
}
