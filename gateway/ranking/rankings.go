package ranking

import (
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	pb "github.com/telemetra/telemetra/proto/telemetra/v1"
)

// Rankings serves the index's snapshots. A metric's snapshot is rebuilt when a request finds
// it older than the interval and the index changed since; the rebuild runs in the background
// and requests keep reading the snapshot they have meanwhile, so no request waits for a sort
// except the very first of a metric.
type Rankings struct {
	index    *Index
	interval time.Duration
	now      func() time.Time
	metrics  *Metrics

	mu       sync.Mutex
	seq      uint64
	snaps    map[pb.RankingMetric]*Snapshot
	building map[pb.RankingMetric]bool
	first    map[pb.RankingMetric]*sync.Mutex // serialises a metric's first, synchronous build
	builds   sync.WaitGroup
}

// NewRankings serves index's rankings rebuilt at most once per interval.
func NewRankings(index *Index, interval time.Duration, now func() time.Time, metrics *Metrics) *Rankings {
	r := &Rankings{index: index, interval: interval, now: now, metrics: metrics,
		snaps: map[pb.RankingMetric]*Snapshot{}, building: map[pb.RankingMetric]bool{}, first: map[pb.RankingMetric]*sync.Mutex{}}
	for _, m := range AllMetrics() {
		r.first[m] = &sync.Mutex{}
	}
	return r
}

// Index is the index ranked.
func (r *Rankings) Index() *Index { return r.index }

// Interval is how often a snapshot may be rebuilt.
func (r *Rankings) Interval() time.Duration { return r.interval }

// Snapshot is metric's current snapshot (metric must be one of AllMetrics).
func (r *Rankings) Snapshot(metric pb.RankingMetric) *Snapshot {
	r.mu.Lock()
	cur := r.snaps[metric]
	if cur != nil {
		if !r.building[metric] && r.now().Sub(cur.AsOf) >= r.interval && r.index.Version() != cur.version {
			r.building[metric] = true
			r.builds.Add(1)
			go func() {
				defer r.builds.Done()
				r.build(metric)
			}()
		}
		r.mu.Unlock()
		return cur
	}
	r.mu.Unlock()
	first := r.first[metric]
	first.Lock()
	defer first.Unlock()
	r.mu.Lock()
	cur = r.snaps[metric]
	r.mu.Unlock()
	if cur != nil {
		return cur // another request built it meanwhile
	}
	return r.build(metric)
}

// build sorts the index's live channels by metric and installs the result.
func (r *Rankings) build(metric pb.RankingMetric) *Snapshot {
	started := time.Now()
	entries, version := r.index.liveFigures()
	r.mu.Lock()
	r.seq++
	seq := r.seq
	r.mu.Unlock()
	s := newSnapshot(seq, metric, r.now(), version, entries)
	r.mu.Lock()
	r.snaps[metric] = s
	r.building[metric] = false
	r.mu.Unlock()
	r.metrics.observeBuild(metric, time.Since(started), len(entries), r.index.Len())
	return s
}

// Wait waits for the rebuilds in flight.
func (r *Rankings) Wait() { r.builds.Wait() }

// Metrics are the rankings' Prometheus metrics.
type Metrics struct {
	rebuilds *prometheus.CounterVec
	duration prometheus.Histogram
	ranked   prometheus.Gauge
	channels prometheus.Gauge
}

// NewMetrics registers the rankings' metrics with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	f := promauto.With(reg)
	return &Metrics{
		rebuilds: f.NewCounterVec(prometheus.CounterOpts{Name: "telemetra_gateway_ranking_rebuilds_total",
			Help: "Live ranking snapshots built, by metric."}, []string{"metric"}),
		duration: f.NewHistogram(prometheus.HistogramOpts{Name: "telemetra_gateway_ranking_rebuild_seconds",
			Help:    "Time to copy and sort the live channels into one metric's ranking snapshot.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 16)}),
		ranked: f.NewGauge(prometheus.GaugeOpts{Name: "telemetra_gateway_ranking_live_channels",
			Help: "Live channels in the latest ranking snapshot."}),
		channels: f.NewGauge(prometheus.GaugeOpts{Name: "telemetra_gateway_ranking_channels",
			Help: "Channels the live ranking index holds figures of."}),
	}
}

func (m *Metrics) observeBuild(metric pb.RankingMetric, took time.Duration, ranked, channels int) {
	if m == nil {
		return
	}
	m.rebuilds.WithLabelValues(strings.ToLower(strings.TrimPrefix(metric.String(), "RANKING_METRIC_"))).Inc()
	m.duration.Observe(took.Seconds())
	m.ranked.Set(float64(ranked))
	m.channels.Set(float64(channels))
}
