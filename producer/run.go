package producer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/telemetra/telemetra/internal/kafka"
)

// RunConfig configures a producer run against Kafka.
type RunConfig struct {
	Brokers []string
	Sim     Config
	// Rate is events per second; 0 or less means unthrottled.
	Rate float64
	// Count stops the run after this many events; 0 means no limit.
	Count int64
	// Duration stops the run after this long; 0 means no limit.
	Duration time.Duration
	// StartTime, when set, makes event time simulated and reproducible: event i happens at
	// StartTime + i*TimeStep. Otherwise events carry the wall-clock time they were made.
	StartTime time.Time
	// TimeStep spaces simulated events; default 1s/Rate, or 1ms when unthrottled.
	TimeStep time.Duration
	// History, without StartTime, first writes this much past event time (from now − History to
	// now, as fast as the broker takes it, spaced like the live events), then goes live with
	// the same channels: a fresh pipeline has a day to show. Count and Duration apply to the
	// live part. It writes markers like a simulated run (MarkEvery, default 1m).
	History time.Duration
	// MarkEvery, with StartTime or History, writes a marker every MarkEvery of event time into
	// each input partition the run wrote nothing to over that span (quietMarks), so that a run
	// faster than real time does not hold the processor's windows open behind a quiet input.
	// 0: none.
	MarkEvery time.Duration
	// LogEvery is how often the actual rate is logged; default 10s.
	LogEvery time.Duration
	// FlushTimeout bounds the final flush on shutdown; default 30s.
	FlushTimeout time.Duration
	Now          func() time.Time
	Logger       *slog.Logger
	Metrics      *Metrics
	// ClientOpts are appended to the Kafka client options (tests, tuning).
	ClientOpts []kgo.Opt
}

// Stats summarizes a run.
type Stats struct {
	Produced int64            // acknowledged by the broker
	Markers  int64            // markers acknowledged (RunConfig.MarkEvery); not counted in Produced
	Failed   int64            // given up on by the client
	PerTopic map[string]int64 // acknowledged, per topic
	Elapsed  time.Duration
}

// Rate is the acknowledged events per second over the run.
func (s Stats) Rate() float64 {
	if s.Elapsed <= 0 {
		return 0
	}
	return float64(s.Produced) / s.Elapsed.Seconds()
}

// Metrics are the producer's Prometheus metrics.
type Metrics struct {
	events *prometheus.CounterVec
	errors prometheus.Counter
}

// NewMetrics registers the producer's metrics on reg; with a nil reg they are registered
// nowhere.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	f := promauto.With(reg)
	return &Metrics{
		events: f.NewCounterVec(prometheus.CounterOpts{
			Name: "telemetra_producer_events_total", Help: "Events acknowledged by Kafka, by topic.",
		}, []string{"topic"}),
		errors: f.NewCounter(prometheus.CounterOpts{
			Name: "telemetra_producer_errors_total", Help: "Events the Kafka client failed to deliver.",
		}),
	}
}

