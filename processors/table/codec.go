package table

import (
	"fmt"

	"google.golang.org/protobuf/proto"

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
