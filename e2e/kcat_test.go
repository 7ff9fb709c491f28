package e2e

import (
	"bytes"
	"context"
	"encoding/json"
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

	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/proto"

	"github.com/telemetra/telemetra/internal/kafka"
	"github.com/telemetra/telemetra/internal/pipelinetest"
	"github.com/telemetra/telemetra/internal/testkit"
	"github.com/telemetra/telemetra/producer"
	pb "github.com/telemetra/telemetra/proto/telemetra/v1"
	"github.com/telemetra/telemetra/schemas"
)

// TestRawInputWrittenWithKcat writes events with kcat, as any other producer would, to the real
// broker: valid ones, and malformed ones of every kind. The processor binary must count the valid
// ones exactly, dead-letter each malformed one with its reason, and send an event for a window
// that is already final to the late topic, counted on that window by a late correction.
//
// kcat stamps each record with the wall clock when it writes it, and that is the arrival the
// processor judges an event by: the valid events (event time from eventStart, just ahead of the
// wall clock) are written at once, while their windows still take events.
func TestRawInputWrittenWithKcat(t *testing.T) {
	addr := realKafka(t)
	suffix := strconv.FormatInt(time.Now().UnixNano()%1_000_000, 10)
	ch := "kcat_" + suffix
	otherKey := "kcat_other_" + suffix

	group := "e2e-kcat-" + suffix
	proc := exec.Command(binary, "process", "--brokers", addr, "--group", group, "--metrics-addr", "", "--log-level", "warn")
	proc.Stderr = os.Stderr
	if err := proc.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = proc.Process.Signal(syscall.SIGTERM); _ = proc.Wait() })

	// valid events: a seeded simulation of one channel, 30s of event time
	start := eventStart(30 * time.Second)
	valid := producer.RunConfig{Sim: producer.Config{Channels: []string{ch}, Seed: 3}, Count: 600, StartTime: start, TimeStep: 50 * time.Millisecond}
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
	chatWith := func(from, to string) string {
		if !strings.Contains(aChat, from) {
			t.Fatalf("%q not in %s", from, aChat)
		}
		return strings.Replace(aChat, from, to, 1)
	}
	// the same message at another event time
	chatAt := func(at time.Time) string {
		return timestampField.ReplaceAllString(aChat, `"timestamp":"`+at.Format(time.RFC3339Nano)+`"`)
	}
	msgAt := strings.Index(aChat, `"message":`)
	if msgAt < 0 {
		t.Fatalf("no message field in %s", aChat)
	}
	msgField := aChat[msgAt:]
	msgField = msgField[:strings.Index(msgField[len(`"message":"`):], `"`)+len(`"message":"`)+1]
	// the channel's partition (goka's hash, which kcatProduce writes to), and another one
	owner := kafka.PartitionForKey([]byte(ch), kafka.DefaultPartitions)
	notOwner := (owner + 1) % kafka.DefaultPartitions
	type bad struct {
		name, topic, key, value, reason string
		partition                       int // -1: the key's
	}
	malformed := []bad{
		{"broken JSON", kafka.TopicChat, ch, `{"message_id": "x", "channel": `, kafka.ReasonInvalidEvent, -1},
		{"missing fields", kafka.TopicChat, ch, fmt.Sprintf(`{"channel":%q,"timestamp":%q}`, ch, start.Add(10*time.Second).Format(time.RFC3339)), kafka.ReasonInvalidEvent, -1},
		{"wrong type", kafka.TopicChat, ch, chatWith(`"message_id":"`, `"message_id":123,"x":"`), kafka.ReasonInvalidEvent, -1},
		{"huge value", kafka.TopicChat, ch, chatWith(msgField, `"message":"`+strings.Repeat("a", 5000)+`"`), kafka.ReasonInvalidEvent, -1},
		{"non-UTF-8", kafka.TopicChat, ch, chatWith(msgField, "\"message\":\"\xff\xfe\""), kafka.ReasonInvalidEvent, -1},
		{"unknown transaction type", kafka.TopicTransactions, ch, fmt.Sprintf(`{"transaction_id":"txn_abcdefgh%s","channel":%q,"username":"x","transaction_type":"refund","amount":5,"currency":"USD","timestamp":%q}`, suffix, ch, start.Add(10*time.Second).Format(time.RFC3339)), kafka.ReasonInvalidEvent, -1},
		{"far future", kafka.TopicChat, ch, chatAt(start.AddDate(70, 0, 0)), kafka.ReasonFutureTimestamp, -1},
		{"far past", kafka.TopicChat, ch, chatAt(start.AddDate(0, 0, -8)), kafka.ReasonPastTimestamp, -1},
		{"key is not the channel", kafka.TopicChat, otherKey, aChat, kafka.ReasonKeyMismatch, -1},
		// a valid event, but on a partition that does not hold its channel's state (kcat's own
		// partitioner, without -p, puts most events there)
		{"wrong partition", kafka.TopicChat, ch, aChat, kafka.ReasonWrongPartition, notOwner},
	}
	validator, err := schemas.NewValidator()
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range malformed {
		if b.reason != kafka.ReasonInvalidEvent {
			continue
		}
		kind, _ := schemas.KindForTopic(b.topic)
		if err := validator.Validate(kind, []byte(b.value)); err == nil {
			t.Fatalf("%s: the schema accepts it, so the test would not test anything", b.name)
		}
	}

	for _, topic := range kafka.InputTopics() {
		if len(byTopic[topic]) > 0 {
			kcatProduce(t, addr, topic, ch, byTopic[topic])
		}
	}
	for _, b := range malformed {
		if b.partition < 0 {
			kcatProduce(t, addr, b.topic, b.key, []string{b.value})
		} else {
			kcatProduceTo(t, addr, b.topic, b.partition, b.key, []string{b.value})
		}
	}
	// the last window closes by markers, allowed lateness + producer delay after its end
	pipelinetest.AwaitFinals(t, addr, want, 3*time.Minute)

	// an event of the run's first window, which is final by now: it arrives (kcat's stamp)
	// after the window stopped taking events, goes to the late topic, and is counted on its
	// window by a late correction
	first := start.Truncate(time.Minute)
	kcatProduce(t, addr, kafka.TopicChat, ch, []string{chatAt(start)})
	late := awaitKcat(t, addr, kafka.TopicLate, func(key string) bool { return key == ch }, 1)
	lateError := regexp.MustCompile(`^arrived \S+, \S+ after its window \[` + regexp.QuoteMeta(first.Format(time.RFC3339)) + `, ` +
		regexp.QuoteMeta(first.Add(time.Minute).Format(time.RFC3339)) + `\) stopped taking events at ` +
		regexp.QuoteMeta(first.Add(time.Minute+10*time.Second).Format(time.RFC3339)) + `$`)
	if late[0].Headers[kafka.HeaderReason] != kafka.ReasonLate || !lateError.MatchString(late[0].Headers[kafka.HeaderError]) {
		t.Fatalf("late record headers: %v, want telemetra-reason=late and telemetra-error matching %s", late[0].Headers, lateError)
	}
	awaitLateCorrection(t, addr, ch, first, 1)

	dlq := awaitKcat(t, addr, kafka.TopicDLQ, func(key string) bool { return key == ch || key == otherKey }, len(malformed))
	var got, wantReasons []string
	for _, r := range dlq {
		got = append(got, r.Headers[kafka.HeaderReason])
		if r.Headers[kafka.HeaderReason] == kafka.ReasonWrongPartition {
			if hint := fmt.Sprintf("kcat: -p %d", owner); !strings.Contains(r.Headers[kafka.HeaderError], hint) {
				t.Errorf("wrong_partition error %q does not say %q", r.Headers[kafka.HeaderError], hint)
			}
		}
	}
	for _, b := range malformed {
		wantReasons = append(wantReasons, b.reason)
	}
	sort.Strings(got)
	sort.Strings(wantReasons)
	if strings.Join(got, ",") != strings.Join(wantReasons, ",") {
		var lines []string
		for _, r := range dlq {
			lines = append(lines, fmt.Sprintf("%s p%d %v", r.Key, r.Partition, r.Headers))
		}
		t.Fatalf("DLQ reasons %v, want %v\n%s", got, wantReasons, strings.Join(lines, "\n"))
	}
	// and the finals still add up exactly: nothing malformed or late was counted
	pipelinetest.AwaitFinals(t, addr, want, 30*time.Second)
}

