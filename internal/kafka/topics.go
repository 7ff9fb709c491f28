// Package kafka holds Telemetra's Kafka plumbing that every role shares: the topic catalogue,
// the embedded broker used by `telemetra broker` and `telemetra dev`, and topic creation on a
// real cluster.
package kafka

import (
	"fmt"
	"time"
)

// Topic names. The four input topics are the seed's; the rest are Telemetra's own outputs.
// TopicProjectorDLQ is the projector's dead-letter topic: records of the aggregates and moments
// topics that cannot become rows.
const (
	TopicChat         = "telemetra.events.chat"
	TopicViewer       = "telemetra.events.viewer"
	TopicTransactions = "telemetra.events.transactions"
	TopicStreamMeta   = "telemetra.events.stream_meta"

	TopicDLQ        = "telemetra.dlq"
	TopicLate       = "telemetra.late"
	TopicAggregates = "telemetra.aggregates"
	TopicMoments    = "telemetra.moments"

	TopicProjectorDLQ = "telemetra.projector.dlq"
)

// DefaultPartitions is the partition count of every Telemetra topic, as in the seed. All topics
// are keyed by channel, so a channel's events, windows and moments share a partition number.
const DefaultPartitions = 3

// DefaultRetention keeps input and output streams long enough to replay a realistic history:
// goka's own default for streams (1 hour) would make a replay lose data.
const DefaultRetention = 7 * 24 * time.Hour

// TopicSpec describes a topic Telemetra creates up front.
type TopicSpec struct {
	Name       string
	Partitions int32
	// Compacted topics keep the newest record per key (goka group tables).
	Compacted bool
}

// InputTopics are the four event streams the producer writes and the processors read.
func InputTopics() []string {
	return []string{TopicChat, TopicViewer, TopicTransactions, TopicStreamMeta}
}

// AllTopics lists every stream topic Telemetra needs, in a stable order. Group tables are
// created by goka itself.
func AllTopics() []TopicSpec {
	names := append(InputTopics(), TopicDLQ, TopicLate, TopicAggregates, TopicMoments, TopicProjectorDLQ)
	specs := make([]TopicSpec, 0, len(names))
	for _, n := range names {
		specs = append(specs, TopicSpec{Name: n, Partitions: DefaultPartitions})
	}
	return specs
}

// Outputs names the topics one processor generation writes, and the dead-letter topic of the
// projector of that generation's aggregates and moments. Generation 1 writes the plain names; a
// rebuild of the processor state with changed window logic runs as a new generation with its
// own outputs, so its records never mix with the old ones (whose versions would otherwise win
// in the projection).
type Outputs struct {
	Generation                     int
	Aggregates, Moments, DLQ, Late string
	ProjectorDLQ                   string
}

// OutputsFor returns the output topics of a generation (0 counts as 1).
func OutputsFor(generation int) Outputs {
	if generation <= 1 {
		return Outputs{Generation: 1, Aggregates: TopicAggregates, Moments: TopicMoments, DLQ: TopicDLQ, Late: TopicLate,
			ProjectorDLQ: TopicProjectorDLQ}
	}
	suffix := fmt.Sprintf(".g%d", generation)
	return Outputs{Generation: generation, Aggregates: TopicAggregates + suffix, Moments: TopicMoments + suffix,
		DLQ: TopicDLQ + suffix, Late: TopicLate + suffix, ProjectorDLQ: TopicProjectorDLQ + suffix}
}

// Written lists the topics the processors of the generation write, each record to the partition
// of its channel's inputs: they must have the inputs' partition count.
func (o Outputs) Written() []string {
	return []string{o.DLQ, o.Late, o.Aggregates, o.Moments}
}

// Specs lists the output topics for topic creation.
func (o Outputs) Specs() []TopicSpec {
	var specs []TopicSpec
	for _, n := range []string{o.DLQ, o.Late, o.Aggregates, o.Moments, o.ProjectorDLQ} {
		specs = append(specs, TopicSpec{Name: n, Partitions: DefaultPartitions})
	}
	return specs
}
