package aggregator

import (
	"fmt"

	"google.golang.org/protobuf/proto"

	"github.com/telemetra/telemetra/processors/table"
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

// stateTableCodec is the processor's codec of the group table (table.Codec's encoding). Decode
// does not decode: see Logic.load.
type stateTableCodec struct{}

func (stateTableCodec) Encode(value any) ([]byte, error) {
	if v, ok := value.(storedState); ok {
		return v, nil
	}
	return table.Codec{}.Encode(value) // goka's tester, tools
}

func (stateTableCodec) Decode(data []byte) (any, error) { return storedState(data), nil }

// Codecs of the group's table and outputs.
var (
	aggregateCodec = protoCodec[*pb.WindowAggregate]{newMsg: func() *pb.WindowAggregate { return new(pb.WindowAggregate) }}
	momentCodec    = protoCodec[*pb.Moment]{newMsg: func() *pb.Moment { return new(pb.Moment) }}
)
