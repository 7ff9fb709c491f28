package kafka

// Record headers Telemetra writes. A record the processor dead-letters (TopicDLQ), judges late
// (TopicLate) or the projector rejects (TopicProjectorDLQ) is copied with its original key and
// value and the source and reason headers: where it was read and why it was set aside. Header
// names and reasons are wire contract, read by operators and their tools; docs/processors.md
// lists them (TestDocsListTheHeadersAndReasons keeps that list exact).
const (
	// HeaderSourceTopic is the topic the copied record was read from.
	HeaderSourceTopic = "telemetra-source-topic"
	// HeaderSourcePartition is the copied record's partition, in decimal.
	HeaderSourcePartition = "telemetra-source-partition"
	// HeaderSourceOffset is the copied record's offset, in decimal.
	HeaderSourceOffset = "telemetra-source-offset"
	// HeaderReason says why the record was set aside: one of the Reason constants.
	HeaderReason = "telemetra-reason"
	// HeaderError is the detail, for a person: the field, the time gap, the partition it belongs on.
	HeaderError = "telemetra-error"
	// HeaderMarker marks a record of an input topic that carries no event, only its Kafka
	// timestamp: a marker the processor writes into a quiet input (see eventtime.MarkerPolicy),
	// or one a simulated run of the producer writes into the partitions it left quiet
	// (producer.RunConfig.MarkEvery). Its value is "1" (MarkerRecord).
	HeaderMarker = "telemetra-marker"
)

// Reasons the processor dead-letters an input event (TopicDLQ).
const (
	// ReasonInvalidEvent: not JSON, or it does not match the topic's schema.
	ReasonInvalidEvent = "invalid_event"
	// ReasonKeyMismatch: the record key is not the record's channel. Both the processor (input
	// events) and the projector (its aggregates and moments, which the processor keys by
	// channel) refuse such records.
	ReasonKeyMismatch = "key_mismatch"
	// ReasonWrongPartition: the record is not on the partition goka's hash gives its key.
	ReasonWrongPartition = "wrong_partition"
	// ReasonFutureTimestamp: the event's timestamp is too far after the record's arrival.
	ReasonFutureTimestamp = "future_timestamp"
	// ReasonPastTimestamp: the event's timestamp is too far before the record's arrival.
	ReasonPastTimestamp = "past_timestamp"
	// ReasonUnknownTopic: the processor reads a topic it has no schema for.
	ReasonUnknownTopic = "unknown_topic"
)

// ReasonLate is the reason of an event copied to TopicLate: it arrived after its window had
// stopped taking events.
const ReasonLate = "late"

// Reasons the projector rejects a record of the aggregates or moments topic
// (TopicProjectorDLQ); ReasonKeyMismatch is one too. They are also the reason label of
// telemetra_projector_records_rejected_total.
const (
	// ReasonUndecodable: the value is not protobuf of the topic's message type.
	ReasonUndecodable = "undecodable"
	// ReasonMissingField: it decodes (protobuf decodes most bytes into a message of empty
	// fields), but a field the processor always sets and a row needs is empty.
	ReasonMissingField = "missing_field"
	// ReasonUnknownKind: a moment whose kind is unspecified or not one this build knows.
	ReasonUnknownKind = "unknown_kind"
	// ReasonInvalidField: a value PostgreSQL would refuse (a NUL in text, a timestamp out of
	// range, a session id that is not unix seconds). It would fail its batch on every retry and
	// stop the projection behind it.
	ReasonInvalidField = "invalid_field"
)
