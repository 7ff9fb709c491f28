package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/telemetra/telemetra/internal/kafka"
	"github.com/telemetra/telemetra/internal/pipelinetest"
	"github.com/telemetra/telemetra/producer"
	"github.com/telemetra/telemetra/schemas"
)

// TestRawInputWrittenWithKcat writes events with kcat, as any other producer would, to the real
// broker: valid ones, and malformed ones of every kind. The processor binary must count the valid
// ones exactly, dead-letter each malformed one with its reason, and send an event for a window
// that is already final to the late topic.
func TestRawInputWrittenWithKcat(t *testing.T) {
	addr := realKafka(t)
	suffix := strconv.FormatInt(time.Now().UnixNano()%1_000_000, 10)
	ch := "kcat_" + suffix
	otherKey := "kcat_other_" + suffix

	// valid events: a seeded simulation of one channel, one minute of event time
	start := eventStart(time.Minute)
	valid := producer.RunConfig{Sim: producer.Config{Channels: []string{ch}, Seed: 3}, Count: 600, StartTime: start, TimeStep: 100 * time.Millisecond}
	want := pipelinetest.Expected(t, valid)
	g, err := producer.NewGenerator(valid.Sim)
	if err != nil {
		t.Fatal(err)
	}
	byTopic := map[string][]string{}
	var aChat string
	for k := range valid.Count {
		r := g.Next(start.Add(time.Duration(k) * valid.TimeStep))
		byTopic[r.Topic] = append(byTopic[r.Topic], string(r.Value))
		if r.Topic == kafka.TopicChat && aChat == "" {
			aChat = string(r.Value)
		}
	}
	if aChat == "" {
		t.Fatal("the simulation wrote no chat message")
	}

	// malformed events, each with the DLQ reason it must get
	chatWith := func(old, new string) string {
		if !strings.Contains(aChat, old) {
			t.Fatalf("%q not in %s", old, aChat)
		}
		return strings.Replace(aChat, old, new, 1)
	}
	// the same message at another event time
	chatAt := func(at time.Time) string {
		return timestampField.ReplaceAllString(aChat, `"timestamp":"`+at.Format(time.RFC3339Nano)+`"`)
	}
	msgField := aChat[strings.Index(aChat, `"message":`):]
	msgField = msgField[:strings.Index(msgField[len(`"message":"`):], `"`)+len(`"message":"`)+1]
	type bad struct {
		name, topic, key, value, reason string
	}
	malformed := []bad{
		{"broken JSON", kafka.TopicChat, ch, `{"message_id": "x", "channel": `, "invalid_event"},
		{"missing fields", kafka.TopicChat, ch, fmt.Sprintf(`{"channel":%q,"timestamp":%q}`, ch, start.Add(30*time.Second).Format(time.RFC3339)), "invalid_event"},
		{"wrong type", kafka.TopicChat, ch, chatWith(`"message_id":"`, `"message_id":123,"x":"`), "invalid_event"},
		{"huge value", kafka.TopicChat, ch, chatWith(msgField, `"message":"`+strings.Repeat("a", 5000)+`"`), "invalid_event"},
		{"non-UTF-8", kafka.TopicChat, ch, chatWith(msgField, "\"message\":\"\xff\xfe\""), "invalid_event"},
		{"unknown transaction type", kafka.TopicTransactions, ch, fmt.Sprintf(`{"transaction_id":"txn_abcdefgh%s","channel":%q,"username":"x","transaction_type":"refund","amount":5,"currency":"USD","timestamp":%q}`, suffix, ch, start.Add(30*time.Second).Format(time.RFC3339)), "invalid_event"},
		{"far future", kafka.TopicChat, ch, chatAt(start.AddDate(70, 0, 0)), "future_timestamp"},
		{"key is not the channel", kafka.TopicChat, otherKey, aChat, "key_mismatch"},
	}
	validator, err := schemas.NewValidator()
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range malformed {
		if b.reason != "invalid_event" {
			continue
		}
		kind, _ := schemas.KindForTopic(b.topic)
		if err := validator.Validate(kind, []byte(b.value)); err == nil {
			t.Fatalf("%s: the schema accepts it, so the test would not test anything", b.name)
		}
	}

	group := "e2e-kcat-" + suffix
	proc := exec.Command(binary, "process", "--brokers", addr, "--group", group, "--idle-timeout", "3s",
		"--metrics-addr", "", "--log-level", "warn")
	proc.Stderr = os.Stderr
	if err := proc.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = proc.Process.Signal(syscall.SIGTERM); _ = proc.Wait() })

	for _, topic := range kafka.InputTopics() {
		if len(byTopic[topic]) > 0 {
			kcatProduce(t, addr, topic, ch, byTopic[topic])
		}
	}
	for _, b := range malformed {
		kcatProduce(t, addr, b.topic, b.key, []string{b.value})
	}
	pipelinetest.AwaitFinals(t, addr, want, 2*time.Minute)

	// an event for a window that is final by now
	kcatProduce(t, addr, kafka.TopicChat, ch, []string{chatAt(start.Add(-time.Hour))})
	late := awaitKcat(t, addr, kafka.TopicLate, func(key string) bool { return key == ch }, 1)
	if !strings.Contains(late[0], "telemetra-reason=late") {
		t.Fatalf("late record headers: %s", late[0])
	}

	dlq := awaitKcat(t, addr, kafka.TopicDLQ, func(key string) bool { return key == ch || key == otherKey }, len(malformed))
	var got, wantReasons []string
	for _, line := range dlq {
		got = append(got, header(line, "telemetra-reason"))
	}
	for _, b := range malformed {
		wantReasons = append(wantReasons, b.reason)
	}
	sort.Strings(got)
	sort.Strings(wantReasons)
	if strings.Join(got, ",") != strings.Join(wantReasons, ",") {
		t.Fatalf("DLQ reasons %v, want %v\n%s", got, wantReasons, strings.Join(dlq, "\n"))
	}
	// and the finals still add up exactly: nothing malformed or late was counted
	pipelinetest.AwaitFinals(t, addr, want, 30*time.Second)
}

