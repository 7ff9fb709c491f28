package hub

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// BenchmarkPublish measures Publish with every subscriber drained by its own
// goroutine. Events are provisional updates of 64 windows, as the consumer
// mostly sees them: coalescing keeps each queue below 64 events, so no
// subscriber is dropped however far its reader falls behind, and the figure
// is the publisher's cost, not the readers'. ns/op is per published event.
func BenchmarkPublish(b *testing.B) {
	const keys = 64
	for _, subscribers := range []int{1, 100, 1000} {
		b.Run(fmt.Sprintf("subscribers=%d", subscribers), func(b *testing.B) {
			metrics := NewMetrics(prometheus.NewRegistry())
			h := New(WithMetrics(metrics))
			events := make([]Event, keys)
			for i := range events {
				events[i] = provisional("bench", i, 1)
			}

			var readers sync.WaitGroup
			for range subscribers {
				s, err := h.Subscribe(Filter{}, nil)
				if err != nil {
					b.Fatal(err)
				}
				readers.Go(func() {
					for {
						if _, err := s.Next(context.Background()); err != nil {
							return
						}
					}
				})
			}

			b.ReportAllocs()
			start := time.Now()
			b.ResetTimer()
			published := 0
			for b.Loop() {
				h.Publish(events[published%keys])
				published++
			}
			b.StopTimer()
			elapsed := time.Since(start)

			b.ReportMetric(float64(published)/elapsed.Seconds(), "events/s")
			b.ReportMetric(counterValue(metrics.delivered)/elapsed.Seconds(), "deliveries/s")
			if dropped := counterValue(metrics.dropped.WithLabelValues(dropReasonSlow)); dropped != 0 {
				b.Fatalf("%v subscribers dropped", dropped)
			}
			h.Close()
			readers.Wait()
		})
	}
}

// TestPublishDoesNotAllocate checks that, once a subscriber's queue has grown,
// Publish allocates nothing per subscriber: neither for appended nor for
// coalesced events.
func TestPublishDoesNotAllocate(t *testing.T) {
	if testing.Short() {
		t.Skip("allocation counts")
	}
	metrics := NewMetrics(prometheus.NewRegistry())
	h := New(WithMetrics(metrics))
	defer h.Close()
	subs := make([]*Subscription, 100)
	for i := range subs {
		subs[i] = mustSubscribe(t, h, Filter{}, nil)
	}
	update, closed := provisional("a", 0, 1), final("a", 0)
	h.Publish(update) // first use grows each ring and key index

	if allocs := testing.AllocsPerRun(100, func() { h.Publish(update) }); allocs != 0 {
		t.Errorf("coalescing Publish: %v allocations, want 0", allocs)
	}
	popAll := func() {
		for _, s := range subs {
			s.mu.Lock()
			for {
				if _, ok := s.queue.pop(); !ok {
					break
				}
			}
			s.mu.Unlock()
		}
	}
	if allocs := testing.AllocsPerRun(100, func() { h.Publish(closed); popAll() }); allocs != 0 {
		t.Errorf("appending Publish: %v allocations, want 0", allocs)
	}
}
