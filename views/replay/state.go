package replay

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/telemetra/telemetra/internal/kafka"
	"github.com/telemetra/telemetra/processors/aggregator"
	"github.com/telemetra/telemetra/processors/table"
)

// stateRebuild is a processor of a new generation running in this process: it reprocesses the
// input topics from the start into its own state table and output topics.
type stateRebuild struct {
	stop func() error
}

// rebuildState starts the generation's processor and returns once it has processed every input
// record that existed when it started, and then run for cfg.Settle more (so windows that close
// by idleness are final). The processor keeps running, writing new input into the generation's
// outputs, until stop is called.
func rebuildState(ctx context.Context, cfg Config) (*stateRebuild, int64, time.Duration, error) {
	group := table.Group(cfg.Generation)
	cl, err := kgo.NewClient(kgo.SeedBrokers(cfg.Brokers...))
	if err != nil {
		return nil, 0, 0, fmt.Errorf("admin client: %w", err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	topics := kafka.InputTopics()
	ends, err := adm.ListEndOffsets(ctx, topics...)
	if err != nil {
		return nil, 0, 0, fmt.Errorf("list end offsets: %w", err)
	}
	target := map[string]map[int32]int64{}
	var total int64
	ends.Each(func(o kadm.ListedOffset) {
		if o.Err == nil {
			if target[o.Topic] == nil {
				target[o.Topic] = map[int32]int64{}
			}
			target[o.Topic][o.Partition] = o.Offset
			total += o.Offset
		}
	})
	start, err := groupPosition(ctx, adm, string(group), target)
	if err != nil {
		return nil, 0, 0, err
	}
	cfg.Logger.Info("rebuilding processor state", "generation", cfg.Generation, "group", group,
		"events", total-start, "outputs", kafka.OutputsFor(cfg.Generation).Aggregates)

	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan error, 1)
	go func() {
		done <- aggregator.Run(runCtx, aggregator.Config{
			Brokers: cfg.Brokers, Generation: cfg.Generation, Window: cfg.Window,
			ClientID: "telemetra-replay-" + string(group), Logger: cfg.Logger.With("role", "processor"),
		})
	}()
	r := &stateRebuild{stop: func() error {
		cancel()
		return <-done
	}}
	fail := func(err error) (*stateRebuild, int64, time.Duration, error) {
		if serr := r.stop(); serr != nil {
			err = errors.Join(err, serr)
		}
		return nil, 0, 0, err
	}

	prog := newProgress("state", "events", cfg.ProgressEvery, cfg.Now, cfg.Logger)
	prog.set(0, total-start)
	poll := time.NewTicker(cfg.pollEvery())
	defer poll.Stop()
	for {
		select {
		case <-ctx.Done():
			return fail(ctx.Err())
		case err := <-done:
			done <- err // for stop
			return fail(fmt.Errorf("processor of generation %d stopped: %w", cfg.Generation, err))
		case <-poll.C:
		}
		pos, err := groupPosition(ctx, adm, string(group), target)
		if err != nil {
			cfg.Logger.Debug("reading the group's position failed; retrying", "err", err)
			continue
		}
		prog.set(pos-start, total-start)
		if pos >= total {
			break
		}
	}
	took := prog.finish()
	cfg.Logger.Info("inputs caught up; letting idle windows close", "settle", cfg.Settle)
	select {
	case <-ctx.Done():
		return fail(ctx.Err())
	case <-time.After(cfg.Settle):
	}
	return r, total - start, took, nil
}

// groupPosition sums the group's committed offsets over the target partitions, each capped at
// its target.
func groupPosition(ctx context.Context, adm *kadm.Client, group string, target map[string]map[int32]int64) (int64, error) {
	committed, err := adm.FetchOffsets(ctx, group)
	if errors.Is(err, kerr.GroupIDNotFound) {
		return 0, nil // a new group that has committed nothing yet
	}
	if err != nil {
		return 0, fmt.Errorf("fetch offsets of group %s: %w", group, err)
	}
	var pos int64
	committed.Each(func(o kadm.OffsetResponse) {
		if limit, ok := target[o.Topic][o.Partition]; ok && o.Err == nil {
			pos += min(o.At, limit)
		}
	})
	return pos, nil
}