var timestampField = regexp.MustCompile(`"timestamp":"[^"]*"`)

// kcatProduce writes values with key to the partition goka's partitioner gives the key.
func kcatProduce(t *testing.T, addr, topic, key string, values []string) {
	t.Helper()
	kcatProduceTo(t, addr, topic, kafka.PartitionForKey([]byte(key), kafka.DefaultPartitions), key, values)
}

// kcatProduceTo writes values with key to a partition of topic. kcat stamps each record with
// the wall clock (CreateTime) when it writes it.
func kcatProduceTo(t *testing.T, addr, topic string, partition int, key string, values []string) {
	t.Helper()
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

// kcatRecord is one record as kcat -J prints it (the value left out).
type kcatRecord struct {
	Partition int
	Key       string
	Headers   map[string]string
}

// awaitKcat reads a topic with kcat until want records whose key matches have arrived, then
// checks that no more arrive for a moment.
func awaitKcat(t *testing.T, addr, topic string, match func(key string) bool, want int) []kcatRecord {
	t.Helper()
	read := func() []kcatRecord {
		// -J: one JSON object per record, its headers as a [name, value, ...] list (header values
		// have commas, which kcat's %h format does not escape)
		out := run(t, time.Minute, "kcat", "-C", "-b", addr, "-t", topic, "-e", "-q", "-J")
		var recs []kcatRecord
		for _, line := range bytes.Split(out, []byte("\n")) {
			if len(bytes.TrimSpace(line)) == 0 {
				continue
			}
			var j struct {
				Partition int      `json:"partition"`
				Key       *string  `json:"key"`
				Headers   []string `json:"headers"`
			}
			if err := json.Unmarshal(line, &j); err != nil {
				t.Fatalf("kcat -J output %q: %v", line, err)
			}
			if j.Key == nil || !match(*j.Key) {
				continue
			}
			r := kcatRecord{Partition: j.Partition, Key: *j.Key, Headers: map[string]string{}}
			for k := 0; k+1 < len(j.Headers); k += 2 {
				r.Headers[j.Headers[k]] = j.Headers[k+1]
			}
			recs = append(recs, r)
		}
		return recs
	}
	show := func(recs []kcatRecord) string {
		var lines []string
		for _, r := range recs {
			lines = append(lines, fmt.Sprintf("%s p%d %v", r.Key, r.Partition, r.Headers))
		}
		return strings.Join(lines, "\n")
	}
	testkit.WaitFor(t, fmt.Sprintf("%d records of ours in %s", want, topic), time.Minute, func() error {
		if recs := read(); len(recs) < want {
			return fmt.Errorf("%d records:\n%s", len(recs), show(recs))
		}
		return nil
	})
	time.Sleep(2 * time.Second) // let time pass: a record too many would arrive in it
	recs := read()
	if len(recs) != want {
		t.Fatalf("%s: %d records of ours, want exactly %d:\n%s", topic, len(recs), want, show(recs))
	}
	return recs
}

// awaitLateCorrection reads telemetra.aggregates until a late correction of channel's window
// starting at start raises its late count to want; a larger count fails.
func awaitLateCorrection(t *testing.T, addr, channel string, start time.Time, want int64) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumeTopics(kafka.TopicAggregates),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	deadline := time.Now().Add(time.Minute)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		fetches := cl.PollFetches(ctx)
		cancel()
		found := false
		fetches.EachRecord(func(r *kgo.Record) {
			agg := new(pb.WindowAggregate)
			if err := proto.Unmarshal(r.Value, agg); err != nil {
				t.Fatalf("undecodable aggregate: %v", err)
			}
			if agg.Channel != channel || !agg.LateCorrection || !agg.WindowStart.AsTime().Equal(start) {
				return
			}
			if !agg.Final || agg.LateEvents > want {
				t.Fatalf("late correction of %s@%s: %v, want final with late_events %d", channel, start.Format(time.RFC3339), agg, want)
			}
			found = found || agg.LateEvents == want
		})
		if found {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no late correction of %s@%s with late_events %d after a minute", channel, start.Format(time.RFC3339), want)
		}
	}
}
