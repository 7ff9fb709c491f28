// Package table is the contract of the processor's goka group table: its name, the encoding of
// its values, its reserved keys and the client settings to reach it with. The writer (the goka
// group in processors/aggregator) and the readers (the gateway's live view, `telemetra tail`,
// `telemetra topics`) import this package, so readers need none of the processor itself.
//
//   - Name: the group of generation g is Group(g) ("telemetra-windows", "telemetra-windows-g2",
//     ...); its table is the compacted topic goka.GroupTable(Group(g)), partitioned like the
//     input topics (TopicSpec), so a channel's state sits on its events' partition.
//   - Values: under a channel's name, the channel's telemetra.v1.ChannelState in protobuf binary
//     (Codec). Only the processor writes them, every sweep; readers follow the topic.
//   - Reserved keys: under "~clock-N" keys (IsClockKey), a partition's telemetra.v1.PartitionClock
//     in protobuf binary, kept beside that partition's states. '~' is no valid channel
//     character, so no channel collides; readers of channel states skip these keys.
//   - Reading a state: an open window holds what it accumulated, not the record it will be.
//     Preview shows the newest one as a provisional record would; the processor's window engine
//     emits its records with the same functions (Derive, StatusBefore, AdvanceStatus,
//     ApplyStatusEvent), so a live read and the emitted records agree.
package table

import (
	"fmt"

	"github.com/lovoo/goka"

	"github.com/telemetra/telemetra/internal/kafka"
)

// DefaultGroup is generation 1's goka group; its table topic is "<group>-table".
const DefaultGroup goka.Group = "telemetra-windows"

// Group names the goka group of a processor generation: a new generation reprocesses the input
// topics from the start into a state table and output topics of its own.
func Group(generation int) goka.Group {
	if generation <= 1 {
		return DefaultGroup
	}
	return goka.Group(fmt.Sprintf("%s-g%d", DefaultGroup, generation))
}

// Name is the table topic of a processor generation.
func Name(generation int) goka.Table { return goka.GroupTable(Group(generation)) }

// TopicSpec is the table topic of group: compacted, with the input topics' partition count
// (goka recovers a partition's states from the table partition of the same number).
func TopicSpec(group goka.Group, partitions int32) kafka.TopicSpec {
	return kafka.TopicSpec{Name: string(goka.GroupTable(group)), Partitions: partitions, Compacted: true}
}
