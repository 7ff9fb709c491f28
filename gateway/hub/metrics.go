package hub

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// Reasons a subscriber is dropped, the label of subscribers_dropped_total.
const dropReasonSlow = "slow"

// Metrics are the hub's Prometheus metrics.
type Metrics struct {
	subscribers prometheus.Gauge
	delivered   prometheus.Counter
	coalesced   prometheus.Counter
	dropped     *prometheus.CounterVec // by reason
	delivery    prometheus.Histogram
	published   prometheus.Counter
}

// NewMetrics registers the hub's metrics on reg; with a nil reg they are registered nowhere.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	f := promauto.With(reg)
	m := &Metrics{
		subscribers: f.NewGauge(prometheus.GaugeOpts{
			Name: "telemetra_gateway_subscribers",
			Help: "Current SubscribeChannelEvents subscriptions in the fan-out hub.",
		}),
		delivered: f.NewCounter(prometheus.CounterOpts{
			Name: "telemetra_gateway_subscriber_events_total",
			Help: "Events handed to subscribers, summed over subscribers (heartbeats excluded).",
		}),
		coalesced: f.NewCounter(prometheus.CounterOpts{
			Name: "telemetra_gateway_subscriber_coalesced_total",
			Help: "Pending provisional updates replaced in place by a newer one for the same key, summed over subscribers.",
		}),
		dropped: f.NewCounterVec(prometheus.CounterOpts{
			Name: "telemetra_gateway_subscribers_dropped_total",
			Help: "Subscribers cut off by the hub, by reason (slow: queue full after coalescing).",
		}, []string{"reason"}),
		delivery: f.NewHistogram(prometheus.HistogramOpts{
			Name:    "telemetra_gateway_delivery_seconds",
			Help:    "Time from the hub receiving a live event to a subscriber's Next returning it.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 4, 10), // 100µs .. ~26s
		}),
		published: f.NewCounter(prometheus.CounterOpts{
			Name: "telemetra_gateway_published_total",
			Help: "Events published to the hub.",
		}),
	}
	// Pre-create the label so the series exists (at 0) before the first drop.
	m.dropped.WithLabelValues(dropReasonSlow)
	return m
}

func (m *Metrics) setSubscribers(n int) { m.subscribers.Set(float64(n)) }

func (m *Metrics) observeDelivery(latency time.Duration, live bool) {
	m.delivered.Inc()
	// Snapshot events carry state that may be old; their latency says nothing about the pipeline.
	if live {
		m.delivery.Observe(latency.Seconds())
	}
}

func (m *Metrics) addCoalesced(n int) {
	if n > 0 {
		m.coalesced.Add(float64(n))
	}
}

func (m *Metrics) incDropped(reason string) { m.dropped.WithLabelValues(reason).Inc() }

func (m *Metrics) incPublished() { m.published.Inc() }
