package producer

import (
	"container/heap"
	"time"
)

// timerKind is what a channel's timer does when it fires (Generator.fire).
type timerKind uint8

const (
	timerLifecycle   timerKind = iota // the stream starts or ends
	timerTitle                        // the streamer changes the title (and maybe the category)
	timerTransaction                  // the channel's next donation, sub, bits or gift
	timerSwing                        // the audience jumps or drops (no event: the next viewer sample shows it)
	timerKinds
)

// timer is one pending timer of a channel. A channel has at most one live timer per kind:
// rescheduling a kind bumps the channel's generation for it, and a popped timer of an older
// generation is dropped.
type timer struct {
	at      time.Time
	channel int
	kind    timerKind
	gen     uint32
}

// timers is a min-heap of timers by time, ties broken by channel and kind so that the run is
// reproducible.
type timers []timer

func (h timers) Len() int { return len(h) }
func (h timers) Less(i, j int) bool {
	if !h[i].at.Equal(h[j].at) {
		return h[i].at.Before(h[j].at)
	}
	if h[i].channel != h[j].channel {
		return h[i].channel < h[j].channel
	}
	return h[i].kind < h[j].kind
}
func (h timers) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *timers) Push(x any)   { *h = append(*h, x.(timer)) }
func (h *timers) Pop() any {
	old := *h
	t := old[len(old)-1]
	*h = old[:len(old)-1]
	return t
}

func (h *timers) push(t timer) { heap.Push(h, t) }

// popDue removes and returns the earliest timer if it is due at at.
func (h *timers) popDue(at time.Time) (timer, bool) {
	if len(*h) == 0 || (*h)[0].at.After(at) {
		return timer{}, false
	}
	return heap.Pop(h).(timer), true
}
