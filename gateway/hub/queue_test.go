package hub

import "testing"

// TestEventQueueWrapAndGrow checks the ring arithmetic: coalescing must find
// the right slot after the ring has wrapped around and grown.
func TestEventQueueWrapAndGrow(t *testing.T) {
	q := newEventQueue(64)
	push := func(ev Event) { q.push(pending{event: ev}) }

	// Fill and half-drain the initial ring so that head is in the middle.
	for i := range minQueueCapacity {
		push(final("a", i))
	}
	for range minQueueCapacity / 2 {
		if _, ok := q.pop(); !ok {
			t.Fatal("pop from a non-empty queue failed")
		}
	}
	// Wrap around, with a coalescable update at the wrapped position.
	push(provisional("a", 100, 1))
	for i := range minQueueCapacity/2 - 1 {
		push(final("b", i))
	}
	if q.count != len(q.ring) || q.head == 0 {
		t.Fatalf("setup: count %d, ring %d, head %d; want a full, wrapped ring", q.count, len(q.ring), q.head)
	}
	push(final("c", 0)) // grows the ring
	if len(q.ring) != 2*minQueueCapacity {
		t.Fatalf("ring size %d after growth, want %d", len(q.ring), 2*minQueueCapacity)
	}
	if !q.coalesce(ptr(provisional("a", 100, 2))) {
		t.Fatal("coalesce did not find the pending update after growth")
	}

	var versions []uint64
	for {
		p, ok := q.pop()
		if !ok {
			break
		}
		if p.event.Kind == KindProvisional {
			versions = append(versions, p.event.Payload.GetWindow().GetVersion())
			if pos := q.popped - 1; pos != minQueueCapacity {
				t.Errorf("update at absolute position %d, want %d", pos, minQueueCapacity)
			}
		}
	}
	if len(versions) != 1 || versions[0] != 2 {
		t.Fatalf("provisional versions %v, want [2]", versions)
	}
	if len(q.byKey) != 0 || q.count != 0 {
		t.Fatalf("after draining: %d keys indexed, %d pending", len(q.byKey), q.count)
	}
	if q.coalesce(ptr(provisional("a", 100, 3))) {
		t.Fatal("coalesced into an update that was already popped")
	}
}

func ptr[T any](v T) *T { return &v }
