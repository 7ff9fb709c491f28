package hub

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	pb "github.com/telemetra/telemetra/proto/telemetra/v1"
)

// Errors that end a subscription or refuse one. They are wrapped with
// details; test with errors.Is.
var (
	ErrSlowConsumer       = errors.New("hub: subscriber dropped as too slow")
	ErrHubClosed          = errors.New("hub: closed")
	ErrSubscriptionClosed = errors.New("hub: subscription closed")
	ErrTooManySubscribers = errors.New("hub: too many subscribers")
)

// Event is one event to fan out.
type Event struct {
	// Channel is the channel key the event is about, used by Filter; Publish
	// takes it from Payload.Channel if empty.
	Channel string
	// Kind is used by Filter and for coalescing; Publish derives it from the
	// payload (KindOf) if zero.
	Kind Kind
	// Payload is the ChannelEvent to send, without sequence and emitted_at.
	// It is shared by all subscribers and must not be changed after Publish:
	// each subscription sends a shallow copy with its own sequence and
	// emitted_at.
	Payload *pb.ChannelEvent
	// CoalesceKey identifies what a provisional update replaces, e.g. channel
	// + window start: a pending provisional event with the same key is
	// replaced by the newer one in place, keeping its queue position. Empty
	// means never coalesce.
	CoalesceKey string
	// Published is when the hub received the event, for delivery latency;
	// set by Publish (from the hub's clock) if zero.
	Published time.Time
}

// Filter selects the events a subscriber receives. Heartbeats are always sent.
type Filter struct {
	Channels map[string]struct{} // channel keys; empty: all channels
	Kinds    map[Kind]struct{}   // empty: all kinds
}

// Match reports whether ev passes the filter.
func (f *Filter) Match(ev *Event) bool {
	if len(f.Channels) > 0 {
		if _, ok := f.Channels[ev.Channel]; !ok {
			return false
		}
	}
	if len(f.Kinds) > 0 {
		if _, ok := f.Kinds[ev.Kind]; !ok {
			return false
		}
	}
	return true
}

// Hub fans published events out to subscriptions. Its methods are safe for
// concurrent use.
type Hub struct {
	cfg config

	// subscribers is replaced, never modified (copy on write), so that Publish
	// walks it without holding a hub-wide lock. Writers hold mu.
	subscribers atomic.Pointer[[]*Subscription]
	mu          sync.Mutex
	closed      bool
}

// New returns a hub configured by opts.
func New(opts ...Option) *Hub {
	cfg := defaultConfig()
	for _, o := range opts {
		o.apply(&cfg)
	}
	h := &Hub{cfg: cfg}
	h.subscribers.Store(new([]*Subscription))
	h.cfg.metrics.setSubscribers(0)
	return h
}

// normalize fills the fields Publish and Subscribe may derive.
func (h *Hub) normalize(ev *Event) {
	if ev.Channel == "" {
		ev.Channel = ev.Payload.GetChannel()
	}
	if ev.Kind == 0 {
		ev.Kind = KindOf(ev.Payload)
	}
	if ev.Published.IsZero() {
		ev.Published = h.cfg.now()
	}
}

// Publish queues ev for every subscriber whose filter matches it. It never
// waits for a subscriber: it takes each matching subscriber's lock only to
// queue the event, coalescing it or dropping the subscriber as described in
// the package documentation. Events with a nil Payload are ignored. Events of
// concurrent Publish calls may be queued in different orders for different
// subscribers; one publisher (the consumer loop) gives every subscriber the
// same order.
func (h *Hub) Publish(ev Event) {
	if ev.Payload == nil {
		return
	}
	h.normalize(&ev)
	m := h.cfg.metrics
	m.incPublished()
	coalesced := 0
	for _, s := range *h.subscribers.Load() {
		if !s.filter.Match(&ev) {
			continue
		}
		switch s.offer(&ev) {
		case offerCoalesced:
			coalesced++
		case offerDropped:
			m.incDropped(dropReasonSlow)
			h.remove(s) // a concurrent Close may have removed it already
		}
	}
	m.addCoalesced(coalesced)
}

// Subscribe registers a subscriber for the events matching f. The snapshot
// events that match f are queued first, marked snapshot = true; they do not
// count against the buffer size and are not coalesced. The hub keeps f, so
// its maps must not be changed afterwards. Subscribe returns
// ErrHubClosed after Close and ErrTooManySubscribers beyond
// WithMaxSubscribers.
func (h *Hub) Subscribe(f Filter, snapshot []Event) (*Subscription, error) {
	s := &Subscription{
		hub:    h,
		filter: f,
		notify: make(chan struct{}, 1),
		queue:  newEventQueue(h.cfg.bufferSize + len(snapshot)),
	}
	for _, ev := range snapshot {
		if ev.Payload == nil {
			continue
		}
		h.normalize(&ev)
		if f.Match(&ev) {
			s.queue.push(pending{event: ev, snapshot: true})
		}
	}
	// Queued before the subscriber is visible to Publish, so snapshot events
	// come before every live one.
	if !h.cfg.initialHeartbeat {
		s.lastSent = h.cfg.now()
	}

	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil, ErrHubClosed
	}
	current := *h.subscribers.Load()
	if h.cfg.maxSubscribers > 0 && len(current) >= h.cfg.maxSubscribers {
		return nil, fmt.Errorf("%w: limit is %d", ErrTooManySubscribers, h.cfg.maxSubscribers)
	}
	next := make([]*Subscription, len(current), len(current)+1)
	copy(next, current)
	next = append(next, s)
	h.subscribers.Store(&next)
	h.cfg.metrics.setSubscribers(len(next))
	return s, nil
}

// remove unregisters s and reports whether it was registered.
func (h *Hub) remove(s *Subscription) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	current := *h.subscribers.Load()
	i := indexOf(current, s)
	if i < 0 {
		return false
	}
	next := make([]*Subscription, 0, len(current)-1)
	next = append(next, current[:i]...)
	next = append(next, current[i+1:]...)
	h.subscribers.Store(&next)
	h.cfg.metrics.setSubscribers(len(next))
	return true
}

func indexOf(subs []*Subscription, s *Subscription) int {
	for i, candidate := range subs {
		if candidate == s {
			return i
		}
	}
	return -1
}

// Close ends every subscription with ErrHubClosed and refuses new ones.
// Pending events are not delivered. Close is idempotent.
func (h *Hub) Close() {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return
	}
	h.closed = true
	current := *h.subscribers.Load()
	h.subscribers.Store(new([]*Subscription))
	h.cfg.metrics.setSubscribers(0)
	h.mu.Unlock()

	for _, s := range current {
		s.end(ErrHubClosed)
	}
}

// Subscribers returns the number of current subscriptions.
func (h *Hub) Subscribers() int {
	return len(*h.subscribers.Load())
}
