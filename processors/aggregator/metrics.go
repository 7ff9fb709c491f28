package aggregator

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the processor's Prometheus metrics.
type Metrics struct {
	events        *prometheus.CounterVec // by topic and outcome
	windowsClosed prometheus.Counter     // final records emitted
	provisional   prometheus.Counter     // provisional records emitted
	moments       *prometheus.CounterVec // by kind
	emitLag       prometheus.Histogram   // processing time at emit − window's latest event time
	recovery      prometheus.Gauge       // seconds from start until the state was recovered
	sweeps        *prometheus.CounterVec // tick sweeps, by kind (due/full) and outcome
	lagging       *prometheus.GaugeVec   // 1 while a partition is not caught up (idle closes held back)
	lag           *prometheus.GaugeVec   // end offset − committed offset, by topic and partition
}

// Outcomes of an input event.
const (
	outcomeApplied   = "applied"
	outcomeLate      = "late"
	outcomeDLQ       = "dlq"
	outcomeDuplicate = "duplicate"
	outcomeRerouted  = "rerouted"
)

// NewMetrics registers the processor's metrics on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "telemetra_processor_events_total",
			Help: "Input events by topic and outcome (applied, late, dlq, duplicate, rerouted).",
		}, []string{"topic", "outcome"}),
		windowsClosed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "telemetra_processor_windows_closed_total", Help: "Windows closed (final records emitted).",
		}),
		provisional: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "telemetra_processor_provisional_updates_total", Help: "Provisional window updates emitted.",
		}),
		moments: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "telemetra_processor_moments_total", Help: "Moments emitted, by kind.",
		}, []string{"kind"}),
		emitLag: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "telemetra_processor_emit_lag_seconds",
			Help:    "Processing time of an emit minus the event time of the window's latest event.",
			Buckets: prometheus.ExponentialBuckets(0.01, 2, 16),
		}),
		recovery: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "telemetra_processor_state_recovery_seconds", Help: "Time from start until the group table was recovered and processing began.",
		}),
		sweeps: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "telemetra_processor_sweeps_total", Help: "Tick sweeps over the channels (idle close, provisional flush).",
		}, []string{"kind"}),
		lagging: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "telemetra_processor_partition_lagging", Help: "1 while a partition has unprocessed input older than a sweep interval; idle closes wait.",
		}, []string{"partition"}),
		lag: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "telemetra_processor_lag_records", Help: "Input records not yet committed by the group (end offset − committed offset), by topic and partition.",
		}, []string{"topic", "partition"}),
	}
	reg.MustRegister(m.events, m.windowsClosed, m.provisional, m.moments, m.emitLag, m.recovery, m.sweeps, m.lagging, m.lag)
	return m
}
