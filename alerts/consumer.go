package alerts

import (
	"context"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/telemetra/telemetra/internal/kafka"
	pb "github.com/telemetra/telemetra/proto/telemetra/v1"
	"github.com/telemetra/telemetra/views/projector"
)

// consume reads the generation's moments topic as a member of cfg.Consumer and queues the
// deliveries of each batch with its offsets, in one transaction (store.queue), as the projector
// stores its rows: Kafka assigns the partitions, PostgreSQL keeps the positions. It is one more
// consumer group of the topic: the processor never waits for it. wake tells the sender which
// subscriptions got new deliveries.
func consume(ctx context.Context, cfg Config, st *store, subs *subscriptions, wake func(subscriptionIDs []string)) error {
	topic := kafka.OutputsFor(cfg.Generation).Moments
	resume := func(ctx context.Context, assigned map[string]map[int32]kgo.Offset) (map[string]map[int32]kgo.Offset, error) {
		var stored projector.Offsets
		if err := retry(ctx, cfg, "read the offsets of assigned partitions", func() error {
			var err error
			stored, err = st.storedOffsets(ctx)
			return err
		}); err != nil {
			return nil, fmt.Errorf("resume assigned partitions: %w", err)
		}
		cfg.Logger.Info("partitions assigned", "consumer", cfg.Consumer, "stored", stored)
		return projector.StartOffsets(assigned, stored), nil
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(cfg.Brokers...), kgo.ClientID(cfg.Consumer),
		kgo.ConsumerGroup(cfg.Consumer), kgo.ConsumeTopics(topic),
		kgo.SessionTimeout(20*time.Second),
		// the positions are the ones committed with the deliveries (alert_offsets)
		kgo.DisableAutoCommit(),
		// partitions move only between batches, once a batch is committed
		kgo.BlockRebalanceOnPoll(),
		kgo.AdjustFetchOffsetsFn(resume))
	if err != nil {
		return fmt.Errorf("kafka client: %w", err)
	}
	defer cl.CloseAllowingRebalance()
	for {
		fetches := cl.PollRecords(ctx, cfg.BatchSize)
		if ctx.Err() != nil {
			return nil
		}
		fetches.EachError(func(topic string, p int32, err error) {
			cfg.Logger.Warn("fetch failed; retrying", "topic", topic, "partition", p, "err", err)
		})
		if records := fetches.Records(); len(records) > 0 {
			if err := queueBatch(ctx, cfg, st, subs, records, wake); err != nil {
				return ignoreStopped(ctx, err)
			}
		}
		cl.AllowRebalance()
	}
}

// queueBatch matches a batch's moments against the live subscriptions and queues the
// deliveries with the batch's offsets.
func queueBatch(ctx context.Context, cfg Config, st *store, subs *subscriptions, records []*kgo.Record, wake func([]string)) error {
	now := cfg.Now()
	plan := planDeliveries(cfg, subs.get(), records, now)
	var q queued
	if err := retry(ctx, cfg, "queue a batch of deliveries", func() error {
		var err error
		q, err = st.queue(ctx, plan.deliveries, plan.offsets, cfg.MaxPending, now, cfg.beforeCommit)
		return err
	}); err != nil {
		return err
	}
	for result, n := range plan.moments {
		cfg.Metrics.moments.WithLabelValues(result).Add(float64(n))
	}
	cfg.Metrics.queued.Add(float64(q.pending))
	if q.queueFull > 0 {
		cfg.Metrics.deadLetters.WithLabelValues(ReasonQueueFull).Add(float64(q.queueFull))
		cfg.Metrics.deliveries.WithLabelValues(stateDeadLettered).Add(float64(q.queueFull))
		cfg.Logger.Warn("deliveries dead-lettered: their subscription's queue is full", "deliveries", q.queueFull, "max_pending", cfg.MaxPending)
	}
	if len(plan.deliveries) > 0 {
		ids := make([]string, 0, len(plan.deliveries))
		for _, d := range plan.deliveries {
			ids = append(ids, d.subscriptionID)
		}
		wake(ids)
	}
	return nil
}

// deliveryPlan is what a batch queues: the deliveries, the offsets past its records, and its
// moments counted by result.
type deliveryPlan struct {
	deliveries []newDelivery
	offsets    projector.Offsets
	moments    map[string]int
}

// planDeliveries decodes a batch's moments (as the projector does; the projector dead-letters
// the rejected ones, here they are counted and logged) and matches each against subs.
func planDeliveries(cfg Config, subs []Subscription, records []*kgo.Record, now time.Time) deliveryPlan {
	p := deliveryPlan{offsets: projector.Offsets{}, moments: map[string]int{}}
	for _, r := range records {
		if p.offsets[r.Topic] == nil {
			p.offsets[r.Topic] = map[int32]int64{}
		}
		p.offsets[r.Topic][r.Partition] = r.Offset + 1
		m, err := projector.DecodeMoment(r.Key, r.Value)
		if err != nil {
			cfg.Logger.Warn("record rejected: not alerted", "topic", r.Topic, "partition", r.Partition, "offset", r.Offset, "err", err)
			p.moments[momentRejected]++
			continue
		}
		p.moments[planMoment(&p, subs, m, now, cfg.MaxMomentAge)]++
	}
	return p
}

// planMoment adds m's deliveries to p and returns its result.
func planMoment(p *deliveryPlan, subs []Subscription, m *pb.Moment, now time.Time, maxAge time.Duration) string {
	if TooOld(m, now, maxAge) {
		return momentTooOld
	}
	var js []byte
	for _, s := range subs {
		if !Matches(s, m) {
			continue
		}
		if js == nil {
			var err error
			if js, err = MomentJSON(m); err != nil {
				return momentRejected // only invalid UTF-8 fails, which proto.Unmarshal refused already
			}
		}
		p.deliveries = append(p.deliveries, newDelivery{subscriptionID: s.ID, key: IdempotencyKey(m), moment: js})
	}
	if js == nil {
		return momentNoMatch
	}
	return momentQueued
}
