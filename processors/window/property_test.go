package window

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	pb "github.com/telemetra/telemetra/proto/telemetra/v1"
	"github.com/telemetra/telemetra/schemas"
)

// TestTheSameLogsGiveTheSameWindowsInAnyReadOrder is the event-time rule's property: generated
// input logs, read in many random interleavings of the four topics, in random batch sizes,
// with crashes (restart from the last flush, redelivery from the last commit) at random
// points, always give the same final windows (as a consumer keeps them) and the same late set.
func TestTheSameLogsGiveTheSameWindowsInAnyReadOrder(t *testing.T) {
	const logsets, orders = 20, 20
	for seed := range uint64(logsets) {
		logs := generateLogs(rand.New(rand.NewPCG(seed, 7)))
		want := readLogs(t, logs, nil)
		if len(want.finals) < 10 || len(want.late) == 0 {
			t.Fatalf("seed %d: a weak log set: %d windows, %d late", seed, len(want.finals), len(want.late))
		}
		for k := range uint64(orders) {
			rng := rand.New(rand.NewPCG(seed, 1000+k))
			got := readLogs(t, logs, rng)
			if diff := compareRuns(want, got); diff != "" {
				t.Fatalf("seed %d, order %d: %s", seed, k, diff)
			}
		}
	}
}

// generateLogs makes the four input logs of one partition: three channels over ten minutes.
// Records reach Kafka in order with small delays mostly, some within the lateness, some
// minutes behind (late); a few carry timestamps nobody can believe, a few do not decode, a few
// are stamped by a clock behind the others, and markers move silent inputs on.
func generateLogs(rng *rand.Rand) map[string][]record {
	start := time.Date(2025, 10, 16, 10, 0, 0, 0, time.UTC)
	end := start.Add(10 * time.Minute)
	channels := []string{"alpha", "bravo", "charlie"}
	gaps := map[string]time.Duration{"chat": 2 * time.Second, "viewer": 6 * time.Second, "transactions": 20 * time.Second, "stream_meta": 50 * time.Second}
	logs := map[string][]record{}
	for _, topic := range testInputs {
		var offset int64
		add := func(r record) {
			r.topic, r.offset = topic, offset
			offset++
			logs[topic] = append(logs[topic], r)
		}
		for at := start; at.Before(end); at = at.Add(time.Duration(rng.Int64N(int64(gaps[topic]))) + time.Millisecond) {
			stamp := at
			if rng.IntN(100) < 3 {
				stamp = at.Add(-time.Duration(rng.Int64N(int64(20 * time.Second)))) // a clock behind
			}
			switch u := rng.IntN(100); {
			case u < 2:
				add(record{timestamp: stamp}) // does not decode
				continue
			case u < 5:
				add(record{timestamp: stamp, marker: true})
				continue
			}
			delay := time.Duration(rng.Int64N(int64(3 * time.Second)))
			switch u := rng.IntN(100); {
			case u < 10:
				delay = 5*time.Second + time.Duration(rng.Int64N(int64(30*time.Second)))
			case u < 14:
				delay = time.Minute + time.Duration(rng.Int64N(int64(3*time.Minute)))
			case u < 15:
				delay = -7 * time.Minute // from the future
			case u < 16:
				delay = stamp.Sub(time.Unix(0, 0)) // 1970
			}
			ch := channels[rng.IntN(len(channels))]
			add(record{timestamp: stamp, event: randomEvent(rng, topic, ch, at.Add(-delay))})
		}
		add(record{timestamp: end.Add(time.Hour), marker: true}) // everything closes
	}
	return logs
}

func randomEvent(rng *rand.Rand, topic, channel string, at time.Time) schemas.Event {
	switch topic {
	case "chat":
		return schemas.ChatMessage{Channel: channel, Username: fmt.Sprintf("u%d", rng.IntN(20)), Message: "gg LUL", Emotes: []string{"LUL"}, Timestamp: at}
	case "viewer":
		return schemas.ViewerCount{Channel: channel, ViewerCount: 100 + rng.Int64N(50), ChatterCount: rng.Int64N(20), Timestamp: at}
	case "transactions":
		return schemas.Transaction{Channel: channel, TransactionType: schemas.TransactionDonation, Amount: float64(1 + rng.IntN(20)), Timestamp: at}
	default:
		types := []schemas.StreamEventType{schemas.StreamStart, schemas.TitleChange, schemas.CategoryChange, schemas.StreamEnd}
		return schemas.StreamMeta{Channel: channel, EventType: types[rng.IntN(len(types))], Title: fmt.Sprintf("title %d", rng.IntN(5)),
			Category: fmt.Sprintf("cat %d", rng.IntN(3)), Timestamp: at}
	}
}

// readLogs reads the logs in one interleaving: with rng nil in the order of arrival (merged by
// the timestamps at the logs' heads, topic order on ties), else a random input at a time, a random number of records from it, with
// flushes, commits and crashes at random.
func readLogs(t *testing.T, logs map[string][]record, rng *rand.Rand) *driver {
	t.Helper()
	d := newDriver(newEngine(t))
	d.now = time.Date(2025, 10, 16, 12, 0, 0, 0, time.UTC)
	next := map[string]int{}
	if rng == nil {
		// merge the logs by the timestamps at their heads, each log in its own order
		for {
			head := ""
			for _, topic := range testInputs {
				if next[topic] < len(logs[topic]) && (head == "" ||
					logs[topic][next[topic]].timestamp.Before(logs[head][next[head]].timestamp)) {
					head = topic
				}
			}
			if head == "" {
				return d
			}
			d.read(logs[head][next[head]])
			next[head]++
		}
	}
	for {
		var open []string
		for _, topic := range testInputs {
			if next[topic] < len(logs[topic]) {
				open = append(open, topic)
			}
		}
		if len(open) == 0 {
			return d
		}
		topic := open[rng.IntN(len(open))]
		for n := 1 + rng.IntN(30); n > 0 && next[topic] < len(logs[topic]); n-- {
			d.read(logs[topic][next[topic]])
			next[topic]++
		}
		d.now = d.now.Add(time.Duration(rng.Int64N(int64(2 * time.Second)))) // a pause
		switch u := rng.IntN(100); {
		case u < 10:
			d.flush()
		case u < 15:
			d.commit()
		case u < 18:
			d.crash()
		}
	}
}

// compareRuns reports the first difference of two runs' finals (without versions and emit
// times) and late sets.
func compareRuns(want, got *driver) string {
	if len(got.late) != len(want.late) {
		return fmt.Sprintf("%d late records, want %d", len(got.late), len(want.late))
	}
	for k := range want.late {
		if !got.late[k] {
			return fmt.Sprintf("%s is not late, want late", k)
		}
	}
	if len(got.finals) != len(want.finals) {
		return fmt.Sprintf("%d final windows, want %d", len(got.finals), len(want.finals))
	}
	for k, w := range want.finals {
		g, ok := got.finals[k]
		if !ok {
			return fmt.Sprintf("no final window %s", k)
		}
		if a, b := withoutProcessingTime(g), withoutProcessingTime(w); !proto.Equal(a, b) {
			return fmt.Sprintf("window %s:\n got  %v\n want %v", k, a, b)
		}
	}
	return ""
}

// withoutProcessingTime drops what depends on processing time: the version (provisional emits
// count) and the emit time.
func withoutProcessingTime(a *pb.WindowAggregate) *pb.WindowAggregate {
	c := proto.Clone(a).(*pb.WindowAggregate)
	c.Version, c.EmittedAt = 0, nil
	return c
}
