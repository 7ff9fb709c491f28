package kafka

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// emptyBroker starts an embedded broker without topics.
func emptyBroker(t *testing.T) *Embedded {
	t.Helper()
	b, err := StartEmbedded(WithAddr("127.0.0.1:0"), WithLogger(slog.New(slog.DiscardHandler)), WithTopics())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	return b
}

// failCreates makes the broker answer the next n CreateTopics requests with code for every
// topic, as a broker that is still starting would; it returns how many it answered so.
func failCreates(b *Embedded, n int32, code *kerr.Error) *atomic.Int32 {
	var answered atomic.Int32
	b.Cluster().ControlKey(kmsg.CreateTopics.Int16(), func(req kmsg.Request) (kmsg.Response, error, bool) {
		b.Cluster().KeepControl()
		if answered.Load() >= n {
			return nil, nil, false // the broker answers for itself
		}
		answered.Add(1)
		creq := req.(*kmsg.CreateTopicsRequest)
		resp := creq.ResponseKind().(*kmsg.CreateTopicsResponse)
		for _, rt := range creq.Topics {
			st := kmsg.NewCreateTopicsResponseTopic()
			st.Topic, st.ErrorCode = rt.Topic, code.Code
			resp.Topics = append(resp.Topics, st)
		}
		return resp, nil, true
	})
	return &answered
}

func TestEnsureTopicsWaitsForABrokerThatHasNotRegisteredYet(t *testing.T) {
	b := emptyBroker(t)
	answered := failCreates(b, 3, kerr.InvalidReplicationFactor)
	clock := &fakeClock{now: time.Unix(1e9, 0)}
	logger, buf := logs()
	specs := []TopicSpec{{Name: "a", Partitions: 2}, {Name: "b", Partitions: 2}}
	if err := EnsureTopics(context.Background(), []string{b.Addr()}, specs, WithLogger(logger), clock); err != nil {
		t.Fatal(err)
	}
	if answered.Load() != 3 || len(clock.sleeps) != 3 {
		t.Fatalf("%d refused creates, %d waits (%v)", answered.Load(), len(clock.sleeps), clock.sleeps)
	}
	if n, err := PartitionCount(context.Background(), []string{b.Addr()}, "b"); err != nil || n != 2 {
		t.Fatalf("PartitionCount(b) = %d, %v", n, err)
	}
	if !strings.Contains(buf.String(), "INVALID_REPLICATION_FACTOR") {
		t.Errorf("the retries do not log the error:\n%s", buf)
	}
}

func TestEnsureTopicsFailsAtOnceOnAnErrorThatWaitingWontFix(t *testing.T) {
	b := emptyBroker(t)
	answered := failCreates(b, 100, kerr.InvalidPartitions)
	clock := &fakeClock{now: time.Unix(1e9, 0)}
	err := EnsureTopics(context.Background(), []string{b.Addr()}, []TopicSpec{{Name: "a", Partitions: 2}},
		WithLogger(slog.New(slog.DiscardHandler)), clock)
	if !errors.Is(err, kerr.InvalidPartitions) || !strings.Contains(err.Error(), "create topic a") {
		t.Fatalf("err = %v", err)
	}
	if answered.Load() != 1 || len(clock.sleeps) != 0 {
		t.Fatalf("%d attempts, %d waits", answered.Load(), len(clock.sleeps))
	}
}

func TestEnsureTopicsGivesUpOnARefusedConnectionAfterTheStartupTimeout(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there: connections are refused
	clock := &fakeClock{now: time.Unix(1e9, 0)}
	err = EnsureTopics(context.Background(), []string{addr}, []TopicSpec{{Name: "telemetra.dlq.g2", Partitions: 3}},
		WithStartupTimeout(2*time.Second), WithLogger(slog.New(slog.DiscardHandler)), clock)
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("err = %v, want a refused connection", err)
	}
	for _, s := range []string{"create topic telemetra.dlq.g2", "still not ready after 2s"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not say %q", err, s)
		}
	}
	if len(clock.sleeps) < 3 {
		t.Errorf("waited only %v", clock.sleeps)
	}
}

