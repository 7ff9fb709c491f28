package projector

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/telemetra/telemetra/internal/kafka"
	"github.com/telemetra/telemetra/internal/kafka/kafkatest"
	"github.com/telemetra/telemetra/internal/pgtest"
	"github.com/telemetra/telemetra/internal/testkit"
	pb "github.com/telemetra/telemetra/proto/telemetra/v1"
)

// garbage is a record the projector must reject, and why.
type garbage struct {
	topic, key string
	value      []byte
	reason     string
}

// TestGarbageIsDeadLetteredNeverProjected writes garbage into the moments and aggregates topics
// between good records while a projector runs on a fresh broker: the good records become rows,
// the garbage does not, and the garbage is counted, logged once each and copied to the
// projector's dead-letter topic with its reason and origin. A catch-up (a replay) skips it too.
func TestGarbageIsDeadLetteredNeverProjected(t *testing.T) {
	addr := kafkatest.StartBroker(t, kafka.WithTopics()) // the projector creates every topic, its DLQ included
	dbURL := pgtest.Database(t)
	reg := prometheus.NewRegistry()
	metrics := NewMetrics(reg)
	var logs bytes.Buffer // read only after the projector stopped
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn}))
	stop := runProjector(t, Config{Brokers: []string{addr}, DatabaseURL: dbURL, Logger: logger, Metrics: metrics})
	awaitTopics(t, addr, kafka.TopicProjectorDLQ, kafka.TopicAggregates, kafka.TopicMoments)

	pool, err := pgxpool.New(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	const ch = "demo_stream"
	before := produceRecords(t, addr, record(kafka.TopicAggregates, 0, window(ch, 0, true, 1, 10)), record(kafka.TopicMoments, 0, moment(ch, 0)))
	awaitCount(t, pool, "SELECT (SELECT count(*) FROM window_aggregates) + (SELECT count(*) FROM moments)", 2)

	noChannel := window(ch, 4, true, 2, 40)
	noChannel.Channel = ""
	nulTitle := window(ch, 5, true, 2, 50)
	nulTitle.Status.Title = "bad\x00title" // PostgreSQL refuses it: unchecked, it would fail its batch forever
	bad := []garbage{
		{kafka.TopicMoments, ch, []byte("not a moment\n"), kafka.ReasonUndecodable}, // a line written with kcat
		{kafka.TopicMoments, ch, mustMarshal(&pb.Moment{}), kafka.ReasonMissingField},
		{kafka.TopicAggregates, ch, mustMarshal(noChannel), kafka.ReasonMissingField},
		{kafka.TopicAggregates, ch, mustMarshal(nulTitle), kafka.ReasonInvalidField},
	}
	var records []*kgo.Record
	for _, g := range bad {
		records = append(records, &kgo.Record{Topic: g.topic, Key: []byte(g.key), Value: g.value})
	}
	badOffsets := produceRecords(t, addr, records...)
	after := produceRecords(t, addr, record(kafka.TopicAggregates, 0, window(ch, 1, true, 3, 20)), record(kafka.TopicMoments, 0, moment(ch, 1)))
	// every record consumed: offsets stored past the garbage
	awaitCount(t, pool, "SELECT coalesce(sum(next_offset), 0) FROM projector_offsets", int64(len(before)+len(bad)+len(after)))
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	// the fault was mid-stream: on each topic's partition, garbage between good records
	for k, g := range bad {
		o := badOffsets[k]
		if o.Partition != before[0].Partition || !slices.ContainsFunc(before, func(b *kgo.Record) bool { return b.Topic == g.topic && b.Offset < o.Offset }) ||
			!slices.ContainsFunc(after, func(a *kgo.Record) bool { return a.Topic == g.topic && a.Offset > o.Offset }) {
			t.Fatalf("garbage %d (%s@%d/%d) is not between good records of its partition", k, o.Topic, o.Partition, o.Offset)
		}
	}

	checkProjection(t, pool, "public")
	for _, want := range []struct {
		topic, reason string
		n             float64
	}{
		{kafka.TopicMoments, kafka.ReasonUndecodable, 1}, {kafka.TopicMoments, kafka.ReasonMissingField, 1},
		{kafka.TopicAggregates, kafka.ReasonMissingField, 1}, {kafka.TopicAggregates, kafka.ReasonInvalidField, 1},
	} {
		if got := testutil.ToFloat64(metrics.rejected.WithLabelValues(want.topic, want.reason)); got != want.n {
			t.Errorf("rejected{%s,%s} = %v, want %v", want.topic, want.reason, got, want.n)
		}
	}
	if n := testutil.CollectAndCount(metrics.rejected); n != 4 {
		t.Errorf("%d rejected series, want 4", n)
	}
	warnings := strings.Count(logs.String(), "record rejected")
	if warnings != len(bad) {
		t.Errorf("%d rejections logged, want %d:\n%s", warnings, len(bad), logs.String())
	}
	for _, o := range badOffsets {
		if !strings.Contains(logs.String(), fmt.Sprintf("topic=%s partition=%d offset=%d", o.Topic, o.Partition, o.Offset)) {
			t.Errorf("no warning names %s@%d/%d:\n%s", o.Topic, o.Partition, o.Offset, logs.String())
		}
	}
	checkDeadLetters(t, addr, bad, badOffsets, 1)

	// a replay's catch-up into another schema skips them too, and copies them again: the DLQ
	// is at least once, its source headers tell the copies apart from new rejections
	shadow := Config{Brokers: []string{addr}, DatabaseURL: dbURL, Schema: "shadow", Logger: quiet}
	if err := Prepare(ctx, pool, shadow); err != nil {
		t.Fatal(err)
	}
	until, err := StoredOffsets(ctx, pool, Config{})
	if err != nil {
		t.Fatal(err)
	}
	if err := CatchUp(ctx, pool, shadow, until, nil); err != nil {
		t.Fatal(err)
	}
	checkProjection(t, pool, "shadow")
	checkDeadLetters(t, addr, bad, badOffsets, 2)
}

