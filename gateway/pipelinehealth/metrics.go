package pipelinehealth

import (
	"math"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// Metrics are the sampled figures as gauges, set at every sample; a figure that could not be
// read is NaN (so an alert on it neither fires nor clears on a guess).
type Metrics struct {
	lag                 *prometheus.GaugeVec
	liveFreshness       prometheus.Gauge
	projectionFreshness prometheus.Gauge
	deadLettersRate     prometheus.Gauge
	deadLetters         prometheus.Gauge
	lateRate            prometheus.Gauge
	state               *prometheus.GaugeVec
}

// NewMetrics registers the gauges with reg (nil: registered nowhere).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	f := promauto.With(reg)
	return &Metrics{
		lag: f.NewGaugeVec(prometheus.GaugeOpts{Name: "telemetra_gateway_pipeline_lag_records",
			Help: "Records a reader (processor, projector) has not read yet, over its topics' partitions, as the gateway sampled them."}, []string{"consumer"}),
		liveFreshness: f.NewGauge(prometheus.GaugeOpts{Name: "telemetra_gateway_pipeline_live_freshness_seconds",
			Help: "Sample time minus the update time of the newest channel state in the gateway's live view."}),
		projectionFreshness: f.NewGauge(prometheus.GaugeOpts{Name: "telemetra_gateway_pipeline_projection_freshness_seconds",
			Help: "Sample time minus the emit time of the newest window projected into PostgreSQL."}),
		deadLettersRate: f.NewGauge(prometheus.GaugeOpts{Name: "telemetra_gateway_pipeline_dead_letters_per_minute",
			Help: "Records written to the dead-letter topics per minute, over the last five minutes of samples."}),
		deadLetters: f.NewGauge(prometheus.GaugeOpts{Name: "telemetra_gateway_pipeline_dead_letter_records",
			Help: "Records ever written to the dead-letter topics (the sum of their end offsets)."}),
		lateRate: f.NewGauge(prometheus.GaugeOpts{Name: "telemetra_gateway_pipeline_late_events_per_minute",
			Help: "Records written to the late topic per minute, over the last five minutes of samples."}),
		state: f.NewGaugeVec(prometheus.GaugeOpts{Name: "telemetra_gateway_pipeline_state",
			Help: "1 for the pipeline's current state (ok, degraded, unknown), 0 for the others."}, []string{"state"}),
	}
}

func (m *Metrics) observe(r Report) {
	for _, l := range r.Lags {
		m.lag.WithLabelValues(l.Consumer).Set(known(float64(l.Records), l.Err))
	}
	m.liveFreshness.Set(known(r.LiveFreshness.Seconds(), r.LiveErr))
	if r.History {
		m.projectionFreshness.Set(known(r.ProjectionFreshness.Seconds(), r.ProjectionErr))
	} else {
		m.projectionFreshness.Set(math.NaN())
	}
	m.deadLettersRate.Set(known(r.DeadLettersPerMinute, r.DeadLettersErr))
	m.deadLetters.Set(known(float64(r.DeadLettersTotal), r.DeadLettersTotalErr))
	m.lateRate.Set(known(r.LateEventsPerMinute, r.LateEventsErr))
	for _, s := range []string{StateOK, StateDegraded, StateUnknown} {
		v := 0.0
		if s == r.State {
			v = 1
		}
		m.state.WithLabelValues(s).Set(v)
	}
}

func known(v float64, err error) float64 {
	if err != nil {
		return math.NaN()
	}
	return v
}
