package bench

import "testing"

func TestSumMetric(t *testing.T) {
	const text = `# HELP telemetra_processor_events_total Input events.
# TYPE telemetra_processor_events_total counter
telemetra_processor_events_total{outcome="applied",topic="telemetra.events.chat"} 1200
telemetra_processor_events_total{outcome="late",topic="telemetra.events.chat"} 3
telemetra_processor_events_total{outcome="applied",topic="telemetra.events.viewer"} 4.5e+02
telemetra_processor_events_total_other 99
telemetra_processor_windows_closed_total 7
`
	for _, tc := range []struct {
		family string
		labels []string
		want   float64
	}{
		{"telemetra_processor_events_total", nil, 1653},
		{"telemetra_processor_events_total", []string{`outcome="applied"`}, 1650},
		{"telemetra_processor_events_total", []string{`outcome="applied"`, `topic="telemetra.events.chat"`}, 1200},
		{"telemetra_processor_windows_closed_total", nil, 7},
		{"telemetra_missing", nil, 0},
	} {
		if got := sumMetric(text, tc.family, tc.labels...); got != tc.want {
			t.Errorf("%s %v = %v, want %v", tc.family, tc.labels, got, tc.want)
		}
	}
}