func TestCreateMissingTopicsReportsWhatItCreated(t *testing.T) {
	b := emptyBroker(t)
	brokers := []string{b.Addr()}
	quiet := WithLogger(slog.New(slog.DiscardHandler))
	specs := []TopicSpec{{Name: "s", Partitions: 3}, {Name: "t-table", Partitions: 3, Compacted: true}}
	created, err := CreateMissingTopics(context.Background(), brokers, specs[:1], quiet)
	if err != nil || !slices.Equal(created, []string{"s"}) {
		t.Fatalf("first run created %v, %v", created, err)
	}
	created, err = CreateMissingTopics(context.Background(), brokers, specs, quiet)
	if err != nil || !slices.Equal(created, []string{"t-table"}) {
		t.Fatalf("second run created %v, %v", created, err)
	}

	infos, err := DescribeTopics(context.Background(), brokers, []string{"s", "t-table", "missing"}, quiet)
	if err != nil {
		t.Fatal(err)
	}
	want := []TopicInfo{
		{Name: "s", Exists: true, Partitions: 3, ReplicationFactor: 1, CleanupPolicy: "delete", RetentionMs: "604800000", MinInsyncReplicas: "1"},
		{Name: "t-table", Exists: true, Partitions: 3, ReplicationFactor: 1, CleanupPolicy: "compact", MinInsyncReplicas: "1"},
		{Name: "missing"},
	}
	for i := range want {
		// the broker reports its default retention for the table; only ours is checked
		if want[i].RetentionMs == "" {
			infos[i].RetentionMs = ""
		}
		if infos[i] != want[i] {
			t.Errorf("topic %d = %+v, want %+v", i, infos[i], want[i])
		}
	}
}

func TestPartitionCountFailsAtOnceForAMissingTopic(t *testing.T) {
	b := emptyBroker(t)
	clock := &fakeClock{now: time.Unix(1e9, 0)}
	_, err := PartitionCount(context.Background(), []string{b.Addr()}, "missing", WithLogger(slog.New(slog.DiscardHandler)), clock)
	if err == nil || !strings.Contains(err.Error(), "topic missing") || len(clock.sleeps) != 0 {
		t.Fatalf("err = %v after %d waits", err, len(clock.sleeps))
	}
}

// TestMissingTopicsGetThePartitionsOfTheInputs: a role starting on a cluster whose inputs have
// 6 partitions adds its missing topics with 6, not with its specs' 3; without the inputs the
// specs' counts apply.
func TestMissingTopicsGetThePartitionsOfTheInputs(t *testing.T) {
	b := emptyBroker(t)
	brokers := []string{b.Addr()}
	quiet := WithLogger(slog.New(slog.DiscardHandler))
	if err := EnsureTopics(context.Background(), brokers, []TopicSpec{{Name: "alone", Partitions: 3}}, quiet, WithPartitionsOfInputs()); err != nil {
		t.Fatal(err)
	}
	if err := EnsureTopics(context.Background(), brokers, []TopicSpec{{Name: TopicChat, Partitions: 6}}, quiet); err != nil {
		t.Fatal(err)
	}
	if err := EnsureTopics(context.Background(), brokers, AllTopics(), quiet, WithPartitionsOfInputs()); err != nil {
		t.Fatal(err)
	}
	names := []string{"alone"}
	for _, s := range AllTopics() {
		names = append(names, s.Name)
	}
	infos, err := DescribeTopics(context.Background(), brokers, names, quiet)
	if err != nil {
		t.Fatal(err)
	}
	for _, info := range infos {
		want := 6
		if info.Name == "alone" {
			want = 3
		}
		if info.Partitions != want {
			t.Errorf("%s: %d partitions, want %d", info.Name, info.Partitions, want)
		}
	}
	if n, err := CheckCopartitioned(context.Background(), brokers, names[1:], quiet); err != nil || n != 6 {
		t.Errorf("CheckCopartitioned = %d, %v", n, err)
	}
}

func TestCopartitionedNamesEachTopicAndItsCount(t *testing.T) {
	for _, tc := range []struct {
		name  string
		infos []TopicInfo
		want  int
		err   string
	}{
		{"one count", []TopicInfo{{Name: "a", Exists: true, Partitions: 12}, {Name: "b", Exists: true, Partitions: 12}}, 12, ""},
		{"two counts", []TopicInfo{{Name: "a", Exists: true, Partitions: 12}, {Name: "b-table", Exists: true, Partitions: 3}}, 0,
			"topics are not co-partitioned: a 12, b-table 3 partitions"},
		{"missing", []TopicInfo{{Name: "a", Exists: true, Partitions: 12}, {Name: "b"}}, 0, "topics missing: b"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n, err := copartitioned(tc.infos)
			if n != tc.want || (err == nil) != (tc.err == "") || (err != nil && !strings.HasPrefix(err.Error(), tc.err)) {
				t.Fatalf("copartitioned = %d, %v; want %d, %q", n, err, tc.want, tc.err)
			}
			if tc.name == "two counts" && !errors.Is(err, ErrNotCopartitioned) {
				t.Errorf("%v is not ErrNotCopartitioned", err)
			}
		})
	}
}
