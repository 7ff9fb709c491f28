package kafka

import (
	"context"
	"errors"
	"log/slog"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// listed builds ListedOffsets of topic from its partitions' offsets (partition k: offsets[k]).
func listed(into kadm.ListedOffsets, topic string, offsets ...int64) kadm.ListedOffsets {
	if into == nil {
		into = kadm.ListedOffsets{}
	}
	into[topic] = map[int32]kadm.ListedOffset{}
	for p, o := range offsets {
		into[topic][int32(p)] = kadm.ListedOffset{Topic: topic, Partition: int32(p), Offset: o}
	}
	return into
}

func TestLagCountsFromTheReadersNextOffsetOrThePartitionsStart(t *testing.T) {
	ends := listed(listed(nil, "a", 100, 50), "b", 10)
	starts := listed(listed(nil, "a", 0, 20), "b", 0)
	broken := listed(nil, "a", 100, 50)
	broken["a"][1] = kadm.ListedOffset{Topic: "a", Partition: 1, Err: errors.New("not leader")}
	for _, tc := range []struct {
		name    string
		reader  Reader
		ends    kadm.ListedOffsets
		want    int64
		wantErr bool
	}{
		{"read to the end", Reader{Topics: []string{"a"}, Next: map[string]map[int32]int64{"a": {0: 100, 1: 50}}}, ends, 0, false},
		{"behind on each partition", Reader{Topics: []string{"a"}, Next: map[string]map[int32]int64{"a": {0: 90, 1: 45}}}, ends, 10 + 5, false},
		{"nothing read: from the start", Reader{Topics: []string{"a", "b"}}, ends, 100 + 30 + 10, false},
		{"a next offset before the start counts from the start", Reader{Topics: []string{"a"}, Next: map[string]map[int32]int64{"a": {0: 100, 1: 5}}}, ends, 30, false},
		{"only its own topics", Reader{Topics: []string{"b"}, Next: map[string]map[int32]int64{"b": {0: 4}}}, ends, 6, false},
		{"a partition without an end offset", Reader{Topics: []string{"a"}}, broken, 0, true},
		{"a topic not listed", Reader{Topics: []string{"c"}}, ends, 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.reader.Lag(starts, tc.ends)
			if (err != nil) != tc.wantErr || got != tc.want {
				t.Errorf("Lag = %d, %v; want %d (error: %t)", got, err, tc.want, tc.wantErr)
			}
		})
	}
}

func TestRecordsWrittenSumsTheEndOffsets(t *testing.T) {
	ends := listed(listed(nil, "dlq", 3, 0, 4), "late", 7)
	if got, err := RecordsWritten(ends, "dlq", "late"); err != nil || got != 14 {
		t.Errorf("RecordsWritten = %d, %v; want 14", got, err)
	}
	if _, err := RecordsWritten(ends, "missing"); err == nil {
		t.Error("RecordsWritten of a topic not listed: no error")
	}
}

func TestGroupReaderOfReadsTheGroupsCommitsOnTheGivenTopics(t *testing.T) {
	b, err := StartEmbedded(WithAddr("127.0.0.1:0"), WithLogger(slog.New(slog.DiscardHandler)),
		WithTopics(TopicSpec{Name: "in", Partitions: 2}, TopicSpec{Name: "other", Partitions: 1}))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	ctx := context.Background()
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	committed := kadm.Offsets{}
	committed.AddOffset("in", 0, 7, -1)
	committed.AddOffset("other", 0, 3, -1)
	if _, err := adm.CommitOffsets(ctx, "g", committed); err != nil {
		t.Fatal(err)
	}
	r, err := GroupReaderOf(ctx, adm, "g", []string{"in"})
	if err != nil {
		t.Fatal(err)
	}
	ends := listed(nil, "in", 10, 4)
	if lag, err := r.Lag(kadm.ListedOffsets{}, ends); err != nil || lag != 3+4 {
		t.Errorf("lag of the group on in = %d, %v; want 7 (partition 1 never committed)", lag, err)
	}
	none, err := GroupReaderOf(ctx, adm, "never-started", []string{"in"})
	if err != nil {
		t.Fatal(err)
	}
	if lag, err := none.Lag(kadm.ListedOffsets{}, ends); err != nil || lag != 14 {
		t.Errorf("lag of a group that does not exist = %d, %v; want 14", lag, err)
	}
}
