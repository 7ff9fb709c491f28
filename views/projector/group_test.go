package projector

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/proto"

	"github.com/telemetra/telemetra/internal/kafka"
	"github.com/telemetra/telemetra/internal/kafka/kafkatest"
	"github.com/telemetra/telemetra/internal/pgtest"
	"github.com/telemetra/telemetra/internal/testkit"
	pb "github.com/telemetra/telemetra/proto/telemetra/v1"
)

func TestStartOffsetsAreThePositionsInPostgreSQL(t *testing.T) {
	committed := kgo.NewOffset().At(7) // what Kafka had: replaced whatever it is
	assigned := map[string]map[int32]kgo.Offset{"a": {0: committed, 1: kgo.NewOffset().AtStart()}, "b": {2: committed}}
	got := StartOffsets(assigned, Offsets{"a": {0: 120, 5: 9}, "c": {0: 1}})
	want := map[string]map[int32]kgo.EpochOffset{
		"a": {0: {Epoch: -1, Offset: 120}, 1: kgo.NewOffset().AtStart().EpochOffset()},
		"b": {2: kgo.NewOffset().AtStart().EpochOffset()}, // no stored row: from the start
	}
	if len(got) != len(want) {
		t.Fatalf("offsets for topics %v, want %v", got, want)
	}
	for topic, parts := range want {
		if len(got[topic]) != len(parts) {
			t.Fatalf("%s: offsets %v, want those of %v", topic, got[topic], parts)
		}
		for p, w := range parts {
			if g := got[topic][p].EpochOffset(); g != w {
				t.Errorf("%s/%d starts at %+v, want %+v", topic, p, g, w)
			}
		}
	}
}

// TestResumeRetriesPostgreSQLUntilItsContextEnds: the assignment callback retries a PostgreSQL
// that does not answer, and gives up when kgo ends the assignment (its context).
func TestResumeRetriesPostgreSQLUntilItsContextEnds(t *testing.T) {
	pool, err := pgxpool.New(ctx, "postgres://nobody@127.0.0.1:1/none?connect_timeout=1") // nothing listens on port 1
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	metrics := NewMetrics(nil)
	cfg := Config{Logger: quiet, Metrics: metrics, RetryMin: time.Millisecond, RetryMax: 10 * time.Millisecond}
	cfg.defaults()
	assignment, revoke := context.WithTimeout(ctx, 300*time.Millisecond)
	defer revoke()
	_, err = groupMember{cfg: cfg, pool: pool}.resume(assignment, map[string]map[int32]kgo.Offset{kafka.TopicAggregates: {0: kgo.NewOffset()}})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("resume returned %v, want the end of its context", err)
	}
	if n := testutil.ToFloat64(metrics.retries); n < 2 {
		t.Fatalf("%v retries: the outage was not retried", n)
	}
}

// TestAGroupMemberResumesFromThePositionsInPostgreSQL: a partition with a position in
// PostgreSQL and no commit in Kafka resumes at the position, and one with a commit in Kafka
// (which the projector never makes: it is ignored) and no position resumes at its start. The
// records below the position are not read at all: none is skipped by the fence.
func TestAGroupMemberResumesFromThePositionsInPostgreSQL(t *testing.T) {
	addr := kafkatest.StartBroker(t)
	metrics := NewMetrics(prometheus.NewRegistry())
	cfg := Config{Brokers: []string{addr}, DatabaseURL: pgtest.Database(t), Logger: quiet, Metrics: metrics}
	cfg.defaults()
	pool := newPool(t, cfg)
	const ch = "demo_stream"
	before := produceRecords(t, addr, record(kafka.TopicAggregates, 0, window(ch, 0, true, 1, 10)),
		record(kafka.TopicAggregates, 0, window(ch, 1, true, 2, 20)), record(kafka.TopicAggregates, 0, window(ch, 2, true, 3, 30)),
		record(kafka.TopicMoments, 0, moment(ch, 0)))
	aggPart, momPart := before[0].Partition, before[3].Partition
	if before[2].Offset != 2 || before[3].Offset != 0 {
		t.Fatalf("offsets %d and %d, want 2 and 0 on a fresh broker", before[2].Offset, before[3].Offset)
	}
	// PostgreSQL: the aggregates partition projected up to 3 (as if: its rows are not there)
	if _, err := pool.Exec(ctx, "INSERT INTO projector_offsets (consumer, topic, partition, next_offset) VALUES ($1, $2, $3, 3)",
		cfg.Consumer, kafka.TopicAggregates, aggPart); err != nil {
		t.Fatal(err)
	}
	// Kafka: the group "committed" past the moment
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var commit kadm.Offsets
	commit.Add(kadm.Offset{Topic: kafka.TopicMoments, Partition: momPart, At: 1, LeaderEpoch: -1})
	if err := kadm.NewClient(cl).CommitAllOffsets(ctx, cfg.Consumer, commit); err != nil {
		t.Fatal(err)
	}

	stop := runProjector(t, cfg)
	produceRecords(t, addr, record(kafka.TopicAggregates, 0, window(ch, 3, true, 4, 40)))
	awaitCount(t, pool, fmt.Sprintf("SELECT coalesce(sum(next_offset), 0) FROM projector_offsets WHERE topic = '%s' AND partition = %d",
		kafka.TopicAggregates, aggPart), 4)
	awaitCount(t, pool, "SELECT count(*) FROM moments", 1)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	var windows []int
	rows, err := pool.Query(ctx, "SELECT extract(minute FROM window_start)::int FROM window_aggregates ORDER BY 1")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var m int
		if err := rows.Scan(&m); err != nil {
			t.Fatal(err)
		}
		windows = append(windows, m)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(windows, []int{3}) {
		t.Errorf("windows of minutes %v projected, want only 3's: the records below the stored offset were read", windows)
	}
	if n := skippedRecords(metrics); n != 0 {
		t.Errorf("%v records skipped: the member read below the stored offset and only the fence saved the rows", n)
	}
}

