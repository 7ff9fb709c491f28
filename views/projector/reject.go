package projector

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/telemetra/telemetra/internal/kafka"
	pb "github.com/telemetra/telemetra/proto/telemetra/v1"
)

// rejection says why a record cannot become rows: one of the projector's reasons in
// internal/kafka (kafka.ReasonUndecodable, ...), which is the copy's HeaderReason and the reason
// label of telemetra_projector_records_rejected_total, and the detail (naming the field) for the
// log and the copy's HeaderError.
type rejection struct {
	reason, detail string
}

func (r *rejection) Error() string { return r.reason + ": " + r.detail }

func missing(field string) *rejection {
	return &rejection{kafka.ReasonMissingField, field + " is not set"}
}

func invalid(format string, args ...any) *rejection {
	return &rejection{kafka.ReasonInvalidField, fmt.Sprintf(format, args...)}
}

// decodeAggregate decodes a record of an aggregates topic and checks that it can become rows.
// Unknown fields are kept, not rejected: a newer processor may write fields this build does
// not know.
func decodeAggregate(key, value []byte) (*pb.WindowAggregate, *rejection) {
	a := new(pb.WindowAggregate)
	if err := proto.Unmarshal(value, a); err != nil {
		return nil, &rejection{kafka.ReasonUndecodable, "not a WindowAggregate: " + err.Error()}
	}
	if r := checkAggregate(key, a); r != nil {
		return nil, r
	}
	return a, nil
}

// checkAggregate: channel and window bounds are the row's key and NOT NULL (a nil timestamp
// would be written as 1970); versions start at 1, so 0 is a record the processor never wrote.
func checkAggregate(key []byte, a *pb.WindowAggregate) *rejection {
	switch {
	case a.GetChannel() == "":
		return missing("channel")
	case a.GetWindowStart() == nil:
		return missing("window_start")
	case a.GetWindowEnd() == nil:
		return missing("window_end")
	case a.GetVersion() == 0:
		return missing("version")
	}
	if r := checkKey(key, a.GetChannel()); r != nil {
		return r
	}
	if a.GetVersion() > math.MaxInt64 {
		return invalid("version %d does not fit a bigint", a.GetVersion())
	}
	st := a.GetStatus()
	if r := checkTimestamps(
		stamp{"window_start", a.GetWindowStart()}, stamp{"window_end", a.GetWindowEnd()},
		stamp{"emitted_at", a.GetEmittedAt()},
		stamp{"first_event_time", a.GetFirstEventTime()}, stamp{"last_event_time", a.GetLastEventTime()},
		stamp{"status.started_at", st.GetStartedAt()}, stamp{"status.ended_at", st.GetEndedAt()},
	); r != nil {
		return r
	}
	if r := checkTexts(text{"channel", a.GetChannel()}, text{"status.title", st.GetTitle()},
		text{"status.category", st.GetCategory()}, text{"status.session_id", st.GetSessionId()}); r != nil {
		return r
	}
	for k, e := range a.GetChat().GetTopEmotes() {
		if strings.IndexByte(e.GetEmote(), 0) >= 0 { // into jsonb, which refuses \u0000 as well
			return invalid("chat.top_emotes[%d].emote contains a NUL character", k)
		}
	}
	if sid := st.GetSessionId(); sid != "" {
		// the session summary is keyed by to_timestamp(session_id::bigint)
		secs, err := strconv.ParseInt(sid, 10, 64)
		if err != nil || timestamppb.New(time.Unix(secs, 0)).CheckValid() != nil {
			return invalid("status.session_id %q is not the unix seconds of a stream start", sid)
		}
	}
	return nil
}

// DecodeMoment decodes a record of a moments topic as the projector does, with its checks (the
// alert role reads the same topic and must accept exactly the moments that become rows); the
// error says why a record is rejected.
func DecodeMoment(key, value []byte) (*pb.Moment, error) {
	m, rej := decodeMoment(key, value)
	if rej != nil {
		return nil, rej
	}
	return m, nil
}

// decodeMoment decodes a record of a moments topic and checks that it can become a row.
func decodeMoment(key, value []byte) (*pb.Moment, *rejection) {
	m := new(pb.Moment)
	if err := proto.Unmarshal(value, m); err != nil {
		return nil, &rejection{kafka.ReasonUndecodable, "not a Moment: " + err.Error()}
	}
	if r := checkMoment(key, m); r != nil {
		return nil, r
	}
	return m, nil
}

