package projector

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/telemetra/telemetra/internal/kafka"
	"github.com/telemetra/telemetra/internal/pgtest"
	"github.com/telemetra/telemetra/internal/testkit"
	pb "github.com/telemetra/telemetra/proto/telemetra/v1"
)

func TestChannelLockKeysAreSortedOncePerChannelAndPerSchema(t *testing.T) {
	batch := decodedBatch{
		aggregates: []*pb.WindowAggregate{window("b", 0, false, 1, 1), window("a", 0, false, 1, 1), window("b", 1, false, 1, 1)},
		moments:    []*pb.Moment{moment("c", 0), moment("a", 1)},
	}
	space, keys := channelLockKeys("public", batch)
	want := []int32{hash32("a"), hash32("b"), hash32("c")}
	slices.Sort(want)
	if !slices.Equal(keys, want) {
		t.Errorf("keys %v, want %v", keys, want)
	}
	if other, _ := channelLockKeys("shadow", batch); other == space {
		t.Error("two schemas share their channel locks: a replay's catch-up would wait for the live projectors")
	}
	if _, keys := channelLockKeys("public", decodedBatch{}); len(keys) != 0 {
		t.Errorf("a batch without rows locks %v", keys)
	}
}

// TestBatchesOfAChannelOnBothTopicsKeepItsSessionExact: a channel's aggregates and moments are
// in partitions of two topics, which two instances may hold. Their batches meet in the
// channel's stream session: the aggregates one recomputes it whole, moments count included; the
// moments one recounts its moments. Run at once, in both orders (the first held open before its
// commit), the session counts the moment.
func TestBatchesOfAChannelOnBothTopicsKeepItsSessionExact(t *testing.T) {
	cfg := Config{DatabaseURL: pgtest.Database(t), Logger: quiet}
	cfg.defaults()
	pool := newPool(t, cfg)
	agg, mom := kafka.TopicAggregates, kafka.TopicMoments
	for k, step := range []struct {
		name          string
		channel       string
		first, second []*kgo.Record
	}{
		// the session exists; the moment's batch holds it while the window's recomputes it
		{"moments first", "a_stream", []*kgo.Record{recordAt(mom, 0, 0, moment("a_stream", 1))},
			[]*kgo.Record{recordAt(agg, 0, 1, window("a_stream", 1, true, 2, 20))}},
		// the window's batch starts the session; the moment's batch recounts it meanwhile
		{"aggregates first", "b_stream", []*kgo.Record{recordAt(agg, 1, 0, window("b_stream", 0, true, 1, 10))},
			[]*kgo.Record{recordAt(mom, 1, 0, moment("b_stream", 1))}},
	} {
		if k == 0 { // a_stream's session exists before
			if err := write(ctx, pool, cfg, decoded(t, cfg, recordAt(agg, 0, 0, window("a_stream", 0, true, 1, 10)))); err != nil {
				t.Fatal(err)
			}
		}
		held, release := make(chan struct{}), make(chan struct{})
		firstCfg := cfg
		firstCfg.beforeCommit = holdBeforeCommit(held, release)
		firstBatch, secondBatch := decoded(t, cfg, step.first...), decoded(t, cfg, step.second...)
		firstDone, secondDone := make(chan error, 1), make(chan error, 1)
		go func() { firstDone <- write(ctx, pool, firstCfg, firstBatch) }()
		select {
		case <-held:
		case err := <-firstDone:
			t.Fatalf("%s: the first batch ended before its commit: %v", step.name, err)
		}
		go func() { secondDone <- write(ctx, pool, cfg, secondBatch) }()
		// the second waits for the first's channel lock (unlocked, it would wait for a row of
		// the first, or not at all and end)
		awaitLockWaiterOr(t, pool, secondDone)
		close(release)
		if err := errors.Join(<-firstDone, <-secondDone); err != nil {
			t.Fatalf("%s: %v", step.name, err)
		}
		var moments int64
		if err := pool.QueryRow(ctx, "SELECT moments FROM stream_sessions WHERE channel = $1", step.channel).Scan(&moments); err != nil {
			t.Fatal(err)
		}
		if moments != 1 {
			t.Errorf("%s: the session counts %d moments, want 1", step.name, moments)
		}
	}
}

// awaitLockWaiterOr is awaitLockWaiter that also stops waiting once done has a value (put back).
func awaitLockWaiterOr(t *testing.T, pool *pgxpool.Pool, done chan error) {
	t.Helper()
	testkit.WaitFor(t, "a transaction waiting for a lock, or the second batch's end", 10*time.Second, func() error {
		select {
		case err := <-done:
			done <- err
			return nil
		default:
		}
		var n int
		err := pool.QueryRow(ctx, "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'").Scan(&n)
		if err == nil && n == 0 {
			err = errors.New("no transaction waits")
		}
		return err
	})
}
