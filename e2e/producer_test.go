package e2e

import (
	"bytes"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/telemetra/telemetra/internal/kafka"
	"github.com/telemetra/telemetra/schemas"
)

// TestProducerToRealKafkaReadByKcat writes a seeded run into the real broker with the telemetra
// binary and reads it back with kcat: every event arrives once, on its channel's partition, and
// validates against its schema.
func TestProducerToRealKafkaReadByKcat(t *testing.T) {
	addr := realKafka(t)
	// a channel set of its own so reruns against the same broker can be told apart
	suffix := strconv.FormatInt(time.Now().UnixNano()%1_000_000, 10)
	channels := []string{"e2e_a_" + suffix, "e2e_b_" + suffix, "e2e_c_" + suffix}
	// 100 minutes of event time, so that every topic gets events: transactions come at the
	// audience's pace (docs/producer.md). The run lies in the past, ending 10 minutes ago, out
	// of the way of the event time the other tests take (eventStart).
	const count, step = 20_000, 300 * time.Millisecond
	from := time.Now().UTC().Add(-count*step - 10*time.Minute).Truncate(time.Second)
	run(t, 2*time.Minute, binary, "produce", "--brokers", addr, "--channels", strings.Join(channels, ","),
		"--count", strconv.Itoa(count), "--unthrottled", "--seed", "42", "--start-time", from.Format(time.RFC3339), "--time-step", step.String())

	validator, err := schemas.NewValidator()
	if err != nil {
		t.Fatal(err)
	}
	ours := map[string]bool{}
	for _, c := range channels {
		ours[c] = true
	}
	total := 0
	for _, topic := range kafka.InputTopics() {
		kind, ok := schemas.KindForTopic(topic)
		if !ok {
			t.Fatalf("no schema for %s", topic)
		}
		// -e: exit at the end of the topic; the separator makes keys and values easy to split
		out := run(t, time.Minute, "kcat", "-b", addr, "-t", topic, "-C", "-e", "-q", "-f", "%p\t%k\t%s\n")
		n := 0
		for _, line := range bytes.Split(bytes.TrimSpace(out), []byte("\n")) {
			fields := bytes.SplitN(line, []byte("\t"), 3)
			if len(fields) != 3 || !ours[string(fields[1])] {
				continue // another run's events
			}
			n++
			part, _ := strconv.Atoi(string(fields[0]))
			if want := kafka.PartitionForKey(fields[1], kafka.DefaultPartitions); part != want {
				t.Errorf("%s: key %s on partition %d, want %d", topic, fields[1], part, want)
			}
			if err := validator.Validate(kind, fields[2]); err != nil {
				t.Errorf("%s: %s does not validate: %v", topic, fields[2], err)
			}
		}
		if n == 0 {
			t.Errorf("kcat read nothing of ours from %s", topic)
		}
		total += n
	}
	if total != count {
		t.Fatalf("kcat read %d events of this run, want %d", total, count)
	}
}
