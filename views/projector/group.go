package projector

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/twmb/franz-go/pkg/kgo"
)

// groupMember is Run's membership of the consumer group its instances share: Kafka assigns the
// partitions, PostgreSQL keeps the positions (in the transactions of the rows).
type groupMember struct {
	cfg  Config
	pool *pgxpool.Pool
}

// opts are the client options of the membership.
func (m groupMember) opts() []kgo.Opt {
	return []kgo.Opt{
		kgo.ConsumerGroup(m.cfg.Consumer),
		kgo.ConsumeTopics(Topics(m.cfg.Generation)...),
		// a member that dies holds its partitions until its session times out: 20 s rather than
		// kgo's 45 s, still above a broker failover (9 to 13 s, docs/operations.md)
		kgo.SessionTimeout(20 * time.Second),
		// a Kafka commit would be a second position, behind or ahead of the rows; the one
		// committed with them is read in resume instead
		kgo.DisableAutoCommit(),
		// partitions are revoked only between batches: Run allows a rebalance once a batch is
		// committed, so the next owner reads the position after it
		kgo.BlockRebalanceOnPoll(),
		kgo.OnPartitionsCallbackBlocked(func(context.Context, *kgo.Client) {
			// a batch slower than the group's rebalance timeout gets this member removed
			m.cfg.Logger.Info("a rebalance waits for the batch in flight", "consumer", m.cfg.Consumer)
		}),
		kgo.AdjustFetchOffsetsFn(m.resume),
		kgo.OnPartitionsRevoked(func(_ context.Context, _ *kgo.Client, revoked map[string][]int32) {
			m.release("partitions revoked", revoked)
		}),
		kgo.OnPartitionsLost(func(_ context.Context, _ *kgo.Client, lost map[string][]int32) {
			m.release("partitions lost", lost)
		}),
	}
}

// resume replaces where newly assigned partitions start (Kafka's committed offsets, which this
// group never has, so the start of each partition) by the positions stored in PostgreSQL. kgo
// passes every newly assigned partition, those without a committed offset too (at its start
// offset; TestAGroupMemberResumesFromThePositionsInPostgreSQL relies on it). A PostgreSQL
// outage is retried until ctx ends, which kgo does when the assignment is revoked; the error
// then ends the group session and the member rejoins.
func (m groupMember) resume(ctx context.Context, assigned map[string]map[int32]kgo.Offset) (map[string]map[int32]kgo.Offset, error) {
	var stored Offsets
	err := retry(ctx, m.cfg, "read the offsets of assigned partitions", func() error {
		var err error
		stored, err = StoredOffsets(ctx, m.pool, m.cfg)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("resume assigned partitions: %w", err)
	}
	start := StartOffsets(assigned, stored)
	m.cfg.Logger.Info("partitions assigned", "consumer", m.cfg.Consumer, "from", describeStarts(assigned, stored))
	return start, nil
}

// StartOffsets is where each assigned partition resumes: at its stored next offset, or at its
// start if nothing of it was projected. WithEpoch(-1) (NewOffset's already, said as kgo's docs
// advise for a replaced position): with an epoch, kgo would check the position for data loss
// against a leader epoch that no fetch of this client saw.
func StartOffsets(assigned map[string]map[int32]kgo.Offset, stored Offsets) map[string]map[int32]kgo.Offset {
	out := make(map[string]map[int32]kgo.Offset, len(assigned))
	for topic, parts := range assigned {
		out[topic] = make(map[int32]kgo.Offset, len(parts))
		for p := range parts {
			if next, ok := stored[topic][p]; ok {
				out[topic][p] = kgo.NewOffset().At(next).WithEpoch(-1)
			} else {
				out[topic][p] = kgo.NewOffset().AtStart()
			}
		}
	}
	return out
}

// release logs partitions that left this member and forgets their lag: the new owner reports it.
func (m groupMember) release(what string, parts map[string][]int32) {
	if !hasPartitions(parts) {
		return // kgo calls OnPartitionsRevoked at the end of every session, with or without any
	}
	m.cfg.Logger.Info(what, "consumer", m.cfg.Consumer, "partitions", describePartitions(parts))
	for topic, ps := range parts {
		for _, p := range ps {
			m.cfg.Metrics.lag.DeleteLabelValues(topic, fmt.Sprint(p))
		}
	}
}

func hasPartitions(parts map[string][]int32) bool {
	for _, ps := range parts {
		if len(ps) > 0 {
			return true
		}
	}
	return false
}

// describeStarts is "telemetra.aggregates/0@120 telemetra.moments/1@start ...", for the log.
func describeStarts(assigned map[string]map[int32]kgo.Offset, stored Offsets) string {
	var out []string
	for _, topic := range slices.Sorted(maps.Keys(assigned)) {
		for _, p := range slices.Sorted(maps.Keys(assigned[topic])) {
			at := "start"
			if next, ok := stored[topic][p]; ok {
				at = fmt.Sprint(next)
			}
			out = append(out, fmt.Sprintf("%s/%d@%s", topic, p, at))
		}
	}
	return strings.Join(out, " ")
}

// describePartitions is "telemetra.aggregates/0 telemetra.aggregates/2 ...", for the log.
func describePartitions(parts map[string][]int32) string {
	var out []string
	for _, topic := range slices.Sorted(maps.Keys(parts)) {
		for _, p := range slices.Sorted(slices.Values(parts[topic])) {
			out = append(out, fmt.Sprintf("%s/%d", topic, p))
		}
	}
	return strings.Join(out, " ")
}
