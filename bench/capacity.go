package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/telemetra/telemetra/internal/kafka"
)

// capacity is phase 3: every stage alone on the backlog of phases 1 and 2, each after the raw
// consumer read the same topics, so a stage's rate is also a ratio to doing nothing.
func (e *env) capacity(ctx context.Context, rep *Report) error {
	inputs := kafka.InputTopics()
	inputRecords, err := e.endOffsets(ctx, inputs...)
	if err != nil {
		return err
	}
	base, err := e.baseline(ctx, "baseline-inputs", inputs)
	if err != nil {
		return err
	}
	rep.Capacity = append(rep.Capacity, base)

	// a new generation reads every input from the start into a state table of its own
	launched := time.Now()
	proc, metrics, err := e.startProcessor(ctx, "processor-alone", "--generation", "2")
	if err != nil {
		return err
	}
	proc.beginPhase()
	var p progress
	if err := e.follow(ctx, "processor alone", &p, inputRecords, func() (int64, error) {
		text, err := scrape(ctx, metrics)
		return int64(sumMetric(text, "telemetra_processor_events_total")), err
	}); err != nil {
		return err
	}
	rep.Capacity = append(rep.Capacity, StageResult{Stage: stageProcessor, Records: p.value, PerSecond: p.rate(),
		Seconds: p.done.Sub(p.first).Seconds(), Usage: proc.usage(), Baseline: base.PerSecond,
		StartupSeconds: p.first.Sub(launched).Seconds()})
	_ = proc.stop(30 * time.Second)

	outputs := []string{kafka.TopicAggregates, kafka.TopicMoments}
	outputRecords, err := e.endOffsets(ctx, outputs...)
	if err != nil {
		return err
	}
	baseOut, err := e.baseline(ctx, "baseline-outputs", outputs)
	if err != nil {
		return err
	}
	rep.Capacity = append(rep.Capacity, baseOut)
	db, err := pgxpool.New(ctx, e.dbURL)
	if err != nil {
		return err
	}
	defer db.Close()
	// a schema of its own: the projection of phases 1 and 2 stays as it is
	const schema, consumer = "bench_alone", "bench-alone"
	if _, err := db.Exec(ctx, "CREATE SCHEMA IF NOT EXISTS "+schema); err != nil {
		return err
	}
	proj, err := e.startProjector(ctx, db, "projector-alone", schema, consumer)
	if err != nil {
		return err
	}
	proj.beginPhase()
	var q progress
	if err := e.follow(ctx, "projector alone", &q, outputRecords, func() (int64, error) {
		return projected(ctx, db, schema, consumer)
	}); err != nil {
		return err
	}
	rep.Capacity = append(rep.Capacity, StageResult{Stage: "projector (output records)", Records: q.value, PerSecond: q.rate(),
		Seconds: q.done.Sub(q.first).Seconds(), Usage: proj.usage(), Baseline: baseOut.PerSecond})
	_ = proj.stop(30 * time.Second)
	return nil
}

// follow polls a counter until it reaches target, logging progress.
func (e *env) follow(ctx context.Context, what string, p *progress, target int64, poll func() (int64, error)) error {
	deadline := time.Now().Add(20 * time.Minute)
	nextLog := time.Now()
	for p.done.IsZero() {
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: %d of %d after 20 minutes", what, p.value, target)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if v, err := poll(); err == nil {
			p.observe(v, target, time.Now())
		}
		if time.Now().After(nextLog) {
			e.log.Info(what, "done", p.value, "of", target)
			nextLog = time.Now().Add(2 * time.Second)
		}
	}
	return nil
}

// baseline runs the raw consumer over topics as its own process.
func (e *env) baseline(ctx context.Context, name string, topics []string) (StageResult, error) {
	resultFile := filepath.Join(e.logDir, name+".json")
	r, err := e.start(name, "bench-consume", "--brokers", e.brokers[0], "--topics", strings.Join(topics, ","),
		"--group", "telemetra-bench-"+name, "--result", resultFile)
	if err != nil {
		return StageResult{}, err
	}
	if err := r.wait(ctx); err != nil {
		return StageResult{}, err
	}
	raw, err := os.ReadFile(resultFile)
	if err != nil {
		return StageResult{}, err
	}
	var res BaselineResult
	if err := json.Unmarshal(raw, &res); err != nil {
		return StageResult{}, fmt.Errorf("%s: %w", resultFile, err)
	}
	secs := res.LastRecord.Sub(res.FirstRecord).Seconds()
	out := StageResult{Stage: rawConsumerStage(topics), Records: res.Records, Seconds: secs, Usage: r.usage()}
	if secs > 0 {
		out.PerSecond = float64(res.Records-res.FirstBatch) / secs
	}
	return out, nil
}

// rawConsumerStage is the stage name of the raw consumer of topics.
func rawConsumerStage(topics []string) string {
	return "raw franz-go consumer (" + strings.Join(topics, ", ") + ")"
}