var timestampField = regexp.MustCompile(`"timestamp":"[^"]*"`)

// kcatProduce writes values with key to the partition goka's partitioner gives the key.
func kcatProduce(t *testing.T, addr, topic, key string, values []string) {
	t.Helper()
	partition := kafka.PartitionForKey([]byte(key), kafka.DefaultPartitions)
	var in bytes.Buffer
	for _, v := range values {
		in.WriteString(key + "\t" + v + "\n")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "kcat", "-P", "-b", addr, "-t", topic, "-K", "\t", "-p", strconv.Itoa(partition))
	cmd.Stdin = &in
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("kcat -P %s: %v\n%s", topic, err, out)
	}
}

// awaitKcat reads a topic with kcat until want records whose key matches have arrived, then
// checks that no more arrive for a moment; it returns "key<TAB>headers" per record.
func awaitKcat(t *testing.T, addr, topic string, match func(key string) bool, want int) []string {
	t.Helper()
	read := func() []string {
		out := run(t, time.Minute, "kcat", "-C", "-b", addr, "-t", topic, "-e", "-q", "-f", "%k\t%h\n")
		var lines []string
		for _, line := range strings.Split(string(out), "\n") {
			if key, _, ok := strings.Cut(line, "\t"); ok && match(key) {
				lines = append(lines, line)
			}
		}
		return lines
	}
	deadline := time.Now().Add(time.Minute)
	for {
		lines := read()
		if len(lines) >= want {
			time.Sleep(2 * time.Second)
			if lines = read(); len(lines) != want {
				t.Fatalf("%s: %d records of ours, want exactly %d:\n%s", topic, len(lines), want, strings.Join(lines, "\n"))
			}
			return lines
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %d records of ours after a minute, want %d:\n%s", topic, len(lines), want, strings.Join(lines, "\n"))
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// header extracts one header's value from kcat's %h output (name=value,name=value).
func header(line, name string) string {
	_, headers, _ := strings.Cut(line, "\t")
	for _, h := range strings.Split(headers, ",") {
		if v, ok := strings.CutPrefix(h, name+"="); ok {
			return v
		}
	}
	return ""
}
