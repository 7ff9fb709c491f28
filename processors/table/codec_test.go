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
