package kafka

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

func TestTrimPointIsTheRetentionHeldBackByTheSlowestReader(t *testing.T) {
	for _, tc := range []struct {
		name      string
		retained  int64
		committed []int64
		want      int64
	}{
		{"no reader: retention only", 40, nil, 40},
		{"every reader past the retention", 40, []int64{90, 55}, 40},
		{"a reader behind holds it", 40, []int64{90, 12}, 12},
		{"a reader that read nothing keeps everything", 40, []int64{0}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := trimPoint(tc.retained, tc.committed); got != tc.want {
				t.Errorf("trimPoint(%d, %v) = %d, want %d", tc.retained, tc.committed, got, tc.want)
			}
		})
	}
}

// TestTrimConsumedDeletesOnlyOldRecordsEveryReaderRead drives TrimConsumed against the
// embedded broker. Of 100 records per partition, the first 60 are older than the retention. A
// group has committed 30 on partition 0 of "read" and nothing on its partition 1, a reader that
// keeps its offsets elsewhere stands at 45 on "elsewhere", and nobody reads "unread": they keep
// 70, 100, 55 and the 40 within the retention.
func TestTrimConsumedDeletesOnlyOldRecordsEveryReaderRead(t *testing.T) {
	b, err := StartEmbedded(WithAddr("127.0.0.1:0"), WithLogger(slog.New(slog.DiscardHandler)),
		WithTopics(TopicSpec{Name: "read", Partitions: 2}, TopicSpec{Name: "elsewhere", Partitions: 1}, TopicSpec{Name: "unread", Partitions: 1}))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	ctx := context.Background()
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr()), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	now := time.Now()
	topics := []string{"read", "elsewhere", "unread"}
	for _, tp := range []struct {
		topic     string
		partition int32
	}{{"read", 0}, {"read", 1}, {"elsewhere", 0}, {"unread", 0}} {
		for k := range 100 {
			at := now.Add(-time.Hour) // older than the retention
			if k >= 60 {
				at = now
			}
			r := &kgo.Record{Topic: tp.topic, Partition: tp.partition, Value: []byte("x"), Timestamp: at}
			if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
	}
	adm := kadm.NewClient(cl)
	offsets := kadm.Offsets{}
	offsets.AddOffset("read", 0, 30, -1)
	if _, err := adm.CommitOffsets(ctx, "projector", offsets); err != nil {
		t.Fatal(err)
	}

	elsewhere := Reader{Topics: []string{"elsewhere"}, Next: map[string]map[int32]int64{"elsewhere": {0: 45}}}

	deleted, err := TrimConsumed(ctx, adm, topics, 10*time.Minute, now, elsewhere)
	if err != nil {
		t.Fatal(err)
	}
	if deleted != 30+0+45+60 {
		t.Errorf("deleted %d records, want 135", deleted)
	}
	starts, err := adm.ListStartOffsets(ctx, topics...)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []struct {
		topic     string
		partition int32
		start     int64
	}{{"read", 0, 30}, {"read", 1, 0}, {"elsewhere", 0, 45}, {"unread", 0, 60}} {
		if o, _ := starts.Lookup(want.topic, want.partition); o.Offset != want.start {
			t.Errorf("%s/%d starts at %d, want %d", want.topic, want.partition, o.Offset, want.start)
		}
	}
	// a second pass finds nothing more to delete
	if deleted, err := TrimConsumed(ctx, adm, topics, 10*time.Minute, now, elsewhere); err != nil || deleted != 0 {
		t.Errorf("second pass: deleted %d, err %v; want 0", deleted, err)
	}
}