// produceRecords writes records keyed and partitioned as the processor does, in order, and
// returns them with their partitions and offsets.
func produceRecords(t *testing.T, addr string, records ...*kgo.Record) []*kgo.Record {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.RecordPartitioner(kafka.GokaPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var out []*kgo.Record
	for _, r := range records {
		r := &kgo.Record{Topic: r.Topic, Key: r.Key, Value: r.Value}
		if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	return out
}

func awaitTopics(t *testing.T, addr string, names ...string) {
	t.Helper()
	testkit.WaitFor(t, fmt.Sprintf("the projector to create topics %v", names), 30*time.Second, func() error {
		infos, err := kafka.DescribeTopics(ctx, []string{addr}, names)
		if err != nil || slices.ContainsFunc(infos, func(i kafka.TopicInfo) bool { return !i.Exists }) {
			return fmt.Errorf("%v %v", infos, err)
		}
		return nil
	})
}

func awaitCount(t *testing.T, pool *pgxpool.Pool, query string, want int64) {
	t.Helper()
	testkit.WaitFor(t, fmt.Sprintf("%s to be %d", query, want), 30*time.Second, func() error {
		var got int64
		if err := pool.QueryRow(ctx, query).Scan(&got); err != nil || got != want {
			return fmt.Errorf("%d (%v)", got, err)
		}
		return nil
	})
}

// checkProjection: the good windows and moments are rows, nothing of the garbage is (no row
// with an empty channel or id, no kind "unspecified", no window of the NUL title).
func checkProjection(t *testing.T, pool *pgxpool.Pool, schema string) {
	t.Helper()
	list := func(query string) string {
		t.Helper()
		rows, err := pool.Query(ctx, query)
		if err != nil {
			t.Fatal(err)
		}
		got, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatal(err)
		}
		return strings.Join(got, " ")
	}
	windows := list("SELECT format('%s@%s/v%s', channel, to_char(window_start AT TIME ZONE 'UTC', 'HH24:MI'), version) FROM " + schema + ".window_aggregates ORDER BY 1")
	if want := "demo_stream@10:00/v1 demo_stream@10:01/v3"; windows != want {
		t.Errorf("schema %s: windows %q, want the good ones only: %q", schema, windows, want)
	}
	moments := list("SELECT format('%s/%s/%s', channel, id, kind) FROM " + schema + ".moments ORDER BY 1")
	if want := fmt.Sprintf("demo_stream/%s/chat_spike demo_stream/%s/chat_spike", moment("", 0).Id, moment("", 1).Id); moments != want {
		t.Errorf("schema %s: moments %q, want the good ones only: %q", schema, moments, want)
	}
}

// checkDeadLetters reads the projector's DLQ: each garbage record `copies` times, with its
// original key and value, its reason and its origin.
func checkDeadLetters(t *testing.T, addr string, bad []garbage, offsets []*kgo.Record, copies int) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumeTopics(kafka.TopicProjectorDLQ))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var got []*kgo.Record
	deadline := time.Now().Add(30 * time.Second)
	for len(got) < copies*len(bad) && time.Now().Before(deadline) {
		pollCtx, cancel := context.WithTimeout(ctx, time.Second)
		got = append(got, cl.PollFetches(pollCtx).Records()...)
		cancel()
	}
	if len(got) != copies*len(bad) {
		t.Fatalf("%d records in %s, want %d", len(got), kafka.TopicProjectorDLQ, copies*len(bad))
	}
	seen := map[string]int{}
	for _, r := range got {
		h := map[string]string{}
		for _, kv := range r.Headers {
			h[kv.Key] = string(kv.Value)
		}
		k := slices.IndexFunc(offsets, func(o *kgo.Record) bool {
			return o.Topic == h[kafka.HeaderSourceTopic] && strconv.Itoa(int(o.Partition)) == h[kafka.HeaderSourcePartition] &&
				strconv.FormatInt(o.Offset, 10) == h[kafka.HeaderSourceOffset]
		})
		if k < 0 {
			t.Fatalf("dead letter with headers %v is none of the garbage", h)
		}
		g := bad[k]
		if h[kafka.HeaderReason] != g.reason || h[kafka.HeaderError] == "" || string(r.Key) != g.key || !bytes.Equal(r.Value, g.value) {
			t.Errorf("dead letter of garbage %d: key %q value %q headers %v; want key %q value %q reason %s", k, r.Key, r.Value, h, g.key, g.value, g.reason)
		}
		seen[h[kafka.HeaderSourceTopic]+"@"+h[kafka.HeaderSourceOffset]]++
	}
	for k, o := range offsets {
		if n := seen[fmt.Sprintf("%s@%d", o.Topic, o.Offset)]; n != copies {
			t.Errorf("garbage %d (%s@%d) copied %d times, want %d", k, o.Topic, o.Offset, n, copies)
		}
	}
}
