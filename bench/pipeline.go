package bench

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/telemetra/telemetra/internal/kafka"
	"github.com/telemetra/telemetra/processors/table"
)

// live are the roles that run through phases 1 and 2.
type live struct {
	processor, projector *role
	procMetrics          string
	db                   *pgxpool.Pool
	env                  *env
}

func (l *live) stop() {
	_ = l.processor.stop(30 * time.Second)
	_ = l.projector.stop(30 * time.Second)
}

// others are the roles whose cost a phase reports besides its own (the broker, if embedded).
func (e *env) others() []*role {
	var out []*role
	for _, r := range e.roles {
		if r.name == "broker" {
			out = append(out, r)
		}
	}
	return out
}

// startProcessor starts a processor and waits until it recovered its state.
func (e *env) startProcessor(ctx context.Context, name string, args ...string) (*role, string, error) {
	metrics, err := freeAddr()
	if err != nil {
		return nil, "", err
	}
	args = append([]string{"process", "--brokers", e.brokers[0], "--metrics-addr", metrics,
		"--client-id", name, "--log-level", "warn"}, args...)
	r, err := e.start(name, args...)
	if err != nil {
		return nil, "", err
	}
	err = retry(ctx, 2*time.Minute, func() error {
		if r.exited() {
			return fmt.Errorf("%s exited (see %s/%s.log)", name, e.logDir, name)
		}
		text, err := scrape(ctx, metrics)
		if err != nil {
			return err
		}
		if sumMetric(text, "telemetra_processor_state_recovery_seconds") <= 0 {
			return fmt.Errorf("%s is not ready yet", name)
		}
		return nil
	})
	return r, metrics, err
}

// projected is how many output records the projector with consumer name has committed.
func projected(ctx context.Context, db *pgxpool.Pool, schema, consumer string) (int64, error) {
	var n int64
	err := db.QueryRow(ctx, fmt.Sprintf(`SELECT coalesce(sum(next_offset), 0) FROM %s.projector_offsets WHERE consumer = $1`, schema), consumer).Scan(&n)
	return n, err
}

// startProjector starts a projector and waits until its tables exist.
func (e *env) startProjector(ctx context.Context, db *pgxpool.Pool, name, schema, consumer string) (*role, error) {
	r, err := e.start(name, "project", "--brokers", e.brokers[0], "--database-url", e.dbURL, "--schema", schema,
		"--consumer", consumer, "--metrics-addr", "", "--log-level", "warn")
	if err != nil {
		return nil, err
	}
	return r, retry(ctx, time.Minute, func() error {
		if r.exited() {
			return fmt.Errorf("%s exited (see %s/%s.log)", name, e.logDir, name)
		}
		_, err := projected(ctx, db, schema, consumer)
		return err
	})
}

// progress follows a counter: when it first moved and when it reached its target. The rate
// is taken from the first observed value on, so a stage's start-up is not counted.
type progress struct {
	first, done time.Time
	firstValue  int64
	value       int64
}

func (p *progress) observe(v int64, target int64, at time.Time) {
	if v > 0 && p.first.IsZero() {
		p.first, p.firstValue = at, v
	}
	p.value = v
	if target > 0 && v >= target && p.done.IsZero() {
		p.done = at
	}
}

func (p *progress) rate() float64 {
	if p.done.IsZero() || !p.done.After(p.first) {
		return 0
	}
	return float64(p.value-p.firstValue) / p.done.Sub(p.first).Seconds()
}

