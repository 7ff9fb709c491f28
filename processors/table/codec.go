package table

import (
	"fmt"
	"time"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/telemetra/telemetra/proto/telemetra/v1"
)

// Codec is the goka codec of the table's channel values: a *pb.ChannelState in protobuf
// binary. It does not decode the values under clock keys (IsClockKey): those are
// PartitionClocks.
type Codec struct{}

// Encode encodes a *pb.ChannelState.
func (Codec) Encode(value any) ([]byte, error) {
	st, ok := value.(*pb.ChannelState)
	if !ok {
		return nil, fmt.Errorf("state codec: got %T, want *telemetra.v1.ChannelState", value)
	}
	return proto.Marshal(st)
}

// Decode decodes a channel's value into a *pb.ChannelState.
func (Codec) Decode(data []byte) (any, error) { return DecodeState(data) }

// DecodeState decodes a channel's value.
func DecodeState(data []byte) (*pb.ChannelState, error) {
	st := new(pb.ChannelState)
	if err := proto.Unmarshal(data, st); err != nil {
		return nil, fmt.Errorf("decode channel state: %w", err)
	}
	return st, nil
}

// updateTimeField is ChannelState's last_event_processing_time, found by name so that this
// reader follows the message's definition.
var updateTimeField = (&pb.ChannelState{}).ProtoReflect().Descriptor().Fields().ByName("last_event_processing_time").Number()

// StateUpdateTime is the processing time at which a channel's state was last updated
// (last_event_processing_time), read from its encoded value without decoding the rest: a
// reader that follows every update of the table (the gateway's freshness) would otherwise
// decode kilobytes per update. The zero time if the state has none.
func StateUpdateTime(data []byte) (time.Time, error) {
	var at time.Time
	for len(data) > 0 {
		num, typ, n := protowire.ConsumeTag(data)
		if n < 0 {
			return time.Time{}, fmt.Errorf("read channel state's update time: %w", protowire.ParseError(n))
		}
		data = data[n:]
		if num == updateTimeField && typ == protowire.BytesType {
			v, n := protowire.ConsumeBytes(data)
			if n < 0 {
				return time.Time{}, fmt.Errorf("read channel state's update time: %w", protowire.ParseError(n))
			}
			ts := new(timestamppb.Timestamp)
			if err := proto.Unmarshal(v, ts); err != nil {
				return time.Time{}, fmt.Errorf("read channel state's update time: %w", err)
			}
			at = ts.AsTime() // the last occurrence wins, as in proto.Unmarshal
			data = data[n:]
			continue
		}
		n = protowire.ConsumeFieldValue(num, typ, data)
		if n < 0 {
			return time.Time{}, fmt.Errorf("read channel state's update time: %w", protowire.ParseError(n))
		}
		data = data[n:]
	}
	return at, nil
}
