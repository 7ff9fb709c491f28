package alerts

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// Metrics are the alert role's Prometheus metrics. Queue depth is two gauges, not one series per
// subscription: subscriptions are created by users, and a label per subscription would grow
// without bound.
type Metrics struct {
	moments     *prometheus.CounterVec // by result: queued, no_match, too_old, rejected
	queued      prometheus.Counter
	deliveries  *prometheus.CounterVec // ended, by result: delivered, dead_lettered
	attempts    *prometheus.CounterVec // by outcome: success, http_error, timeout, connection_error
	deadLetters *prometheus.CounterVec // by reason
	latency     prometheus.Histogram
	pending     prometheus.Gauge
	deepest     prometheus.Gauge
	retries     prometheus.Counter
}

// Results of telemetra_alert_moments_total.
const (
	momentQueued   = "queued"
	momentNoMatch  = "no_match"
	momentTooOld   = "too_old"
	momentRejected = "rejected"
)

// NewMetrics registers the alert role's metrics on reg; with a nil reg they are registered
// nowhere.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	f := promauto.With(reg)
	return &Metrics{
		moments: f.NewCounterVec(prometheus.CounterOpts{
			Name: "telemetra_alert_moments_total",
			Help: "Moments read from the moments topic, by result: queued (matched at least one subscription), no_match, too_old (older than --max-moment-age: not alerted), rejected (not a valid moment).",
		}, []string{"result"}),
		queued: f.NewCounter(prometheus.CounterOpts{
			Name: "telemetra_alert_deliveries_queued_total", Help: "Deliveries queued as pending (one per matched moment and subscription).",
		}),
		deliveries: f.NewCounterVec(prometheus.CounterOpts{
			Name: "telemetra_alert_deliveries_total", Help: "Deliveries that ended, by result: delivered or dead_lettered.",
		}, []string{"result"}),
		attempts: f.NewCounterVec(prometheus.CounterOpts{
			Name: "telemetra_alert_attempts_total", Help: "Delivery attempts, by outcome: success (2xx), http_error (another status), timeout, connection_error.",
		}, []string{"outcome"}),
		deadLetters: f.NewCounterVec(prometheus.CounterOpts{
			Name: "telemetra_alert_dead_letters_total", Help: "Deliveries dead-lettered, by reason: attempts exhausted, queue full.",
		}, []string{"reason"}),
		latency: f.NewHistogram(prometheus.HistogramOpts{
			Name: "telemetra_alert_attempt_seconds", Help: "Time from sending an attempt to the receiver's status line (or the failure).",
			Buckets: prometheus.ExponentialBuckets(0.005, 2, 12),
		}),
		pending: f.NewGauge(prometheus.GaugeOpts{
			Name: "telemetra_alert_pending_deliveries", Help: "Pending deliveries over all subscriptions.",
		}),
		deepest: f.NewGauge(prometheus.GaugeOpts{
			Name: "telemetra_alert_pending_deliveries_max", Help: "Pending deliveries of the subscription with the most (compare with --max-pending).",
		}),
		retries: f.NewCounter(prometheus.CounterOpts{
			Name: "telemetra_alert_postgres_retries_total", Help: "Failed PostgreSQL operations that were retried.",
		}),
	}
}