// pipeline is phase 1: the producer writes Events events unthrottled while the processor and
// projector run.
func (e *env) pipeline(ctx context.Context, rep *Report) (*live, error) {
	db, err := pgxpool.New(ctx, e.dbURL)
	if err != nil {
		return nil, err
	}
	l := &live{db: db, env: e}
	if l.processor, l.procMetrics, err = e.startProcessor(ctx, "processor"); err != nil {
		return nil, err
	}
	if l.projector, err = e.startProjector(ctx, db, "projector", "public", "telemetra-projector"); err != nil {
		return nil, err
	}
	measured := append([]*role{l.processor, l.projector}, e.others()...)
	for _, r := range measured {
		r.beginPhase()
	}
	prodMetrics, err := freeAddr()
	if err != nil {
		return nil, err
	}
	start := time.Now().UTC().Add(-48 * time.Hour).Truncate(time.Hour)
	producer, err := e.start("producer", "produce", "--brokers", e.brokers[0], "--channel-count", strconv.Itoa(e.cfg.Channels),
		"--count", strconv.FormatInt(e.cfg.Events, 10), "--unthrottled", "--seed", strconv.FormatUint(e.cfg.Seed, 10),
		"--start-time", start.Format(time.RFC3339), "--metrics-addr", prodMetrics, "--log-level", "warn")
	if err != nil {
		return nil, err
	}
	var prod, proc, proj progress
	var outputs int64 // output records the projector must write: those emitted up to the last input event
	usages := map[string]Usage{}
	outputTopics := []string{kafka.TopicAggregates, kafka.TopicMoments}
	deadline := time.Now().Add(20 * time.Minute)
	nextLog := time.Now()
	for proj.done.IsZero() {
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("not done after 20 minutes: produced %d, processed %d, projected %d of %d", prod.value, proc.value, proj.value, outputs)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		now := time.Now()
		if text, err := scrape(ctx, prodMetrics); err == nil {
			prod.observe(int64(sumMetric(text, "telemetra_producer_events_total")), e.cfg.Events, now)
		}
		if prod.done.IsZero() && producer.exited() {
			if err := producer.wait(ctx); err != nil {
				return nil, err
			}
			prod.observe(e.cfg.Events, e.cfg.Events, now)
		}
		if text, err := scrape(ctx, l.procMetrics); err == nil {
			wasDone := !proc.done.IsZero()
			proc.observe(int64(sumMetric(text, "telemetra_processor_events_total")), e.cfg.Events, now)
			if !wasDone && !proc.done.IsZero() {
				usages["processor"] = l.processor.usage()
			}
		}
		// the processor commits an input offset only after the outputs it caused are written:
		// once its commits reach the inputs' ends, the outputs' ends are what the projector
		// has to write
		if !proc.done.IsZero() && outputs == 0 {
			caughtUp, err := e.groupCaughtUp(ctx, string(table.DefaultGroup), kafka.InputTopics())
			if err != nil {
				return nil, err
			}
			if caughtUp {
				if outputs, err = e.endOffsets(ctx, outputTopics...); err != nil {
					return nil, err
				}
			}
		}
		if n, err := projected(ctx, db, "public", "telemetra-projector"); err == nil {
			proj.observe(n, outputs, now)
		}
		if now.After(nextLog) {
			e.log.Info("pipeline", "produced", prod.value, "processed", proc.value, "projected", proj.value, "of", e.cfg.Events, "outputs", outputs)
			nextLog = now.Add(2 * time.Second)
		}
	}
	if err := producer.wait(ctx); err != nil {
		return nil, err
	}
	usages["projector"] = l.projector.usage()
	rep.Pipeline = []StageResult{
		{Stage: "producer (unthrottled)", Records: e.cfg.Events, PerSecond: prod.rate(), Seconds: prod.done.Sub(prod.first).Seconds(), Usage: producer.usage()},
		{Stage: stageProcessor, Records: e.cfg.Events, PerSecond: proc.rate(), Seconds: proc.done.Sub(proc.first).Seconds(), Usage: usages["processor"]},
		{Stage: "projector (output records)", Records: proj.value, PerSecond: proj.rate(), Seconds: proj.done.Sub(proj.first).Seconds(), Usage: usages["projector"]},
	}
	for _, r := range e.others() {
		rep.Pipeline = append(rep.Pipeline, StageResult{Stage: r.name, Usage: r.usage()})
	}
	rep.EndToEnd = float64(e.cfg.Events) / proj.done.Sub(prod.first).Seconds()
	return l, nil
}