// Run generates events and writes them to Kafka until the context is canceled or a limit is
// reached, then flushes everything buffered before returning.
func Run(ctx context.Context, cfg RunConfig) (Stats, error) {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Metrics == nil {
		cfg.Metrics = NewMetrics(nil)
	}
	if cfg.LogEvery <= 0 {
		cfg.LogEvery = 10 * time.Second
	}
	if cfg.FlushTimeout <= 0 {
		cfg.FlushTimeout = 30 * time.Second
	}
	gen, err := NewGenerator(cfg.Sim)
	if err != nil {
		return Stats{}, fmt.Errorf("producer config: %w", err)
	}
	opts := append(append(kafka.DurableWrites(),
		kgo.SeedBrokers(cfg.Brokers...),
		kgo.RecordPartitioner(kafka.GokaPartitioner()),
		kgo.ProducerLinger(5*time.Millisecond),
		kgo.MaxBufferedRecords(200_000),
	), cfg.ClientOpts...)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return Stats{}, fmt.Errorf("kafka client for %v: %w", cfg.Brokers, err)
	}
	defer cl.Close()

	p := newProgress(cfg)
	start := cfg.Now()
	var deadline time.Time
	if cfg.Duration > 0 {
		deadline = start.Add(cfg.Duration)
	}
	step := cfg.TimeStep
	if step <= 0 {
		step = time.Millisecond
		if cfg.Rate > 0 {
			step = time.Duration(float64(time.Second) / cfg.Rate)
		}
	}

	var marks *quietMarks
	if cfg.History > 0 && cfg.StartTime.IsZero() {
		if cfg.MarkEvery <= 0 {
			cfg.MarkEvery = time.Minute
		}
		parts, err := inputPartitions(ctx, cfg.Brokers)
		if err != nil {
			return Stats{}, err
		}
		now := cfg.Now()
		histMarks := newQuietMarks(cfg.MarkEvery, now.Add(-cfg.History), parts)
		n := writeHistory(ctx, cfg, cl, gen, histMarks, now.Add(-cfg.History), step, p)
		cfg.Logger.Info("history written; going live", "events", n, "from", now.Add(-cfg.History).Format(time.RFC3339),
			"took", cfg.Now().Sub(now).Round(time.Millisecond))
		start = cfg.Now()
		if cfg.Duration > 0 {
			deadline = start.Add(cfg.Duration)
		}
	}
	if cfg.MarkEvery > 0 && !cfg.StartTime.IsZero() {
		parts, err := inputPartitions(ctx, cfg.Brokers)
		if err != nil {
			return Stats{}, err
		}
		marks = newQuietMarks(cfg.MarkEvery, cfg.StartTime, parts)
	}

	var generated int64
	nextLog := start.Add(cfg.LogEvery)
	// Records are produced with a context that shutdown does not cancel, so nothing generated
	// is abandoned: the loop stops on ctx and then everything buffered is flushed.
	produceCtx := context.WithoutCancel(ctx)
	for ctx.Err() == nil && (cfg.Count == 0 || generated < cfg.Count) {
		now := cfg.Now()
		if !deadline.IsZero() && !now.Before(deadline) {
			break
		}
		if now.After(nextLog) {
			p.log(now)
			nextLog = now.Add(cfg.LogEvery)
		}
		batch := int64(1000)
		if cfg.Rate > 0 {
			batch = int64(now.Sub(start).Seconds()*cfg.Rate) - generated
			if batch <= 0 {
				wait := min(time.Duration(float64(time.Second)/cfg.Rate), 10*time.Millisecond)
				select {
				case <-ctx.Done():
				case <-time.After(wait):
				}
				continue
			}
		}
		if cfg.Count > 0 {
			batch = min(batch, cfg.Count-generated)
		}
		for range batch {
			at := now
			if !cfg.StartTime.IsZero() {
				at = cfg.StartTime.Add(time.Duration(generated) * step)
			}
			generated++
			produceEvent(produceCtx, cl, p, marks, gen.Next(at), at)
		}
	}

	flushCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.FlushTimeout)
	defer cancel()
	cfg.Logger.Info("producer stopping: flushing buffered events", "generated", generated)
	flushErr := cl.Flush(flushCtx)
	stats := p.stats(cfg.Now().Sub(start))
	p.log(cfg.Now())
	if flushErr != nil {
		return stats, fmt.Errorf("flush %d buffered events: %w", generated-stats.Produced-stats.Failed, flushErr)
	}
	if n := p.markersFailed.Load(); n > 0 {
		// a lost marker loses no event: the processor's own markers move the input later
		cfg.Logger.Warn("some markers were not written", "failed", n, "err", *p.markerErr.Load())
	}
	if stats.Failed > 0 {
		return stats, fmt.Errorf("%d of %d events were not delivered: %w", stats.Failed, generated, p.firstError())
	}
	return stats, nil
}

// produceEvent writes an event generated at at, after the markers due before it (marks: nil
// for none). The record's timestamp is when the event reaches Kafka: now, or in simulated time
// the event's own moment. The processor judges lateness by it (processors/eventtime).
func produceEvent(ctx context.Context, cl *kgo.Client, p *progress, marks *quietMarks, rec Record, at time.Time) {
	if marks != nil {
		for _, m := range marks.due(at) {
			cl.Produce(ctx, m, p.markerPromise)
		}
		marks.wrote(rec.Topic, rec.Key, at)
	}
	cl.Produce(ctx, &kgo.Record{Topic: rec.Topic, Key: rec.Key, Value: rec.Value, Timestamp: at}, p.promise)
}

