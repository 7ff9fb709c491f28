package replay

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/telemetra/telemetra/internal/kafka"
	"github.com/telemetra/telemetra/internal/kafka/kafkatest"
	"github.com/telemetra/telemetra/internal/pgtest"
	"github.com/telemetra/telemetra/internal/pipelinetest"
	"github.com/telemetra/telemetra/internal/testkit"
	"github.com/telemetra/telemetra/processors/table"
	"github.com/telemetra/telemetra/processors/window"
	"github.com/telemetra/telemetra/producer"
)

// TestARebuildReproducesTheLiveWindowsAndLateSet: live, the viewer topic is written minutes
// behind the others, with its events' old timestamps; by then the processor has moved the
// silent viewer partitions on with markers, so those samples are late. A state rebuild reads
// all four topics from the start at its own speed, and must judge every record as the live
// run did: the rebuilt projection verifies without a difference, and the late sets are equal.
func TestARebuildReproducesTheLiveWindowsAndLateSet(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test")
	}
	addr := kafkatest.StartBroker(t)
	dbURL := pgtest.Database(t)
	pool := newPool(t, dbURL)
	runProcessor(t, addr)
	runProjector(t, addr, dbURL)

	r := run(6_000, 21, start)
	g, err := producer.NewGenerator(r.Sim)
	if err != nil {
		t.Fatal(err)
	}
	var behind []*kgo.Record
	var ahead []*kgo.Record
	for k := range r.Count {
		at := r.StartTime.Add(time.Duration(k) * r.TimeStep)
		rec := g.Next(at)
		kr := &kgo.Record{Topic: rec.Topic, Key: rec.Key, Value: rec.Value, Timestamp: at}
		if rec.Topic == kafka.TopicViewer {
			behind = append(behind, kr)
		} else {
			ahead = append(ahead, kr)
		}
	}
	write(t, addr, ahead)
	awaitCommitted(t, addr, string(table.DefaultGroup), int64(len(ahead)))
	// let time pass: markers, which move the silent viewer partitions on, are due only once
	// ProducerDelay of processing time has passed (eventtime.MarkerPolicy)
	time.Sleep(3 * window.DefaultConfig().ProducerDelay)
	write(t, addr, behind)
	awaitCommitted(t, addr, string(table.DefaultGroup), r.Count)
	liveLate := awaitLateSet(t, addr, kafka.OutputsFor(1).Late)
	if len(liveLate) == 0 {
		t.Fatal("no late events live: the viewer backlog was not behind the markers")
	}

	rebuildAndVerify(t, addr, dbURL)
	rebuiltLate := awaitLateSet(t, addr, kafka.OutputsFor(2).Late)
	if !slices.Equal(liveLate, rebuiltLate) {
		t.Fatalf("late sets differ: live %d events, rebuilt %d", len(liveLate), len(rebuiltLate))
	}
	t.Logf("%d late events live and rebuilt; %d rows verified", len(liveLate), countRows(t, pool, "telemetra"))
}

// rebuildAndVerify rebuilds the state into generation 2 from the logs and verifies its projection
// against the live one's, row for row.
func rebuildAndVerify(t *testing.T, addr, dbURL string) {
	t.Helper()
	rep, err := Run(ctx, Config{Brokers: []string{addr}, DatabaseURL: dbURL, Schema: "telemetra", Generation: 2,
		RebuildState: true, Window: testWindow(), Verify: true, Swap: false, Logger: kafkatest.Quiet()})
	if err != nil {
		if rep.Diff != nil {
			for _, s := range rep.Diff.Samples {
				t.Log(s)
			}
		}
		t.Fatalf("replay: %v", err)
	}
	if !rep.Diff.Identical() {
		for _, s := range rep.Diff.Samples {
			t.Log(s)
		}
		t.Fatalf("the rebuilt generation differs from the live one: %d rows", rep.Diff.Total)
	}
}

func write(t *testing.T, addr string, records []*kgo.Record) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.RecordPartitioner(kafka.GokaPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if err := cl.ProduceSync(ctx, records...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

// awaitCommitted waits until the group has committed n input records.
func awaitCommitted(t *testing.T, addr, group string, n int64) {
	t.Helper()
	testkit.WaitFor(t, fmt.Sprintf("group %s to commit %d input records", group, n), 2*time.Minute, func() error {
		if done := pipelinetest.Committed(t, addr, group, kafka.InputTopics()...); done < n {
			return fmt.Errorf("%d committed", done)
		}
		return nil
	})
}

// awaitLateSet reads a late topic until it stops growing, and returns the source of each record
// (topic/partition/offset), sorted.
func awaitLateSet(t *testing.T, addr, topic string) []string {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var out []string
	quiet := 0
	for quiet < 5 {
		pctx, cancel := context.WithTimeout(ctx, time.Second)
		fetches := cl.PollFetches(pctx)
		cancel()
		n := 0
		fetches.EachRecord(func(r *kgo.Record) {
			n++
			var src [3]string
			for _, h := range r.Headers {
				switch h.Key {
				case kafka.HeaderSourceTopic:
					src[0] = string(h.Value)
				case kafka.HeaderSourcePartition:
					src[1] = string(h.Value)
				case kafka.HeaderSourceOffset:
					src[2] = string(h.Value)
				}
			}
			out = append(out, src[0]+"/"+src[1]+"/"+src[2])
		})
		if n == 0 {
			quiet++
		} else {
			quiet = 0
		}
	}
	slices.Sort(out)
	return out
}

// TestARebuildReproducesAHistoryBackfill: a producer that first writes 20 minutes of history
// as fast as the broker takes it (`--history`, with its markers), then goes live, has none of
// its events judged late while the processor catches up, and a state rebuild of the same logs
// reproduces the live windows.
func TestARebuildReproducesAHistoryBackfill(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test")
	}
	addr := kafkatest.StartBroker(t)
	dbURL := pgtest.Database(t)
	runProcessor(t, addr)
	runProjector(t, addr, dbURL)

	stats, err := producer.Run(ctx, producer.RunConfig{
		Brokers: []string{addr}, Sim: producer.Config{Channels: []string{"demo_stream", "gaming", "cozy_cafe"}, Seed: 23},
		Rate: 30, History: 20 * time.Minute, Duration: 3 * time.Second, Logger: kafkatest.Quiet(),
	})
	if err != nil {
		t.Fatal(err)
	}
	if stats.Markers == 0 {
		t.Fatal("the history was written without markers")
	}
	// the inputs hold the events, the producer's markers and the processor's
	awaitCommitted(t, addr, string(table.DefaultGroup), stats.Produced+stats.Markers)
	if late := awaitLateSet(t, addr, kafka.OutputsFor(1).Late); len(late) > 0 {
		t.Fatalf("%d events of the backfill were judged late, the first %s", len(late), late[0])
	}

	rebuildAndVerify(t, addr, dbURL)
	t.Logf("%d events of history and live, %d markers from the producer; no late event; the rebuild verified", stats.Produced, stats.Markers)
}
