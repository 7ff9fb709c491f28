package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/telemetra/telemetra/internal/kafka"
	"github.com/telemetra/telemetra/processors/table"
	telemetrav1 "github.com/telemetra/telemetra/proto/telemetra/v1"
)

type tailCmd struct {
	kafkaFlags
	Topic   string        `arg:"" help:"Topic to read, e.g. telemetra.events.chat."`
	N       int           `arg:"" optional:"" default:"10" help:"Number of messages to print (0: until stopped)."`
	From    string        `name:"from" default:"beginning" enum:"beginning,end" help:"Start at the beginning or the end of the topic."`
	Timeout time.Duration `name:"timeout" default:"10s" help:"Give up when no message arrives for this long (0: wait forever)."`
	Raw     bool          `name:"raw" help:"Print values as they are, one per line, without metadata."`
}

func (t *tailCmd) Run(ctx context.Context, g *globals) error {
	if t.N < 0 {
		return fmt.Errorf("N=%d: must be 0 or positive", t.N) //nolint:staticcheck // ST1005: N names the <n> argument; the message stays as users know it
	}
	offset := kgo.NewOffset().AtStart()
	if t.From == "end" {
		offset = kgo.NewOffset().AtEnd()
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(t.Brokers...), kgo.ConsumeTopics(t.Topic), kgo.ConsumeResetOffset(offset))
	if err != nil {
		return fmt.Errorf("kafka client for %v: %w", t.Brokers, err)
	}
	defer cl.Close()

	printed := 0
	for t.N == 0 || printed < t.N {
		pollCtx, cancel := ctx, context.CancelFunc(func() {})
		if t.Timeout > 0 {
			pollCtx, cancel = context.WithTimeout(ctx, t.Timeout)
		}
		fetches := cl.PollRecords(pollCtx, t.N-printed)
		timedOut := pollCtx.Err() != nil
		cancel()
		if ctx.Err() != nil {
			return nil
		}
		if timedOut && fetches.NumRecords() == 0 {
			return fmt.Errorf("no message on %s for %s (printed %d of %d)", t.Topic, t.Timeout, printed, t.N)
		}
		for _, fe := range fetches.Errors() {
			return fmt.Errorf("read %s partition %d: %w", fe.Topic, fe.Partition, fe.Err)
		}
		for _, r := range fetches.Records() {
			if t.N > 0 && printed >= t.N {
				break
			}
			if err := printRecord(g.stdout, r, t.Raw); err != nil {
				return err
			}
			printed++
		}
	}
	return nil
}

// printRecord writes one record for a person: metadata, headers and the value, indented when it
// is JSON.
func printRecord(w io.Writer, r *kgo.Record, raw bool) error {
	value := formatValue(r.Topic, string(r.Key), r.Value)
	if raw {
		_, err := fmt.Fprintln(w, value)
		return err
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "--- %s [partition %d, offset %d] key=%q time=%s\n", r.Topic, r.Partition, r.Offset,
		r.Key, r.Timestamp.UTC().Format(time.RFC3339Nano))
	for _, h := range r.Headers {
		fmt.Fprintf(&b, "    %s: %s\n", h.Key, printable(h.Value))
	}
	b.WriteString(value)
	b.WriteByte('\n')
	_, err := w.Write(b.Bytes())
	return err
}

func formatValue(topic, key string, v []byte) string {
	var out bytes.Buffer
	if json.Valid(v) && json.Indent(&out, v, "", "  ") == nil {
		return out.String()
	}
	if s, ok := decodeRecord(topic, key, v); ok {
		return s
	}
	return printable(v)
}

// decodeRecord renders Telemetra's own protobuf records as JSON.
func decodeRecord(topic, key string, v []byte) (string, bool) {
	var m proto.Message
	switch {
	case topic == kafka.TopicAggregates:
		m = new(telemetrav1.WindowAggregate)
	case topic == kafka.TopicMoments:
		m = new(telemetrav1.Moment)
	case !strings.HasSuffix(topic, "-table"):
		return "", false
	case table.IsClockKey(key): // a partition's arrival clock
		m = new(telemetrav1.PartitionClock)
	default: // goka group tables hold ChannelState
		m = new(telemetrav1.ChannelState)
	}
	if err := proto.Unmarshal(v, m); err != nil {
		return "", false
	}
	out, err := protojson.MarshalOptions{Multiline: true, Indent: "  "}.Marshal(m)
	if err != nil {
		return "", false
	}
	return string(out), true
}

func printable(v []byte) string {
	if utf8.Valid(v) {
		return string(v)
	}
	return strconv.Quote(string(v))
}
