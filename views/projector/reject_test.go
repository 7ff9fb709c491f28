package projector

import (
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/telemetra/telemetra/internal/kafka"
	pb "github.com/telemetra/telemetra/proto/telemetra/v1"
)

func moment(channel string, k int) *pb.Moment {
	at := t0.Add(time.Duration(k) * time.Minute)
	return &pb.Moment{Id: fmt.Sprintf("chat_spike-%d", at.Unix()), Channel: channel, Kind: pb.MomentKind_MOMENT_KIND_CHAT_SPIKE,
		At: timestamppb.New(at), WindowStart: timestamppb.New(at), WindowEnd: timestamppb.New(at.Add(time.Minute)),
		Value: 400, Description: "Chat spike", EmittedAt: timestamppb.New(at.Add(time.Minute))}
}

// invalidUTF8Channel is a WindowAggregate whose channel is not UTF-8, which proto.Marshal
// refuses to write: built on the wire.
func invalidUTF8Channel() []byte {
	b := protowire.AppendTag(nil, 1, protowire.BytesType)
	return protowire.AppendBytes(b, []byte{'a', 0xff})
}

func TestDecodeAggregateRejectsWhatCannotBecomeARow(t *testing.T) {
	edit := func(f func(a *pb.WindowAggregate)) []byte {
		a := window("demo_stream", 0, true, 3, 30)
		f(a)
		return mustMarshal(a)
	}
	correction := &pb.WindowAggregate{Channel: "demo_stream", WindowStart: timestamppb.New(t0), WindowEnd: timestamppb.New(t0.Add(time.Minute)),
		Final: true, LateCorrection: true, Version: 4, LateEvents: 2, EmittedAt: timestamppb.New(t0.Add(time.Hour))}
	for _, tc := range []struct {
		name   string
		key    string
		value  []byte
		reason string // "" when projectable
		detail string // a part of the rejection's detail
	}{
		{"a window", "demo_stream", edit(func(*pb.WindowAggregate) {}), "", ""},
		{"a late correction (channel, bounds, version and emitted_at only)", "demo_stream", mustMarshal(correction), "", ""},
		{"a window before its stream's status is known", "demo_stream", edit(func(a *pb.WindowAggregate) { a.Status = nil }), "", ""},
		{"a truncated varint", "demo_stream", []byte{0x08, 0xff, 0xff}, kafka.ReasonUndecodable, "WindowAggregate"},
		{"a channel that is not UTF-8", "demo_stream", invalidUTF8Channel(), kafka.ReasonUndecodable, "UTF-8"},
		{"no bytes at all: every field empty", "", nil, kafka.ReasonMissingField, "channel"},
		{"unknown fields only", "demo_stream", protowire.AppendVarint(protowire.AppendTag(nil, 999, protowire.VarintType), 1), kafka.ReasonMissingField, "channel"},
		{"no channel", "", edit(func(a *pb.WindowAggregate) { a.Channel = "" }), kafka.ReasonMissingField, "channel"},
		{"no window start", "demo_stream", edit(func(a *pb.WindowAggregate) { a.WindowStart = nil }), kafka.ReasonMissingField, "window_start"},
		{"no window end", "demo_stream", edit(func(a *pb.WindowAggregate) { a.WindowEnd = nil }), kafka.ReasonMissingField, "window_end"},
		{"version 0", "demo_stream", edit(func(a *pb.WindowAggregate) { a.Version = 0 }), kafka.ReasonMissingField, "version"},
		{"keyed by another channel", "other", edit(func(*pb.WindowAggregate) {}), kafka.ReasonKeyMismatch, `"other"`},
		{"no key", "", edit(func(*pb.WindowAggregate) {}), kafka.ReasonKeyMismatch, `"demo_stream"`},
		{"a version past bigint", "demo_stream", edit(func(a *pb.WindowAggregate) { a.Version = math.MaxInt64 + 1 }), kafka.ReasonInvalidField, "version"},
		{"a window start past year 9999", "demo_stream", edit(func(a *pb.WindowAggregate) { a.WindowStart.Seconds = 1 << 40 }), kafka.ReasonInvalidField, "window_start"},
		{"negative nanos in the last event time", "demo_stream", edit(func(a *pb.WindowAggregate) { a.LastEventTime.Nanos = -1 }), kafka.ReasonInvalidField, "last_event_time"},
		{"a NUL in the title", "demo_stream", edit(func(a *pb.WindowAggregate) { a.Status.Title = "a\x00b" }), kafka.ReasonInvalidField, "status.title"},
		{"a NUL in an emote", "demo_stream", edit(func(a *pb.WindowAggregate) { a.Chat.TopEmotes[0].Emote = "Pog\x00" }), kafka.ReasonInvalidField, "top_emotes[0]"},
		{"a session id that is not a number", "demo_stream", edit(func(a *pb.WindowAggregate) { a.Status.SessionId = "abc" }), kafka.ReasonInvalidField, "session_id"},
		{"a session id past year 9999", "demo_stream", edit(func(a *pb.WindowAggregate) { a.Status.SessionId = "99999999999999" }), kafka.ReasonInvalidField, "session_id"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, rej := decodeAggregate([]byte(tc.key), tc.value)
			checkDecoded(t, a != nil, rej, tc.reason, tc.detail)
		})
	}
}

