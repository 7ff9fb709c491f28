package aggregator

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// Metrics are the processor's Prometheus metrics.
type Metrics struct {
	events          *prometheus.CounterVec // by topic and outcome
	windowsClosed   prometheus.Counter     // final records emitted
	provisional     prometheus.Counter     // provisional records emitted
	moments         *prometheus.CounterVec // by kind
	emitLag         prometheus.Histogram   // processing time at emit − window's latest event time
	recovery        prometheus.Gauge       // seconds from start until the state was recovered
	restarts        prometheus.Counter     // instances goka stopped with an error, started again
	sweeps          *prometheus.CounterVec // tick sweeps, by kind (due/full) and outcome
	lag             *prometheus.GaugeVec   // end offset − committed offset, by topic and partition
	frontierLag     *prometheus.GaugeVec   // processing time − the partition's arrival frontier
	markers         *prometheus.CounterVec // markers written, by input topic
	lateCorrections prometheus.Counter     // late-event corrections emitted
}

// Outcomes of an input event.
const (
	outcomeApplied   = "applied"
	outcomeLate      = "late"
	outcomeDLQ       = "dlq"
	outcomeDuplicate = "duplicate"
	outcomeMarker    = "marker"
)

// NewMetrics registers the processor's metrics on reg; with a nil reg they are registered
// nowhere.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	f := promauto.With(reg)
	return &Metrics{
		events: f.NewCounterVec(prometheus.CounterOpts{
			Name: "telemetra_processor_events_total",
			Help: "Input records by topic and outcome (applied, late, dlq, duplicate, marker).",
		}, []string{"topic", "outcome"}),
		windowsClosed: f.NewCounter(prometheus.CounterOpts{
			Name: "telemetra_processor_windows_closed_total", Help: "Windows closed (final records emitted).",
		}),
		provisional: f.NewCounter(prometheus.CounterOpts{
			Name: "telemetra_processor_provisional_updates_total", Help: "Provisional window updates emitted.",
		}),
		moments: f.NewCounterVec(prometheus.CounterOpts{
			Name: "telemetra_processor_moments_total", Help: "Moments emitted, by kind.",
		}, []string{"kind"}),
		emitLag: f.NewHistogram(prometheus.HistogramOpts{
			Name:    "telemetra_processor_emit_lag_seconds",
			Help:    "Processing time of an emit minus the event time of the window's latest event.",
			Buckets: prometheus.ExponentialBuckets(0.01, 2, 16),
		}),
		restarts: f.NewCounter(prometheus.CounterOpts{
			Name: "telemetra_processor_restarts_total",
			Help: "Processor instances that goka stopped with an error (a lost group coordinator, a failed state flush) and that were started again in the process.",
		}),
		recovery: f.NewGauge(prometheus.GaugeOpts{
			Name: "telemetra_processor_state_recovery_seconds", Help: "Time from start until the group table was recovered and processing began.",
		}),
		sweeps: f.NewCounterVec(prometheus.CounterOpts{
			Name: "telemetra_processor_sweeps_total", Help: "Tick sweeps over the channels (idle close, provisional flush).",
		}, []string{"kind"}),
		frontierLag: f.NewGaugeVec(prometheus.GaugeOpts{
			Name: "telemetra_processor_frontier_lag_seconds", Help: "Processing time minus the partition's arrival frontier (the least Kafka timestamp read across its inputs); windows close once it passes their end plus the allowed lateness.",
		}, []string{"partition"}),
		markers: f.NewCounterVec(prometheus.CounterOpts{
			Name: "telemetra_processor_markers_written_total", Help: "Markers written into input partitions that held their partition's frontier back, by topic.",
		}, []string{"topic"}),
		lateCorrections: f.NewCounter(prometheus.CounterOpts{
			Name: "telemetra_processor_late_corrections_total", Help: "Late-event corrections emitted (late events for windows already final).",
		}),
		lag: f.NewGaugeVec(prometheus.GaugeOpts{
			Name: "telemetra_processor_lag_records", Help: "Input records not yet committed by the group (end offset − committed offset), by topic and partition.",
		}, []string{"topic", "partition"}),
	}
}
