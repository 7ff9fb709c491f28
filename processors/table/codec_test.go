package table

import (
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/telemetra/telemetra/proto/telemetra/v1"
)

func TestStateUpdateTimeReadsWhatDecodingTheStateWould(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 600_000_000, time.UTC)
	full := &pb.ChannelState{
		Channel: "brave_otter", Watermark: timestamppb.New(at.Add(-time.Minute)), EventsTotal: 42,
		OpenWindows:             []*pb.OpenWindow{{}, {}},
		Status:                  &pb.StreamStatus{Live: true, Title: "speedrun"},
		LastEventProcessingTime: timestamppb.New(at),
		LastMomentAt:            map[string]*timestamppb.Timestamp{"raid": timestamppb.New(at)},
	}
	for _, tc := range []struct {
		name  string
		state *pb.ChannelState
		want  time.Time
	}{
		{"a full state", full, at},
		{"a state without it", &pb.ChannelState{Channel: "quiet", EventsTotal: 1}, time.Time{}},
		{"only it", &pb.ChannelState{LastEventProcessingTime: timestamppb.New(at)}, at},
	} {
		t.Run(tc.name, func(t *testing.T) {
			raw, err := proto.Marshal(tc.state)
			if err != nil {
				t.Fatal(err)
			}
			got, err := StateUpdateTime(raw)
			if err != nil || !got.Equal(tc.want) {
				t.Errorf("StateUpdateTime = %v, %v; want %v", got, err, tc.want)
			}
			decoded, err := DecodeState(raw)
			if err != nil {
				t.Fatal(err)
			}
			if d := decoded.GetLastEventProcessingTime(); d != nil && !d.AsTime().Equal(got) {
				t.Errorf("StateUpdateTime = %v, decoding the state says %v", got, d.AsTime())
			}
		})
	}
	if _, err := StateUpdateTime([]byte{0x42, 0xff}); err == nil {
		t.Error("StateUpdateTime of truncated bytes: no error")
	}
}

// benchState is a busy channel's state: two open windows of 500 chatters and 40 emotes each,
// a few kilobytes encoded, as a view receives it with every flush.
func benchState(b *testing.B) []byte {
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	st := &pb.ChannelState{Channel: "busy_channel", EventsTotal: 1e6, LastEventProcessingTime: timestamppb.New(at),
		Status: &pb.StreamStatus{Live: true, Title: "a long title for a long stream", Viewers: 12345}}
	for w := range 2 {
		ow := &pb.OpenWindow{Aggregate: &pb.WindowAggregate{Channel: "busy_channel", WindowStart: timestamppb.New(at.Add(time.Duration(w) * time.Minute))}}
		for k := range 500 {
			ow.ChatterHashes = append(ow.ChatterHashes, uint64(k)*0x9e3779b97f4a7c15)
		}
		for k := range 40 {
			ow.Emotes = append(ow.Emotes, &pb.EmoteCount{Emote: "emote" + string(rune('a'+k%26)), Count: int64(k)})
		}
		st.OpenWindows = append(st.OpenWindows, ow)
	}
	raw, err := proto.Marshal(st)
	if err != nil {
		b.Fatal(err)
	}
	return raw
}

// BenchmarkStateUpdateTime is what the gateway's view pays per table update for its live
// freshness; BenchmarkDecodeState what decoding the whole state would cost instead.
func BenchmarkStateUpdateTime(b *testing.B) {
	raw := benchState(b)
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := StateUpdateTime(raw); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeState(b *testing.B) {
	raw := benchState(b)
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeState(raw); err != nil {
			b.Fatal(err)
		}
	}
}
