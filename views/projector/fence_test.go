package projector

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/proto"

	"github.com/telemetra/telemetra/internal/kafka"
	"github.com/telemetra/telemetra/internal/pgtest"
	"github.com/telemetra/telemetra/internal/testkit"
	pb "github.com/telemetra/telemetra/proto/telemetra/v1"
)

func TestUnprojectedDropsOnlyWhatIsBelowTheStoredOffset(t *testing.T) {
	rec := func(topic string, p int32, offset int64) *kgo.Record {
		return &kgo.Record{Topic: topic, Partition: p, Offset: offset}
	}
	records := []*kgo.Record{
		rec("a", 0, 3), rec("a", 0, 4), rec("a", 0, 5), rec("a", 0, 9), // 9: a gap (compaction) is no hole
		rec("a", 1, 7), rec("b", 0, 0), // b/0: no stored row, nothing projected
	}
	kept, skipped := unprojected(records, map[topicPartition]int64{{"a", 0}: 5, {"a", 1}: 8})
	var got []string
	for _, r := range kept {
		got = append(got, fmt.Sprintf("%s/%d@%d", r.Topic, r.Partition, r.Offset))
	}
	if want := []string{"a/0@5", "a/0@9", "b/0@0"}; !slices.Equal(got, want) {
		t.Errorf("kept %v, want %v", got, want)
	}
	if want := map[topicPartition]int{{"a", 0}: 2, {"a", 1}: 1}; fmt.Sprint(skipped) != fmt.Sprint(want) {
		t.Errorf("skipped %v, want %v", skipped, want)
	}
	if kept, skipped := unprojected(records, nil); len(kept) != len(records) || skipped != nil {
		t.Errorf("nothing stored: kept %d of %d, skipped %v", len(kept), len(records), skipped)
	}
	if len(records) != 6 || records[0].Offset != 3 {
		t.Error("unprojected changed the batch it was given")
	}
}

func TestPartitionsOfAreDistinctAndSorted(t *testing.T) {
	records := []*kgo.Record{{Topic: "b", Partition: 1}, {Topic: "a", Partition: 2}, {Topic: "b", Partition: 0},
		{Topic: "a", Partition: 2}, {Topic: "a", Partition: 10}}
	got := fmt.Sprint(partitionsOf(records))
	if want := "[a/2 a/10 b/0 b/1]"; got != want {
		t.Fatalf("partitionsOf = %s, want %s", got, want)
	}
}

// statusWindow is a version of minute's window whose status has title. The versions of a window
// have the same last event time here, so the channel row keeps the status of the one written
// last: applying an older one again after a newer one changes the row. That makes the channel
// upsert the effect that shows a record projected twice (every other upsert keeps the newest
// or the greatest, or recounts), and these tests check the title.
func statusWindow(channel string, minute int, version uint64, title string) *pb.WindowAggregate {
	a := window(channel, minute, false, version, int64(version))
	a.Status.Title = title
	return a
}

func recordAt(topic string, partition int32, offset int64, m interface {
	proto.Message
	GetChannel() string
}) *kgo.Record {
	r := record(topic, offset, m)
	r.Partition = partition
	return r
}

func channelTitle(t *testing.T, pool *pgxpool.Pool, channel string) string {
	t.Helper()
	var title string
	if err := pool.QueryRow(ctx, "SELECT title FROM channels WHERE channel = $1", channel).Scan(&title); err != nil {
		t.Fatal(err)
	}
	return title
}

