package kafka

import (
	"hash/fnv"

	"github.com/twmb/franz-go/pkg/kgo"
)

// PartitionForKey maps a key to a partition exactly like goka's default hasher (and Sarama's
// hash partitioner): FNV-1a 32, as a signed int32, made non-negative, modulo the partition count.
// Every producer of Telemetra's input topics must use it: goka reads a channel's events and
// writes its table row on the same partition number, and a goka View finds the row by this hash.
func PartitionForKey(key []byte, partitions int) int {
	h := fnv.New32a()
	_, _ = h.Write(key)
	p := int32(h.Sum32())
	if p < 0 {
		p = -p
	}
	part := int(p % int32(partitions))
	if part < 0 { // only for MinInt32, whose negation overflows
		part = -part
	}
	return part
}

// GokaPartitioner is a franz-go partitioner that agrees with PartitionForKey.
func GokaPartitioner() kgo.Partitioner {
	return kgo.BasicConsistentPartitioner(func(string) func(*kgo.Record, int) int {
		return func(r *kgo.Record, n int) int { return PartitionForKey(r.Key, n) }
	})
}

// KeyPerPartition returns, for each of partitions, the first of name(0), name(1), … that
// PartitionForKey puts on it: a key to address one partition through the key partitioner
// (a partition's arrival clock in the processor's table, and the markers written to it).
func KeyPerPartition(partitions int, name func(n int) string) []string {
	keys := make([]string, partitions)
	found := 0
	for n := 0; found < partitions; n++ {
		key := name(n)
		if p := PartitionForKey([]byte(key), partitions); keys[p] == "" {
			keys[p] = key
			found++
		}
	}
	return keys
}
