package aggregator

import (
	"github.com/telemetra/telemetra/internal/kafka"
	"github.com/telemetra/telemetra/processors/table"
)

// clockKeys are, per partition, the key of the partition's clock: the first reserved clock key
// (table.ClockKey) that goka's hash puts on that partition, so goka recovers it with the
// partition and finds it by key (Processor.Get), and markers written with it as their key are on
// their own partition.
type clockKeys []string

func newClockKeys(partitions int) clockKeys {
	return kafka.KeyPerPartition(partitions, table.ClockKey)
}

func (k clockKeys) key(partition int32) string { return k[partition] }