func storedNext(t *testing.T, pool *pgxpool.Pool, cfg Config, topic string, partition int32) int64 {
	t.Helper()
	stored, err := StoredOffsets(ctx, pool, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return stored[topic][partition]
}

func skippedRecords(m *Metrics) float64 {
	return testutil.ToFloat64(m.skipped.WithLabelValues(skipProjectedAlready))
}

// TestAStalledBatchWritesNothingProjectedAlready drives write as a member removed from the group
// mid-batch does: its batch commits after the partition's new owner projected the same records.
// What is below the stored offset is skipped and counted, what is past it is projected, a gap
// in the offsets is no hole, and a stored offset never goes back.
func TestAStalledBatchWritesNothingProjectedAlready(t *testing.T) {
	metrics := NewMetrics(prometheus.NewRegistry())
	cfg := Config{DatabaseURL: pgtest.Database(t), Logger: quiet, Metrics: metrics}
	cfg.defaults()
	pool := newPool(t, cfg)
	agg, mom := kafka.TopicAggregates, kafka.TopicMoments
	first, second := statusWindow("demo_stream", 0, 1, "first"), statusWindow("demo_stream", 0, 2, "second")

	// the control: on another channel, through two partitions so nothing fences one against the
	// other, the older record applied after the newer one does change the row
	for k, a := range []*pb.WindowAggregate{statusWindow("control", 0, 2, "second"), statusWindow("control", 0, 1, "first")} {
		if err := write(ctx, pool, cfg, decoded(t, cfg, recordAt(agg, int32(1+k), 0, a))); err != nil {
			t.Fatal(err)
		}
	}
	if title := channelTitle(t, pool, "control"); title != "first" {
		t.Fatalf("control: title %q after the older record, want %q: the check below would not show a double", title, "first")
	}

	// the partition's new owner projects offsets 0 and 1
	if err := write(ctx, pool, cfg, decoded(t, cfg, recordAt(agg, 0, 0, first), recordAt(agg, 0, 1, second))); err != nil {
		t.Fatal(err)
	}
	rowsBefore := testutil.ToFloat64(metrics.rows.WithLabelValues("window_aggregates"))
	// the stalled member commits its batch of offset 0 after that
	if err := write(ctx, pool, cfg, decoded(t, cfg, recordAt(agg, 0, 0, first))); err != nil {
		t.Fatal(err)
	}
	if title, next := channelTitle(t, pool, "demo_stream"), storedNext(t, pool, cfg, agg, 0); title != "second" || next != 2 {
		t.Fatalf("after the stalled batch: title %q, next offset %d; want %q and 2", title, next, "second")
	}
	if n := skippedRecords(metrics); n != 1 {
		t.Fatalf("%v records skipped, want 1", n)
	}
	if rows := testutil.ToFloat64(metrics.rows.WithLabelValues("window_aggregates")); rows != rowsBefore {
		t.Fatalf("the stalled batch wrote %v window rows", rows-rowsBefore)
	}

	// a stalled batch reaching past the stored offset: the part below is skipped, the rest is
	// projected; a partition without an offset row yet (the moments one) is projected whole
	third := statusWindow("demo_stream", 1, 3, "third") // a later window: a later event time
	if err := write(ctx, pool, cfg, decoded(t, cfg, recordAt(agg, 0, 0, first), recordAt(agg, 0, 1, second),
		recordAt(mom, 0, 0, moment("demo_stream", 0)), recordAt(agg, 0, 2, third))); err != nil {
		t.Fatal(err)
	}
	if title := channelTitle(t, pool, "demo_stream"); title != "third" {
		t.Fatalf("title %q, want %q", title, "third")
	}
	if a, m := storedNext(t, pool, cfg, agg, 0), storedNext(t, pool, cfg, mom, 0); a != 3 || m != 1 {
		t.Fatalf("next offsets %d (aggregates) and %d (moments), want 3 and 1", a, m)
	}
	if got := windowRow(t, pool, "demo_stream", 0); got != (row{false, 2, 2}) {
		t.Fatalf("window 0 is %+v, want version 2", got)
	}
	if got := windowRow(t, pool, "demo_stream", 1); got != (row{false, 3, 3}) {
		t.Fatalf("window 1 is %+v, want version 3", got)
	}
	if n := skippedRecords(metrics); n != 3 {
		t.Fatalf("%v records skipped, want 3", n)
	}

	// offsets have gaps (compaction, retention, transaction markers): past the stored one is next
	if err := write(ctx, pool, cfg, decoded(t, cfg, recordAt(agg, 0, 10, statusWindow("demo_stream", 2, 4, "fourth")))); err != nil {
		t.Fatal(err)
	}
	if title, next := channelTitle(t, pool, "demo_stream"), storedNext(t, pool, cfg, agg, 0); title != "fourth" || next != 11 {
		t.Fatalf("after a gap: title %q, next offset %d; want %q and 11", title, next, "fourth")
	}
	if n := skippedRecords(metrics); n != 3 {
		t.Fatalf("%v records skipped after the gap, want still 3", n)
	}
	// every offset row is a position some batch committed: no placeholder was left behind
	var placeholders int
	if err := pool.QueryRow(ctx, "SELECT count(*) FROM projector_offsets WHERE next_offset = 0").Scan(&placeholders); err != nil || placeholders != 0 {
		t.Fatalf("%d offset rows at 0 (%v)", placeholders, err)
	}
}

// holdBeforeCommit returns a beforeCommit hook that says when its transaction has written its
// rows and holds them (and their locks) until release is closed.
func holdBeforeCommit(held chan<- struct{}, release <-chan struct{}) func() error {
	return func() error {
		held <- struct{}{}
		<-release
		return nil
	}
}

// awaitLockWaiter waits until a transaction of pool's database waits for a lock.
func awaitLockWaiter(t *testing.T, pool *pgxpool.Pool) {
	t.Helper()
	testkit.WaitFor(t, "a transaction waiting for a lock", 10*time.Second, func() error {
		var n int
		err := pool.QueryRow(ctx, "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'").Scan(&n)
		if err == nil && n == 0 {
			err = errors.New("no transaction waits")
		}
		return err
	})
}

// TestRacingBatchesOnAPartitionProjectEachRecordOnce runs two transactions over the same
// partition at once, the first one held open before its commit: the second waits for the
// first's offset rows and then skips what it committed, in both orders (the partition's new
// owner first, then the stalled member; and the other way round).
func TestRacingBatchesOnAPartitionProjectEachRecordOnce(t *testing.T) {
	dbURL := pgtest.Database(t)
	agg := kafka.TopicAggregates
	var records []*kgo.Record
	for k := range 5 {
		records = append(records, recordAt(agg, 0, int64(k), statusWindow("demo_stream", 0, uint64(k+1), fmt.Sprintf("v%d", k+1))))
	}
	base := Config{DatabaseURL: dbURL, Logger: quiet}
	base.defaults()
	pool := newPool(t, base)
	for k, step := range []struct {
		name          string
		first, second []*kgo.Record // first commits first, second waits for it
		skipped       float64       // of second's
		next          int64
		title         string
	}{
		// without the fence, the stale batch would turn the title back to v1 and the offset to 1
		{"the new owner first", records[0:2], records[0:1], 1, 2, "v2"},
		{"the stalled member first", records[2:4], records[2:5], 2, 5, "v5"},
	} {
		held, release := make(chan struct{}), make(chan struct{})
		firstCfg, secondCfg := base, base
		firstCfg.Metrics, secondCfg.Metrics = NewMetrics(nil), NewMetrics(nil)
		firstCfg.beforeCommit = holdBeforeCommit(held, release)
		firstBatch, secondBatch := decoded(t, base, step.first...), decoded(t, base, step.second...)
		firstDone, secondDone := make(chan error, 1), make(chan error, 1)
		go func() { firstDone <- write(ctx, pool, firstCfg, firstBatch) }()
		select {
		case <-held:
		case err := <-firstDone:
			t.Fatalf("step %d (%s): the first batch ended before its commit: %v", k, step.name, err)
		}
		go func() { secondDone <- write(ctx, pool, secondCfg, secondBatch) }()
		awaitLockWaiter(t, pool)
		select {
		case err := <-secondDone:
			t.Fatalf("step %d (%s): the second batch did not wait for the first's offset rows (%v)", k, step.name, err)
		default:
		}
		close(release)
		if err := errors.Join(<-firstDone, <-secondDone); err != nil {
			t.Fatalf("step %d (%s): %v", k, step.name, err)
		}
		if n := skippedRecords(secondCfg.Metrics); n != step.skipped {
			t.Errorf("step %d (%s): the second batch skipped %v records, want %v", k, step.name, n, step.skipped)
		}
		if n := skippedRecords(firstCfg.Metrics); n != 0 {
			t.Errorf("step %d (%s): the first batch skipped %v records", k, step.name, n)
		}
		if title, next := channelTitle(t, pool, "demo_stream"), storedNext(t, pool, base, agg, 0); title != step.title || next != step.next {
			t.Errorf("step %d (%s): title %q, next offset %d; want %q and %d", k, step.name, title, next, step.title, step.next)
		}
	}
}

// TestManyWritersProjectEachRecordOnce has three writers project the same records of two
// partitions at once, each in batches of its own size, as instances do that all held the
// partitions at some point: every record is projected by exactly one of them (the others skip
// it), the offsets end at the records' end, and the channels keep the last records' status.
func TestManyWritersProjectEachRecordOnce(t *testing.T) {
	cfg := Config{DatabaseURL: pgtest.Database(t), Logger: quiet}
	cfg.defaults()
	pool := newPool(t, cfg)
	const perPartition = 40
	var records []*kgo.Record
	for k := range perPartition {
		for p, ch := range []string{"left", "right"} {
			records = append(records, recordAt(kafka.TopicAggregates, int32(p), int64(k),
				statusWindow(ch, 0, uint64(k+1), fmt.Sprintf("v%d", k+1))))
		}
	}
	sizes := []int{5, 7, 11}
	writers := make([]Config, len(sizes))
	done := make(chan error, len(sizes))
	for w, size := range sizes {
		writers[w] = cfg
		writers[w].Metrics = NewMetrics(nil)
		var batches []decodedBatch
		for batch := range slices.Chunk(records, size) {
			batches = append(batches, decoded(t, cfg, batch...))
		}
		go func() {
			for _, batch := range batches {
				if err := write(ctx, pool, writers[w], batch); err != nil {
					done <- fmt.Errorf("writer %d: %w", w, err)
					return
				}
			}
			done <- nil
		}()
	}
	for range sizes {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	var skipped float64
	for _, w := range writers {
		skipped += skippedRecords(w.Metrics)
	}
	if want := float64((len(sizes) - 1) * len(records)); skipped != want {
		t.Errorf("%v records skipped, want %v: each record projected by exactly one writer", skipped, want)
	}
	for p, ch := range []string{"left", "right"} {
		if next := storedNext(t, pool, cfg, kafka.TopicAggregates, int32(p)); next != perPartition {
			t.Errorf("partition %d: next offset %d, want %d", p, next, perPartition)
		}
		if title := channelTitle(t, pool, ch); title != fmt.Sprintf("v%d", perPartition) {
			t.Errorf("channel %s: title %q, want the last record's", ch, title)
		}
	}
}

// TestTheOffsetLockHoldsOffAnotherBatch: a batch that has locked its partition's offset row, and
// written nothing yet, makes another batch of that partition wait; once it commits a later
// offset, the waiting batch sees it and skips what is below.
func TestTheOffsetLockHoldsOffAnotherBatch(t *testing.T) {
	metrics := NewMetrics(nil)
	cfg := Config{DatabaseURL: pgtest.Database(t), Logger: quiet, Metrics: metrics}
	cfg.defaults()
	pool := newPool(t, cfg)
	agg := kafka.TopicAggregates
	if err := write(ctx, pool, cfg, decoded(t, cfg, recordAt(agg, 0, 0, statusWindow("demo_stream", 0, 1, "v1")))); err != nil {
		t.Fatal(err)
	}
	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if err := lockShared(ctx, tx, cfg.Schema); err != nil {
		t.Fatal(err)
	}
	p := topicPartition{agg, 0}
	if stored, err := lockOffsets(ctx, tx, cfg.Consumer, []topicPartition{p}); err != nil || stored[p] != 1 {
		t.Fatalf("locked offsets %v (%v), want %v at 1", stored, err, p)
	}
	stale := decoded(t, cfg, recordAt(agg, 0, 1, statusWindow("demo_stream", 0, 2, "v2")), recordAt(agg, 0, 2, statusWindow("demo_stream", 0, 3, "v3")))
	done := make(chan error, 1)
	go func() { done <- write(ctx, pool, cfg, stale) }()
	awaitLockWaiter(t, pool)
	select {
	case err := <-done:
		t.Fatalf("the batch did not wait for the locked offset row (%v)", err)
	default:
	}
	// the lock holder projects offsets 1 and 2 (its rows aside) and commits
	if _, err := tx.Exec(ctx, "UPDATE projector_offsets SET next_offset = 3 WHERE consumer = $1 AND topic = $2 AND partition = 0", cfg.Consumer, agg); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if n := skippedRecords(metrics); n != 2 {
		t.Fatalf("%v records skipped, want 2", n)
	}
	if title, next := channelTitle(t, pool, "demo_stream"), storedNext(t, pool, cfg, agg, 0); title != "v1" || next != 3 {
		t.Fatalf("title %q, next offset %d; want v1 (the holder wrote no rows) and 3", title, next)
	}
}