// head is the first k records of s with what they imply.
func (s stream) head(t *testing.T, k int) stream {
	t.Helper()
	h := stream{records: s.records[:k], best: map[string]row{}}
	for _, r := range h.records {
		if r.Topic == kafka.TopicMoments {
			h.moments++
			continue
		}
		var a pb.WindowAggregate
		if err := proto.Unmarshal(r.Value, &a); err != nil {
			t.Fatal(err)
		}
		key := fmt.Sprintf("%s@%d", a.GetChannel(), int(a.GetWindowStart().AsTime().Sub(t0).Minutes()))
		cand := row{a.GetFinal(), int64(a.GetVersion()), a.GetChat().GetMessages()}
		if cur, seen := h.best[key]; !seen || (cand.final && !cur.final) || (cand.final == cur.final && cand.version > cur.version) {
			h.best[key] = cand
		}
	}
	return h
}

// groupMembers is what the broker says each member of the group holds ("topic/partition"),
// once the group is stable.
func groupMembers(addr, group string) ([][]string, error) {
	state, members, err := describeGroup(addr, group)
	if err == nil && state != "Stable" {
		err = fmt.Errorf("group %s is %s", group, state)
	}
	return members, err
}

// describeGroup is the group's state and what each member holds ("topic/partition").
func describeGroup(addr, group string) (state string, members [][]string, err error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		return "", nil, err
	}
	defer cl.Close()
	described, err := kadm.NewClient(cl).DescribeGroups(ctx, group)
	if err != nil {
		return "", nil, err
	}
	g := described[group]
	if g.Err != nil {
		return "", nil, g.Err
	}
	var out [][]string
	for _, m := range g.Members {
		var held []string
		if c, ok := m.Assigned.AsConsumer(); ok {
			for _, topic := range c.Topics {
				for _, p := range topic.Partitions {
					held = append(held, fmt.Sprintf("%s/%d", topic.Topic, p))
				}
			}
		}
		sort.Strings(held)
		out = append(out, held)
	}
	return g.State, out, nil
}

// awaitMembers waits until the group has n members that each hold some of all partitions, and
// none the same.
func awaitMembers(t *testing.T, addr, group string, n int, partitions []string) [][]string {
	t.Helper()
	var members [][]string
	testkit.WaitFor(t, fmt.Sprintf("%d members to share %d partitions", n, len(partitions)), time.Minute, func() error {
		var err error
		if members, err = groupMembers(addr, group); err != nil {
			return err
		}
		var all []string
		for _, held := range members {
			if len(held) == 0 {
				return fmt.Errorf("a member holds nothing: %v", members)
			}
			all = append(all, held...)
		}
		sort.Strings(all)
		if len(members) != n || !slices.Equal(all, partitions) {
			return fmt.Errorf("members hold %v", members)
		}
		return nil
	})
	return members
}

// lagPartitions are the partitions ("topic/partition") the lag gauge of reg has a value for.
func lagPartitions(t *testing.T, reg *prometheus.Registry) []string {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, f := range families {
		if f.GetName() != "telemetra_projector_lag_records" {
			continue
		}
		for _, m := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			out = append(out, labels["topic"]+"/"+labels["partition"])
		}
	}
	sort.Strings(out)
	return out
}

func rowsWritten(m *Metrics) float64 {
	return testutil.ToFloat64(m.rows.WithLabelValues("window_aggregates")) + testutil.ToFloat64(m.rows.WithLabelValues("moments"))
}

