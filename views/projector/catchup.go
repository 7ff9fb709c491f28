package projector

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/telemetra/telemetra/internal/kafka"
)

// CatchUp projects into cfg.Schema (already Prepared) from its stored offsets up to, not
// including, the offsets in until, and returns: a replay uses it to bring a shadow projection
// to an exact position. Partitions not in until are left alone; progress, if set, is called
// with the number of records of each committed batch. Its batches are fenced as Run's are
// (write): a record below its partition's stored offset is skipped, so a catch-up that races
// another writer of the same schema and consumer projects nothing twice.
func CatchUp(ctx context.Context, pool *pgxpool.Pool, cfg Config, until Offsets, progress func(records int)) error {
	cfg.defaults()
	stored, err := StoredOffsets(ctx, pool, cfg)
	if err != nil {
		return err
	}
	start := map[string]map[int32]kgo.Offset{}
	pending := 0
	for topic, parts := range until {
		for p, limit := range parts {
			from, ok := stored[topic][p]
			if limit <= 0 || (ok && from >= limit) {
				continue
			}
			if start[topic] == nil {
				start[topic] = map[int32]kgo.Offset{}
			}
			if ok {
				start[topic][p] = kgo.NewOffset().At(from)
			} else {
				start[topic][p] = kgo.NewOffset().AtStart()
			}
			pending++
		}
	}
	if pending == 0 {
		return nil
	}
	// the dead-letter topic, for a generation no projector has run for yet (creation is a no-op
	// for topics that exist: the projected ones do)
	if err := kafka.EnsureTopics(ctx, cfg.Brokers, kafka.OutputsFor(cfg.Generation).Specs(),
		kafka.WithStartupTimeout(max(cfg.StartupTimeout, 0)), kafka.WithLogger(cfg.Logger)); err != nil {
		return err
	}
	cl, err := kgo.NewClient(append(kafka.DurableWrites(), kgo.SeedBrokers(cfg.Brokers...), kgo.ConsumePartitions(start),
		kgo.ClientID(cfg.Consumer+"-catch-up"), kgo.RecordPartitioner(kafka.GokaPartitioner()))...)
	if err != nil {
		return fmt.Errorf("kafka client: %w", err)
	}
	defer cl.Close()

	for pending > 0 {
		fetches := cl.PollRecords(ctx, cfg.BatchSize)
		if err := ctx.Err(); err != nil {
			return err
		}
		fetches.EachError(func(topic string, p int32, err error) {
			cfg.Logger.Warn("fetch failed; retrying", "topic", topic, "partition", p, "err", err)
		})
		var batch []*kgo.Record
		done := map[string][]int32{}
		for _, r := range fetches.Records() {
			limit := until[r.Topic][r.Partition]
			if _, open := start[r.Topic][r.Partition]; !open {
				continue // reached its limit in an earlier batch; fetched before the pause
			}
			if r.Offset < limit {
				batch = append(batch, r)
			}
			if r.Offset+1 >= limit {
				delete(start[r.Topic], r.Partition)
				done[r.Topic] = append(done[r.Topic], r.Partition)
				pending--
			}
		}
		if len(done) > 0 {
			cl.PauseFetchPartitions(done)
		}
		if len(batch) == 0 {
			continue
		}
		if err := project(ctx, cl, pool, cfg, batch); err != nil {
			return err
		}
		if progress != nil {
			progress(len(batch))
		}
	}
	return nil
}
