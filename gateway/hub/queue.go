package hub

// minQueueCapacity is the ring size a subscription starts with: most
// subscribers keep up and never have more than a few events pending, so the
// full buffer is only allocated for the ones that fall behind.
const minQueueCapacity = 16

// pending is one queued event for one subscriber.
type pending struct {
	event    Event
	snapshot bool
}

// coalescable reports whether a later provisional update with the same key may
// replace p in place. Snapshot events are not, so that the snapshot stays a
// contiguous block at the head of the stream.
func (p *pending) coalescable() bool {
	return !p.snapshot && p.event.Kind == KindProvisional && p.event.CoalesceKey != ""
}

// eventQueue is a FIFO ring of pending events that grows on demand up to
// maxCapacity, with an index of the provisional updates that can still be
// coalesced. Positions are absolute (events ever pushed before it), so the
// index survives ring growth and wrap-around.
type eventQueue struct {
	ring            []pending
	head            int    // ring index of the oldest pending event
	count           int    // pending events
	popped          uint64 // events ever popped: the absolute position of ring[head]
	snapshotPending int    // pending snapshot events; they are always the oldest
	maxCapacity     int
	byKey           map[string]uint64 // CoalesceKey -> absolute position of the pending provisional update
}

func newEventQueue(maxCapacity int) eventQueue {
	return eventQueue{maxCapacity: maxCapacity}
}

// live is the number of pending events that count against the buffer size.
func (q *eventQueue) live() int { return q.count - q.snapshotPending }

// slot returns the pending event at absolute position pos, which must be pending.
func (q *eventQueue) slot(pos uint64) *pending {
	return &q.ring[(q.head+int(pos-q.popped))%len(q.ring)]
}

// coalesce replaces the pending provisional update with ev's CoalesceKey by
// ev, keeping its position; it reports false if there is none.
func (q *eventQueue) coalesce(ev *Event) bool {
	if ev.Kind != KindProvisional || ev.CoalesceKey == "" {
		return false
	}
	pos, ok := q.byKey[ev.CoalesceKey]
	if !ok {
		return false
	}
	q.slot(pos).event = *ev
	return true
}

// push appends p. The caller enforces the bound; push only grows the ring.
func (q *eventQueue) push(p pending) {
	if q.count == len(q.ring) {
		q.grow()
	}
	q.ring[(q.head+q.count)%len(q.ring)] = p
	if p.coalescable() {
		if q.byKey == nil {
			q.byKey = make(map[string]uint64)
		}
		q.byKey[p.event.CoalesceKey] = q.popped + uint64(q.count)
	}
	q.count++
	if p.snapshot {
		q.snapshotPending++
	}
}

func (q *eventQueue) grow() {
	capacity := min(max(2*len(q.ring), minQueueCapacity), q.maxCapacity)
	capacity = max(capacity, q.count+1) // never refuse a push the caller allowed
	ring := make([]pending, capacity)
	for i := range q.count {
		ring[i] = q.ring[(q.head+i)%len(q.ring)]
	}
	q.ring, q.head = ring, 0
}

// pop removes and returns the oldest pending event.
func (q *eventQueue) pop() (pending, bool) {
	if q.count == 0 {
		return pending{}, false
	}
	slot := &q.ring[q.head]
	p := *slot
	*slot = pending{} // drop the payload reference so it can be collected
	if p.coalescable() {
		if pos, ok := q.byKey[p.event.CoalesceKey]; ok && pos == q.popped {
			delete(q.byKey, p.event.CoalesceKey)
		}
	}
	q.head = (q.head + 1) % len(q.ring)
	q.count--
	q.popped++
	if p.snapshot {
		q.snapshotPending--
	}
	return p, true
}

// release empties the queue and frees its memory.
func (q *eventQueue) release() {
	*q = eventQueue{maxCapacity: q.maxCapacity}
}