// storedByPartition is the stored next offsets, keyed "topic/partition".
func storedByPartition(t *testing.T, pool *pgxpool.Pool, cfg Config) map[string]int64 {
	t.Helper()
	stored, err := StoredOffsets(ctx, pool, cfg)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int64{}
	for topic, parts := range stored {
		for p, next := range parts {
			out[fmt.Sprintf("%s/%d", topic, p)] = next
		}
	}
	return out
}

// TestProjectorsShareTheWorkAndHandOverPartitions runs two projectors on one schema and
// consumer over topics of 6 partitions. Both join the group and hold some of the partitions,
// both project, and the rows are exactly what the stream implies. Then one is stopped
// mid-stream, with some of its records committed and more coming: the other takes its
// partitions over from the positions in PostgreSQL, and the rows are exact again: nothing
// lost, nothing twice. Partitions move only between batches, so the fence skips nothing.
func TestProjectorsShareTheWorkAndHandOverPartitions(t *testing.T) {
	const partitions = 6
	addr := kafkatest.StartBroker(t, kafka.WithTopics(
		kafka.TopicSpec{Name: kafka.TopicAggregates, Partitions: partitions}, kafka.TopicSpec{Name: kafka.TopicMoments, Partitions: partitions}))
	dbURL := pgtest.Database(t)
	s := newStreamOver(4000, 24)
	first := s.head(t, 2000)
	var all []string
	for _, topic := range Topics(1) {
		for p := range partitions {
			all = append(all, fmt.Sprintf("%s/%d", topic, p))
		}
	}
	sort.Strings(all)

	regs := []*prometheus.Registry{prometheus.NewRegistry(), prometheus.NewRegistry()}
	var metrics []*Metrics
	var stops []func() error
	for _, reg := range regs {
		m := NewMetrics(reg)
		metrics = append(metrics, m)
		stops = append(stops, runProjector(t, Config{Brokers: []string{addr}, DatabaseURL: dbURL, BatchSize: 100, Logger: quiet, Metrics: m}))
	}
	stopped := make([]bool, len(stops))
	defer func() {
		for k, stop := range stops {
			if !stopped[k] {
				_ = stop()
			}
		}
	}()
	// both are members of the group and each holds some of the partitions (the broker's view)
	awaitMembers(t, addr, "telemetra-projector", 2, all)

	first.produce(t, addr, 0)
	first.check(t, dbURL, time.Minute)
	// the stream reaches every partition, and each projector wrote rows from its own ones
	pool, err := pgxpool.New(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	if got := slices.Sorted(maps.Keys(storedByPartition(t, pool, Config{}))); !slices.Equal(got, all) {
		t.Fatalf("records on partitions %v, want on all of %v", got, all)
	}
	held := [][]string{lagPartitions(t, regs[0]), lagPartitions(t, regs[1])}
	for k, m := range metrics {
		if rowsWritten(m) == 0 || len(held[k]) == 0 {
			t.Fatalf("projector %d wrote %v rows from partitions %v: it did not share the work", k, rowsWritten(m), held[k])
		}
	}
	if both := slices.DeleteFunc(slices.Clone(held[0]), func(p string) bool { return !slices.Contains(held[1], p) }); len(both) > 0 {
		t.Fatalf("partitions %v read by both projectors", both)
	}

	// the second half, at a producer's pace; projector 0 stops once it committed some of it
	rest := stream{records: s.records[len(first.records):]}
	produced := make(chan struct{})
	go func() { defer close(produced); rest.produce(t, addr, time.Millisecond) }()
	rowsBefore := rowsWritten(metrics[0])
	testkit.WaitFor(t, "projector 0 to commit records of the second half", time.Minute, func() error {
		if rowsWritten(metrics[0]) == rowsBefore {
			return errors.New("no batch committed")
		}
		return nil
	})
	heldByStopped := lagPartitions(t, regs[0])
	if len(heldByStopped) == 0 {
		t.Fatal("projector 0 holds no partition it read from")
	}
	stopped[0] = true
	if err := stops[0](); err != nil {
		t.Fatal(err)
	}
	atStop := storedByPartition(t, pool, Config{})
	var committed int64
	for _, next := range atStop {
		committed += next
	}
	select {
	case <-produced:
		t.Fatal("the whole stream was produced before projector 0 stopped: not mid-stream")
	default:
	}
	if committed <= int64(len(first.records)) || committed >= int64(len(s.records)) {
		t.Fatalf("%d records committed when projector 0 stopped, want more than the first half's %d and fewer than %d",
			committed, len(first.records), len(s.records))
	}
	if n := testutil.CollectAndCount(metrics[0].lag); n != 0 {
		t.Errorf("projector 0 left %d lag series behind: its partitions were revoked", n)
	}
	awaitMembers(t, addr, "telemetra-projector", 1, all)
	<-produced
	s.check(t, dbURL, time.Minute)

	// the survivor projected the stopped one's partitions on from where it left them
	final := storedByPartition(t, pool, Config{})
	for _, p := range heldByStopped {
		if final[p] <= atStop[p] {
			t.Errorf("partition %s: next offset %d, as projector 0 left it: not taken over", p, final[p])
		}
	}
	if !strings.Contains(strings.Join(lagPartitions(t, regs[1]), " "), heldByStopped[0]) {
		t.Errorf("projector 1 reports no lag of %s, which it took over", heldByStopped[0])
	}
	for k, m := range metrics {
		if n := skippedRecords(m); n != 0 {
			t.Errorf("projector %d skipped %v records: a partition moved with a batch in flight", k, n)
		}
	}
	stopped[1] = true
	if err := stops[1](); err != nil {
		t.Fatal(err)
	}
}

// signalingHandler closes seen when a record with message msg is logged, and discards all.
type signalingHandler struct {
	msg  string
	once *sync.Once
	seen chan struct{}
}

func (h signalingHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h signalingHandler) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h signalingHandler) WithGroup(string) slog.Handler            { return h }