// writeHistory writes the events from from until it catches up with the clock, step apart, with
// their markers, and returns how many it wrote, logging its progress. Catching up, not stopping
// at the start, leaves no gap before the live events. It stops early when ctx ends.
func writeHistory(ctx context.Context, cfg RunConfig, cl *kgo.Client, gen *Generator, marks *quietMarks, from time.Time, step time.Duration, p *progress) int64 {
	produceCtx := context.WithoutCancel(ctx) // what is generated is flushed, as in the live loop
	nextLog := cfg.Now().Add(cfg.LogEvery)
	var n int64
	for at := from; at.Before(cfg.Now()) && ctx.Err() == nil; at = at.Add(step) {
		n++
		produceEvent(produceCtx, cl, p, marks, gen.Next(at), at)
		if n%10_000 == 0 && cfg.Now().After(nextLog) {
			cfg.Logger.Info("writing history", "events", n, "at", at.Format(time.RFC3339),
				"behind_clock", cfg.Now().Sub(at).Round(time.Second))
			nextLog = cfg.Now().Add(cfg.LogEvery)
		}
	}
	return n
}

// progress counts acknowledgements (from the client's goroutines) and logs the actual rate.
type progress struct {
	cfg     RunConfig
	topics  []string
	acked   []atomic.Int64 // per topic, indexed like topics
	failed  atomic.Int64
	markers atomic.Int64
	// markersFailed counts markers given up on; they are no events, so the run does not fail
	markersFailed atomic.Int64
	markerErr     atomic.Pointer[error] // the first
	firstErr      atomic.Pointer[error]
	last          struct {
		at    time.Time
		acked int64
	}
}

func newProgress(cfg RunConfig) *progress {
	topics := kafka.InputTopics()
	p := &progress{cfg: cfg, topics: topics, acked: make([]atomic.Int64, len(topics))}
	p.last.at = cfg.Now()
	return p
}

func (p *progress) promise(r *kgo.Record, err error) {
	if err != nil {
		p.failed.Add(1)
		p.firstErr.CompareAndSwap(nil, &err)
		p.cfg.Metrics.errors.Inc()
		return
	}
	for k, t := range p.topics {
		if t == r.Topic {
			p.acked[k].Add(1)
			break
		}
	}
	p.cfg.Metrics.events.WithLabelValues(r.Topic).Inc()
}

func (p *progress) markerPromise(_ *kgo.Record, err error) {
	if err != nil {
		p.markersFailed.Add(1)
		p.markerErr.CompareAndSwap(nil, &err)
		return
	}
	p.markers.Add(1)
}

func (p *progress) firstError() error {
	if e := p.firstErr.Load(); e != nil {
		return *e
	}
	return errors.New("unknown error")
}

func (p *progress) total() int64 {
	var n int64
	for k := range p.acked {
		n += p.acked[k].Load()
	}
	return n
}

func (p *progress) stats(elapsed time.Duration) Stats {
	s := Stats{Failed: p.failed.Load(), Markers: p.markers.Load(), PerTopic: make(map[string]int64, len(p.topics)), Elapsed: elapsed}
	for k, t := range p.topics {
		n := p.acked[k].Load()
		s.PerTopic[t] = n
		s.Produced += n
	}
	return s
}

func (p *progress) log(now time.Time) {
	acked := p.total()
	secs := now.Sub(p.last.at).Seconds()
	rate := 0.0
	if secs > 0 {
		rate = float64(acked-p.last.acked) / secs
	}
	p.last.at, p.last.acked = now, acked
	p.cfg.Logger.Info("producer progress", "acked", acked, "failed", p.failed.Load(),
		"actual_rate_per_sec", int64(rate), "target_rate_per_sec", p.cfg.Rate)
}

// inputPartitions returns the partition count of each input topic.
func inputPartitions(ctx context.Context, brokers []string) (map[string]int, error) {
	infos, err := kafka.DescribeTopics(ctx, brokers, kafka.InputTopics())
	if err != nil {
		return nil, fmt.Errorf("partitions of the input topics, for markers: %w", err)
	}
	out := map[string]int{}
	for _, t := range infos {
		if !t.Exists {
			return nil, fmt.Errorf("input topic %s does not exist: the producer writes markers to each of its partitions", t.Name)
		}
		out[t.Name] = t.Partitions
	}
	return out, nil
}