func TestDecodeMomentRejectsWhatCannotBecomeARow(t *testing.T) {
	edit := func(f func(m *pb.Moment)) []byte {
		m := moment("demo_stream", 0)
		f(m)
		return mustMarshal(m)
	}
	raid := &pb.Moment{Id: "raid-1760610600", Channel: "demo_stream", Kind: pb.MomentKind_MOMENT_KIND_RAID, At: timestamppb.New(t0),
		Raid: &pb.RaidInfo{FromChannel: "friend", Viewers: 50, At: timestamppb.New(t0)}}
	for _, tc := range []struct {
		name   string
		key    string
		value  []byte
		reason string
		detail string
	}{
		{"a chat spike", "demo_stream", edit(func(*pb.Moment) {}), "", ""},
		{"a raid without window bounds", "demo_stream", mustMarshal(raid), "", ""},
		{"a field longer than the record", "demo_stream", append(protowire.AppendTag(nil, 4, protowire.BytesType), 9, 'a'), kafka.ReasonUndecodable, "Moment"},
		{"no bytes at all: every field empty", "", nil, kafka.ReasonMissingField, "channel"},
		{"no channel", "", edit(func(m *pb.Moment) { m.Channel = "" }), kafka.ReasonMissingField, "channel"},
		{"no id", "demo_stream", edit(func(m *pb.Moment) { m.Id = "" }), kafka.ReasonMissingField, "id"},
		{"no time", "demo_stream", edit(func(m *pb.Moment) { m.At = nil }), kafka.ReasonMissingField, "at"},
		{"kind unspecified", "demo_stream", edit(func(m *pb.Moment) { m.Kind = pb.MomentKind_MOMENT_KIND_UNSPECIFIED }), kafka.ReasonUnknownKind, "MOMENT_KIND_UNSPECIFIED"},
		{"a kind this build does not know", "demo_stream", edit(func(m *pb.Moment) { m.Kind = 99 }), kafka.ReasonUnknownKind, "99"},
		{"keyed by another channel", "other", edit(func(*pb.Moment) {}), kafka.ReasonKeyMismatch, `"other"`},
		{"a time before year 1", "demo_stream", edit(func(m *pb.Moment) { m.At.Seconds = -1 << 40 }), kafka.ReasonInvalidField, "at"},
		{"a NUL in the description", "demo_stream", edit(func(m *pb.Moment) { m.Description = "\x00" }), kafka.ReasonInvalidField, "description"},
		{"a NUL in the raiding channel", "demo_stream", func() []byte {
			r := proto.Clone(raid).(*pb.Moment)
			r.Raid.FromChannel = "x\x00"
			return mustMarshal(r)
		}(), kafka.ReasonInvalidField, "raid.from_channel"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, rej := decodeMoment([]byte(tc.key), tc.value)
			checkDecoded(t, m != nil, rej, tc.reason, tc.detail)
		})
	}
}