func (h signalingHandler) Handle(_ context.Context, r slog.Record) error {
	if r.Message == h.msg {
		h.once.Do(func() { close(h.seen) })
	}
	return nil
}

// TestARebalanceWaitsForTheBatchInFlight holds a projector's batch open before its commit while
// a second projector joins: the rebalance waits for the batch (kgo says so), the newcomer holds
// nothing meanwhile, and once the batch is committed it gets partitions and reads on from the
// committed positions, so the fence has nothing to skip.
func TestARebalanceWaitsForTheBatchInFlight(t *testing.T) {
	const partitions = 6
	addr := kafkatest.StartBroker(t, kafka.WithTopics(
		kafka.TopicSpec{Name: kafka.TopicAggregates, Partitions: partitions}, kafka.TopicSpec{Name: kafka.TopicMoments, Partitions: partitions}))
	dbURL := pgtest.Database(t)
	s := newStreamOver(600, 24)
	s.produceFast(t, addr)

	held, release := make(chan struct{}), make(chan struct{})
	var holdOnce, releaseOnce sync.Once
	releaseBatch := func() { releaseOnce.Do(func() { close(release) }) }
	defer releaseBatch() // before the projectors stop, whatever failed
	blocked := signalingHandler{msg: "a rebalance waits for the batch in flight", once: &sync.Once{}, seen: make(chan struct{})}
	first, second := NewMetrics(nil), NewMetrics(nil)
	stopFirst := runProjector(t, Config{Brokers: []string{addr}, DatabaseURL: dbURL, BatchSize: 50, Logger: slog.New(blocked), Metrics: first,
		beforeCommit: func() error {
			holdOnce.Do(func() { held <- struct{}{}; <-release })
			return nil
		}})
	defer func() { releaseBatch(); _ = stopFirst() }()
	select {
	case <-held:
	case <-time.After(time.Minute):
		t.Fatal("the first projector committed no batch")
	}
	stopSecond := runProjector(t, Config{Brokers: []string{addr}, DatabaseURL: dbURL, BatchSize: 50, Logger: quiet, Metrics: second})
	defer func() { _ = stopSecond() }()
	select {
	case <-blocked.seen:
	case <-time.After(time.Minute):
		t.Fatal("the rebalance did not wait for the batch in flight")
	}
	// the group waits for the holder to rejoin, which waits for the batch: nobody else holds anything
	state, members, err := describeGroup(addr, "telemetra-projector")
	if err != nil {
		t.Fatal(err)
	}
	if holders := slices.DeleteFunc(members, func(held []string) bool { return len(held) == 0 }); len(holders) > 1 {
		t.Fatalf("group %s: members hold %v while a batch is in flight; want only the batch's projector", state, holders)
	}
	releaseBatch()
	var all []string
	for _, topic := range Topics(1) {
		for p := range partitions {
			all = append(all, fmt.Sprintf("%s/%d", topic, p))
		}
	}
	sort.Strings(all)
	awaitMembers(t, addr, "telemetra-projector", 2, all)
	s.check(t, dbURL, time.Minute)
	for k, m := range []*Metrics{first, second} {
		if n := skippedRecords(m); n != 0 {
			t.Errorf("projector %d skipped %v records: a partition moved with a batch in flight", k, n)
		}
	}
}
