package aggregator

import (
	"strconv"
	"strings"

	"github.com/telemetra/telemetra/internal/kafka"
)

// clockKeyPrefix starts the group-table keys under which the partitions' arrival clocks are
// stored. '~' is no valid channel character (schemas), so no channel can collide.
const clockKeyPrefix = "~clock-"

// IsClockKey reports a group-table key that holds a partition's arrival clock, not a channel.
// Whatever reads the table as channels (the gateway's live view, tools) skips these keys.
func IsClockKey(key string) bool { return strings.HasPrefix(key, clockKeyPrefix) }

// clockKeys are, per partition, the key of the partition's clock: the first "~clock-N" that
// goka's hash puts on that partition, so goka recovers it with the partition and finds it by
// key (Processor.Get), and markers written with it as their key are on their own partition.
type clockKeys []string

func newClockKeys(partitions int) clockKeys {
	keys := make(clockKeys, partitions)
	found := 0
	for n := 0; found < partitions; n++ {
		key := clockKeyPrefix + strconv.Itoa(n)
		if p := kafka.PartitionForKey([]byte(key), partitions); keys[p] == "" {
			keys[p] = key
			found++
		}
	}
	return keys
}

func (k clockKeys) key(partition int32) string { return k[partition] }
