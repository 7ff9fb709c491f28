package projector

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Fencing. Projectors share a consumer group (Run) and a partition moves between them at a
// rebalance, which waits for the batch in flight. But a member that stalls past the group's
// timeouts (a long pause, a batch retrying through a PostgreSQL outage) is removed from the
// group with its batch still in flight, and may commit it after the partition's new owner has
// projected the same records. So every batch first locks the stored positions of its partitions
// and writes only its records at or past them: of two batches holding a record, the one that
// commits first projects it and the other skips it. The locked rows are the fence; no epoch or
// owner column is needed, because a record's offset says by itself whether it was projected.

// skipProjectedAlready is the reason label of telemetra_projector_records_skipped_total for
// records below their partition's stored next offset.
const skipProjectedAlready = "projected_already"

// topicPartition names a partition of a projected topic.
type topicPartition struct {
	topic     string
	partition int32
}

func (p topicPartition) String() string { return fmt.Sprintf("%s/%d", p.topic, p.partition) }

// partitionsOf lists the partitions of records once each, sorted: every batch locks its offset
// rows in this order, so two batches over the same partitions wait for each other instead of
// deadlocking.
func partitionsOf(records []*kgo.Record) []topicPartition {
	var out []topicPartition
	seen := map[topicPartition]bool{}
	for _, r := range records {
		p := topicPartition{r.Topic, r.Partition}
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	slices.SortFunc(out, compareTopicPartitions)
	return out
}

func compareTopicPartitions(a, b topicPartition) int {
	return cmp.Or(cmp.Compare(a.topic, b.topic), cmp.Compare(a.partition, b.partition))
}

// unprojected returns, in order, the records at or past their partition's stored next offset,
// and per partition how many were below it: those were projected already, by another instance
// or an earlier run. Only "below" means projected: Kafka offsets have gaps (compaction,
// retention, transaction markers), so a record past the stored offset is simply the next one
// there is. A partition missing from stored has nothing projected.
func unprojected(records []*kgo.Record, stored map[topicPartition]int64) (kept []*kgo.Record, skipped map[topicPartition]int) {
	kept = records[:0:0]
	for _, r := range records {
		p := topicPartition{r.Topic, r.Partition}
		if r.Offset < stored[p] {
			if skipped == nil {
				skipped = map[topicPartition]int{}
			}
			skipped[p]++
			continue
		}
		kept = append(kept, r)
	}
	return kept, skipped
}

// insertOffsetPlaceholders gives every partition of a batch an offset row to lock, without
// touching the rows that exist. Its 0 cannot be mistaken for a position: a partition has no row
// only while nothing of it was projected, where reading starts at 0 anyway (the log start, which
// kgo resumes at when 0 is below it), so the fence keeps all the batch's records of it and the
// batch's offset upsert replaces the placeholder in the same transaction; a placeholder is never
// committed. $1 consumer, $2 topics, $3 partitions, sorted (partitionsOf).
const insertOffsetPlaceholders = `
INSERT INTO projector_offsets (consumer, topic, partition, next_offset)
SELECT $1, k.topic, k.partition, 0
FROM unnest($2::text[], $3::integer[]) WITH ORDINALITY AS k(topic, partition, n)
ORDER BY k.n
ON CONFLICT (consumer, topic, partition) DO NOTHING`

// lockOffsetRows locks the batch's offset rows, in partitionsOf's order, until the transaction
// ends and reads their committed next offsets: a batch over the same partitions that commits
// first is waited for and then seen.
const lockOffsetRows = `
SELECT o.topic, o.partition, o.next_offset
FROM projector_offsets o
WHERE o.consumer = $1 AND (o.topic, o.partition) IN (SELECT * FROM unnest($2::text[], $3::integer[]))
ORDER BY o.topic, o.partition
FOR UPDATE`

// lockOffsets locks the offset rows of consumer's partitions parts (sorted) in tx, which
// resolves names in the projection's schema, and returns their stored next offsets.
func lockOffsets(ctx context.Context, tx pgx.Tx, consumer string, parts []topicPartition) (map[topicPartition]int64, error) {
	topics := make([]string, len(parts))
	numbers := make([]int32, len(parts))
	for i, p := range parts {
		topics[i], numbers[i] = p.topic, p.partition
	}
	b := &pgx.Batch{}
	b.Queue(insertOffsetPlaceholders, consumer, topics, numbers)
	b.Queue(lockOffsetRows, consumer, topics, numbers)
	br := tx.SendBatch(ctx, b)
	stored, err := readLockedOffsets(br, len(parts))
	if err != nil {
		_ = br.Close() // the first error is the one to report
		return nil, fmt.Errorf("lock the offsets of %d partitions: %w", len(parts), err)
	}
	if err := br.Close(); err != nil {
		return nil, fmt.Errorf("lock the offsets of %d partitions: %w", len(parts), err)
	}
	return stored, nil
}

// readLockedOffsets reads the results of lockOffsets' statements.
func readLockedOffsets(br pgx.BatchResults, partitions int) (map[topicPartition]int64, error) {
	if _, err := br.Exec(); err != nil {
		return nil, fmt.Errorf("add offset rows: %w", err)
	}
	rows, err := br.Query()
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	stored := make(map[topicPartition]int64, partitions)
	for rows.Next() {
		var p topicPartition
		var next int64
		if err := rows.Scan(&p.topic, &p.partition, &next); err != nil {
			return nil, err
		}
		stored[p] = next
	}
	return stored, rows.Err()
}

// describeSkipped is skipped, with the stored offsets the records were below, for the log:
// "telemetra.aggregates/2: 40 below 1200, ...".
func describeSkipped(skipped map[topicPartition]int, stored map[topicPartition]int64) string {
	parts := slices.SortedFunc(maps.Keys(skipped), compareTopicPartitions)
	out := make([]string, len(parts))
	for i, p := range parts {
		out[i] = fmt.Sprintf("%s: %d below %d", p, skipped[p], stored[p])
	}
	return strings.Join(out, ", ")
}

// reportSkipped counts and logs the records a batch left out as projected already, once the
// batch is done (an attempt that failed and was retried counts nothing).
func reportSkipped(cfg Config, skipped map[topicPartition]int, stored map[topicPartition]int64) {
	if len(skipped) == 0 {
		return
	}
	n := 0
	for _, k := range skipped {
		n += k
	}
	cfg.Metrics.skipped.WithLabelValues(skipProjectedAlready).Add(float64(n))
	cfg.Logger.Info("records skipped: projected already, by another instance that held their partition or an earlier run",
		"consumer", cfg.Consumer, "records", n, "partitions", describeSkipped(skipped, stored))
}
