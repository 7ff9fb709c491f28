package aggregator

import (
	"fmt"

	"google.golang.org/protobuf/proto"

	pb "github.com/telemetra/telemetra/proto/telemetra/v1"
)

// protoCodec is a goka codec for one protobuf message type.
type protoCodec[T proto.Message] struct {
	newMsg func() T
}

func (c protoCodec[T]) Encode(value any) ([]byte, error) {
	m, ok := value.(T)
	if !ok {
		return nil, fmt.Errorf("protobuf codec: got %T, want %T", value, c.newMsg())
	}
	return proto.Marshal(m)
}

func (c protoCodec[T]) Decode(data []byte) (any, error) {
	m := c.newMsg()
	if err := proto.Unmarshal(data, m); err != nil {
		return nil, fmt.Errorf("decode %T: %w", m, err)
	}
	return m, nil
}

// storedState is a table value as bytes: the processor decodes it itself, only for channels it
// does not hold in memory.
type storedState []byte

// stateTableCodec is the group table's codec. Decode does not decode: see Logic.state.
type stateTableCodec struct{}

func (stateTableCodec) Encode(value any) ([]byte, error) {
	switch v := value.(type) {
	case storedState:
		return v, nil
	case *pb.ChannelState: // goka's tester, tools
		return proto.Marshal(v)
	default:
		return nil, fmt.Errorf("state codec: got %T", value)
	}
}

func (stateTableCodec) Decode(data []byte) (any, error) { return storedState(data), nil }

// Codecs of the group's table and outputs.
var (
	aggregateCodec = protoCodec[*pb.WindowAggregate]{newMsg: func() *pb.WindowAggregate { return new(pb.WindowAggregate) }}
	momentCodec    = protoCodec[*pb.Moment]{newMsg: func() *pb.Moment { return new(pb.Moment) }}
)
