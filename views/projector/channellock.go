package projector

import (
	"context"
	"fmt"
	"hash/fnv"
	"slices"

	"github.com/jackc/pgx/v5"
)

// A channel's records are in a partition of each projected topic, and instances of the group
// may hold the two. Their batches meet in the channel's stream sessions: an aggregates batch
// recomputes a session whole (refreshSessions, its moments count included) and a moments batch
// recounts a session's moments (recountSessionMoments). Each statement counts the moments
// committed when it starts, so two such batches at once each miss the other's rows and the last
// to commit leaves its count (a moment lost from the count, or a session never recounted). Every
// batch therefore holds a lock per channel it writes, taken after its offset rows and in key
// order (no two batches wait for each other in a circle): the second batch of a channel starts
// counting after the first committed.

// channelLockKeys are the advisory-lock keys of the channels of batch in schema: the
// two-integer keys, which PostgreSQL keeps apart from the one-bigint key of lockShared; the
// first names the schema's channel locks, the second the channel, sorted and once each. Two
// channels with the same key only wait for each other.
func channelLockKeys(schema string, batch decodedBatch) (space int32, keys []int32) {
	for _, a := range batch.aggregates {
		keys = append(keys, hash32(a.GetChannel()))
	}
	for _, m := range batch.moments {
		keys = append(keys, hash32(m.GetChannel()))
	}
	slices.Sort(keys)
	return hash32("telemetra.projection.channels/" + schema), slices.Compact(keys)
}

func hash32(s string) int32 {
	h := fnv.New32a()
	h.Write([]byte(s))
	return int32(h.Sum32())
}

// lockChannels takes the locks of batch's channels for tx (until it ends), in key order: the
// array is unnested in order, and each row locks as it is produced.
func lockChannels(ctx context.Context, tx pgx.Tx, schema string, batch decodedBatch) error {
	space, keys := channelLockKeys(schema, batch)
	if len(keys) == 0 {
		return nil
	}
	if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1::integer, k) FROM unnest($2::integer[]) AS k", space, keys); err != nil {
		return fmt.Errorf("lock %d channels: %w", len(keys), err)
	}
	return nil
}