func checkDecoded(t *testing.T, gotMessage bool, rej *rejection, reason, detail string) {
	t.Helper()
	switch {
	case reason == "" && rej != nil:
		t.Fatalf("rejected: %v", rej)
	case reason == "" && !gotMessage:
		t.Fatal("neither a message nor a rejection")
	case reason == "":
		return
	case rej == nil:
		t.Fatalf("projectable, want rejected as %s", reason)
	case gotMessage:
		t.Fatalf("rejected (%v) but a message returned too", rej)
	case rej.reason != reason || !strings.Contains(rej.detail, detail):
		t.Fatalf("rejected as %v, want %s mentioning %q", rej, reason, detail)
	}
}

func TestDecodeBatchSortsRecordsAndKeepsEveryOffset(t *testing.T) {
	out := kafka.OutputsFor(2)
	records := []*kgo.Record{
		record(out.Aggregates, 0, window("a", 0, false, 1, 5)),
		{Topic: out.Moments, Offset: 0, Key: []byte("a"), Value: []byte{0xff}},
		record(out.Moments, 1, moment("a", 1)),
		record(kafka.TopicAggregates, 0, window("a", 0, false, 1, 5)), // generation 1's: not this projection's
		{Topic: out.Aggregates, Offset: 1, Key: []byte("a"), Value: mustMarshal(&pb.WindowAggregate{})},
	}
	b := decodeBatch(out, records)
	if len(b.records) != len(records) || len(b.aggregates) != 1 || len(b.moments) != 1 || len(b.rejected) != 2 {
		t.Fatalf("%d records, %d aggregates, %d moments, %d rejected", len(b.records), len(b.aggregates), len(b.moments), len(b.rejected))
	}
	for k, want := range []struct {
		topic  string
		offset int64
		reason string
	}{{out.Moments, 0, kafka.ReasonUndecodable}, {out.Aggregates, 1, kafka.ReasonMissingField}} {
		if r := b.rejected[k]; r.record.Topic != want.topic || r.record.Offset != want.offset || r.reason != want.reason {
			t.Errorf("rejection %d: %s@%d %v, want %s@%d %s", k, r.record.Topic, r.record.Offset, r.rejection, want.topic, want.offset, want.reason)
		}
	}
}

func TestADeadLetterCopyKeepsTheRecordAndSaysWhereFromAndWhy(t *testing.T) {
	src := &kgo.Record{Topic: kafka.TopicMoments, Partition: 2, Offset: 41, Key: []byte("k"), Value: []byte{1, 2, 3}}
	c := deadLetterRecord(kafka.TopicProjectorDLQ, rejectedRecord{src, &rejection{kafka.ReasonMissingField, "id is not set"}})
	if c.Topic != kafka.TopicProjectorDLQ || string(c.Key) != "k" || string(c.Value) != "\x01\x02\x03" {
		t.Fatalf("copy %s key %q value %v", c.Topic, c.Key, c.Value)
	}
	headers := map[string]string{}
	for _, h := range c.Headers {
		headers[h.Key] = string(h.Value)
	}
	for k, want := range map[string]string{
		kafka.HeaderSourceTopic: kafka.TopicMoments, kafka.HeaderSourcePartition: "2", kafka.HeaderSourceOffset: "41",
		kafka.HeaderReason: kafka.ReasonMissingField, kafka.HeaderError: "id is not set",
	} {
		if headers[k] != want {
			t.Errorf("header %s = %q, want %q", k, headers[k], want)
		}
	}
}
