package producer

import (
	"context"
	"testing"
	"time"

	"github.com/telemetra/telemetra/internal/kafka"
)

func TestQuietMarksMarkOnlyThePartitionsLeftQuietOverASpan(t *testing.T) {
	start := testStart // on a minute
	q := newQuietMarks(time.Minute, start, map[string]int{kafka.TopicChat: 2, kafka.TopicStreamMeta: 2})
	keyOn := func(p int) []byte { return []byte(q.keys[kafka.TopicChat][p]) }

	// chat partition 0 is written throughout; everything else stays quiet
	for _, at := range []time.Duration{0, 20 * time.Second, 59 * time.Second} {
		if due := q.due(start.Add(at)); len(due) != 0 {
			t.Fatalf("markers before the first span ended: %v", due)
		}
		q.wrote(kafka.TopicChat, keyOn(0), start.Add(at))
	}
	due := q.due(start.Add(61 * time.Second))
	want := map[string]bool{kafka.TopicChat + "/1": true, kafka.TopicStreamMeta + "/0": true, kafka.TopicStreamMeta + "/1": true}
	if len(due) != len(want) {
		t.Fatalf("got %d markers, want %d: %v", len(due), len(want), due)
	}
	for _, m := range due {
		name := m.Topic + "/" + string(rune('0'+m.Partition))
		if !want[name] {
			t.Errorf("marker on %s, which was written in the span", name)
		}
		if !m.Timestamp.Equal(start.Add(time.Minute)) {
			t.Errorf("marker on %s at %v, want the span's end %v", name, m.Timestamp, start.Add(time.Minute))
		}
		if got := kafka.PartitionForKey(m.Key, 2); int32(got) != m.Partition {
			t.Errorf("marker for partition %d has a key the partitioner puts on %d", m.Partition, got)
		}
		if !kafka.IsMarker(m.Headers) {
			t.Errorf("marker on %s has no marker header", name)
		}
	}
	if due := q.due(start.Add(90 * time.Second)); len(due) != 0 {
		t.Fatalf("markers again within the same span: %v", due)
	}

	// a step over several spans gives one marker per quiet partition, at the latest span end
	due = q.due(start.Add(5*time.Minute + time.Second))
	if len(due) != 4 {
		t.Fatalf("got %d markers after four quiet spans, want one per partition (4): %v", len(due), due)
	}
	for _, m := range due {
		if !m.Timestamp.Equal(start.Add(5 * time.Minute)) {
			t.Errorf("marker at %v, want %v", m.Timestamp, start.Add(5*time.Minute))
		}
	}
}

// TestRunMarksQuietPartitionsAheadOfEveryLaterRecord drives Run: each partition of every input
// receives its markers, and no record after a marker on its partition is stamped before it
// (which would make it late in the processor).
func TestRunMarksQuietPartitionsAheadOfEveryLaterRecord(t *testing.T) {
	addr := startBroker(t)
	cfg := RunConfig{
		Brokers: []string{addr}, Sim: Config{Channels: []string{"demo_stream", "gaming"}, Seed: 3},
		Count: 20_000, StartTime: testStart, TimeStep: 100 * time.Millisecond, MarkEvery: time.Minute,
		Logger: quietLogger(),
	}
	stats, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if stats.Produced != cfg.Count || stats.Markers == 0 {
		t.Fatalf("stats = %+v: want %d events and some markers", stats, cfg.Count)
	}
	type slot struct {
		topic string
		part  int32
	}
	lastMarker := map[slot]time.Time{}
	latest := map[slot]time.Time{} // the partition's clock in the processor: its greatest stamp
	events, markers := 0, 0
	for _, r := range readAll(t, addr, int(stats.Produced+stats.Markers)) {
		s := slot{r.Topic, r.Partition}
		latest[s] = maxTime(latest[s], r.Timestamp)
		if kafka.IsMarker(r.Headers) {
			markers++
			lastMarker[s] = r.Timestamp
			continue
		}
		events++
		if m := lastMarker[s]; r.Timestamp.Before(m) {
			t.Fatalf("%s/%d offset %d is stamped %v, before the marker at %v ahead of it", r.Topic, r.Partition, r.Offset, r.Timestamp, m)
		}
	}
	if events != int(cfg.Count) || markers != int(stats.Markers) {
		t.Fatalf("read %d events and %d markers, want %d and %d", events, markers, cfg.Count, stats.Markers)
	}
	// over 2,000 s of event time, no input partition's clock falls more than two spans behind
	// the run's end, however quiet it is (stream_meta, with two channels, mostly is)
	end := testStart.Add(time.Duration(cfg.Count) * cfg.TimeStep)
	for _, topic := range kafka.InputTopics() {
		for p := range int32(kafka.DefaultPartitions) {
			if behind := end.Sub(latest[slot{topic, p}]); behind > 2*time.Minute {
				t.Errorf("%s/%d ends at %v, %v before the run's end", topic, p, latest[slot{topic, p}], behind)
			}
		}
	}
	if len(lastMarker) == 0 {
		t.Error("no partition was marked")
	}
}
