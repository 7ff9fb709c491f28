package kafka

import (
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// MarkerRecord is a marker for partition of an input topic: no event, only its timestamp (see
// HeaderMarker). key must be one that PartitionForKey puts on partition (KeyPerPartition), so
// a writer with the key partitioner and one that names partitions put it in the same place.
func MarkerRecord(topic string, partition int32, key string, at time.Time) *kgo.Record {
	return &kgo.Record{Topic: topic, Partition: partition, Key: []byte(key), Value: []byte{}, Timestamp: at,
		Headers: []kgo.RecordHeader{{Key: HeaderMarker, Value: []byte("1")}}}
}

// IsMarker reports a record that is a marker, not an event.
func IsMarker(headers []kgo.RecordHeader) bool {
	for _, h := range headers {
		if h.Key == HeaderMarker {
			return true
		}
	}
	return false
}