// checkMoment: channel and id are the row's key, kind and at are NOT NULL and what the API
// lists moments by.
func checkMoment(key []byte, m *pb.Moment) *rejection {
	switch {
	case m.GetChannel() == "":
		return missing("channel")
	case m.GetId() == "":
		return missing("id")
	case m.GetAt() == nil:
		return missing("at")
	}
	if _, known := pb.MomentKind_name[int32(m.GetKind())]; !known || m.GetKind() == pb.MomentKind_MOMENT_KIND_UNSPECIFIED {
		return &rejection{kafka.ReasonUnknownKind, fmt.Sprintf("kind %d (%s)", m.GetKind(), m.GetKind())}
	}
	if r := checkKey(key, m.GetChannel()); r != nil {
		return r
	}
	if r := checkTimestamps(stamp{"at", m.GetAt()}, stamp{"window_start", m.GetWindowStart()},
		stamp{"window_end", m.GetWindowEnd()}, stamp{"emitted_at", m.GetEmittedAt()}); r != nil {
		return r
	}
	return checkTexts(text{"channel", m.GetChannel()}, text{"id", m.GetId()},
		text{"description", m.GetDescription()}, text{"raid.from_channel", m.GetRaid().GetFromChannel()})
}

func checkKey(key []byte, channel string) *rejection {
	if string(key) != channel {
		return &rejection{kafka.ReasonKeyMismatch, fmt.Sprintf("record key %q is not the channel %q", key, channel)}
	}
	return nil
}

// stamp and text are a record's values with their names, for the rejection's detail.
type (
	stamp struct {
		name  string
		value *timestamppb.Timestamp
	}
	text struct{ name, value string }
)

// checkTimestamps checks the set ones (nil is NULL) against timestamppb's range (years 1 to
// 9999), which timestamptz covers.
func checkTimestamps(fields ...stamp) *rejection {
	for _, f := range fields {
		if f.value != nil {
			if err := f.value.CheckValid(); err != nil {
				return invalid("%s: %v", f.name, err)
			}
		}
	}
	return nil
}

// checkTexts: PostgreSQL's text and jsonb cannot hold NUL. Invalid UTF-8 does not get this far:
// protobuf refuses it in string fields when decoding.
func checkTexts(fields ...text) *rejection {
	for _, f := range fields {
		if strings.IndexByte(f.value, 0) >= 0 {
			return invalid("%s contains a NUL character", f.name)
		}
	}
	return nil
}

// decodedBatch is one poll's records sorted into what becomes rows and what is rejected. The
// offsets of all of them are committed: a rejected record is consumed too, its copy is in the
// dead-letter topic by then.
type decodedBatch struct {
	records    []*kgo.Record
	aggregates []*pb.WindowAggregate
	moments    []*pb.Moment
	rejected   []rejectedRecord
}

type rejectedRecord struct {
	record *kgo.Record
	*rejection
}

// decodeBatch decodes and checks the records of out's aggregates and moments topics; records
// of other topics only have their offsets committed.
func decodeBatch(out kafka.Outputs, records []*kgo.Record) decodedBatch {
	b := decodedBatch{records: records}
	for _, r := range records {
		switch r.Topic {
		case out.Aggregates:
			a, rej := decodeAggregate(r.Key, r.Value)
			if rej != nil {
				b.rejected = append(b.rejected, rejectedRecord{r, rej})
				continue
			}
			b.aggregates = append(b.aggregates, a)
		case out.Moments:
			m, rej := decodeMoment(r.Key, r.Value)
			if rej != nil {
				b.rejected = append(b.rejected, rejectedRecord{r, rej})
				continue
			}
			b.moments = append(b.moments, m)
		}
	}
	return b
}

// deadLetterRecord is a rejected record's copy in the dead-letter topic: the original key and
// value, with the processor DLQ's headers saying where it was read and why it was rejected.
func deadLetterRecord(topic string, r rejectedRecord) *kgo.Record {
	src := r.record
	return &kgo.Record{Topic: topic, Key: src.Key, Value: src.Value, Headers: []kgo.RecordHeader{
		{Key: kafka.HeaderSourceTopic, Value: []byte(src.Topic)},
		{Key: kafka.HeaderSourcePartition, Value: []byte(strconv.Itoa(int(src.Partition)))},
		{Key: kafka.HeaderSourceOffset, Value: []byte(strconv.FormatInt(src.Offset, 10))},
		{Key: kafka.HeaderReason, Value: []byte(r.reason)},
		{Key: kafka.HeaderError, Value: []byte(r.detail)},
	}}
}
