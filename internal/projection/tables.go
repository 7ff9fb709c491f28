package projection

// SQL types as the migrations spell them.
const (
	text        = "text"
	boolean     = "boolean"
	bigint      = "bigint"
	integer     = "integer"
	double      = "double precision"
	timestamptz = "timestamptz"
	jsonb       = "jsonb"
	bytea       = "bytea"
)

// Tables are the tables the projector writes, in the migrations' order. The other tables of a
// projection's schema are metadata: schema_migrations (the migration runner's) and
// projection_info (the generation a schema holds).
func Tables() []Table {
	return []Table{Channels(), WindowAggregates(), Moments(), StreamSessions(), ProjectorOffsets(), ChannelHours()}
}

// Channels has one row per channel: its live status as of its latest event.
func Channels() Table {
	return Table{Name: "channels", Key: []string{"channel"}, Columns: []Column{
		{Name: "channel", Type: text},
		{Name: "live", Type: boolean},
		{Name: "title", Type: text},
		{Name: "category", Type: text},
		{Name: "started_at", Type: timestamptz},
		{Name: "ended_at", Type: timestamptz},
		{Name: "viewers", Type: bigint},
		{Name: "chatters", Type: bigint},
		{Name: "last_seen", Type: timestamptz},
		{Name: "updated_at", Type: timestamptz, Stamp: true},
	}}
}

// WindowAggregates has one row per channel and window: the newest version of the processor's
// WindowAggregate.
func WindowAggregates() Table {
	window := func(r Rule) Rollup { return Rollup{PartWindow, r} }
	chat := func(r Rule) Rollup { return Rollup{PartChat, r} }
	chatters := func(r Rule) Rollup { return Rollup{PartChatters, r} }
	viewers := func(r Rule) Rollup { return Rollup{PartViewers, r} }
	transactions := Rollup{PartTransactions, Sum}
	return Table{Name: "window_aggregates", Key: []string{"channel", "window_start"}, Columns: []Column{
		{Name: "channel", Type: text},
		{Name: "window_start", Type: timestamptz},
		{Name: "window_end", Type: timestamptz},
		{Name: "final", Type: boolean, Rollup: window(All)},
		{Name: "version", Type: bigint, OfGeneration: true, Rollup: window(Max)},
		{Name: "events", Type: bigint, Rollup: window(Sum)},
		// a late count only grows: a correction may have raised it past a record's
		{Name: "late_events", Type: bigint, OnConflict: KeepGreatest, Rollup: window(Sum)},

		{Name: "chat_messages", Type: bigint, Rollup: chat(Sum)},
		{Name: "unique_chatters", Type: bigint, Rollup: chatters(MaxAndSum)},
		{Name: "messages_per_chatter", Type: double},
		{Name: "emote_uses", Type: bigint, Rollup: chat(Sum)},
		{Name: "top_emotes", Type: jsonb, Rollup: chat(Collect)},
		{Name: "chatters_sketch", Type: bytea, Rollup: chatters(Collect)},
		{Name: "sentiment_sum", Type: double, Rollup: chat(Sum)},
		{Name: "sentiment_scored", Type: bigint, Rollup: chat(Sum)},
		{Name: "sentiment_positive", Type: bigint, Rollup: chat(Sum)},
		{Name: "sentiment_negative", Type: bigint, Rollup: chat(Sum)},
		{Name: "sentiment_neutral", Type: bigint, Rollup: chat(Sum)},

		{Name: "viewer_samples", Type: bigint, Rollup: viewers(Sum)},
		{Name: "viewer_sum", Type: bigint, Rollup: viewers(Sum)},
		{Name: "viewers_min", Type: bigint, Rollup: viewers(MinSampled)},
		{Name: "viewers_max", Type: bigint, Rollup: viewers(MaxSampled)},
		{Name: "viewers_last", Type: bigint, Rollup: viewers(LatestSampled)},
		{Name: "chatter_sum", Type: bigint, Rollup: viewers(Sum)},
		{Name: "chatters_max", Type: bigint, Rollup: viewers(MaxSampled)},
		{Name: "chatters_last", Type: bigint, Rollup: viewers(LatestSampled)},

		{Name: "donations", Type: bigint, Rollup: transactions},
		{Name: "donation_cents", Type: bigint, Rollup: transactions},
		{Name: "subscriptions", Type: bigint, Rollup: transactions},
		{Name: "sub_tier1", Type: bigint, Rollup: transactions},
		{Name: "sub_tier2", Type: bigint, Rollup: transactions},
		{Name: "sub_tier3", Type: bigint, Rollup: transactions},
		{Name: "subscription_cents", Type: bigint, Rollup: transactions},
		{Name: "bits_count", Type: bigint, Rollup: transactions},
		{Name: "bits", Type: bigint, Rollup: transactions},
		{Name: "bits_cents", Type: bigint, Rollup: transactions},
		{Name: "gift_subs", Type: bigint, Rollup: transactions},
		{Name: "gifted", Type: bigint, Rollup: transactions},
		{Name: "gift_sub_cents", Type: bigint, Rollup: transactions},
		{Name: "transactions", Type: bigint, Rollup: transactions},
		{Name: "revenue_cents", Type: bigint, Rollup: transactions},

		{Name: "live", Type: boolean, Rollup: window(Latest)},
		{Name: "title", Type: text},
		{Name: "category", Type: text},
		{Name: "session_id", Type: text},
		{Name: "first_event_time", Type: timestamptz},
		{Name: "last_event_time", Type: timestamptz},
		{Name: "emitted_at", Type: timestamptz, OfGeneration: true},
		// when the row's current version was projected
		{Name: "projected_at", Type: timestamptz, Stamp: true},

		// added by 0003_first_time_chatters.sql (ALTER TABLE appends)
		{Name: "first_time_chatters", Type: bigint, Rollup: chat(Sum)},
		{Name: "first_time_messages", Type: bigint, Rollup: chat(Sum)},
		// added by 0006_window_session_end.sql
		{Name: "session_ended_at", Type: timestamptz},
	}}
}

// Moments has one row per moment. Moments are immutable facts with ids derived from their
// input: a repeat rewrites the same row.
func Moments() Table {
	return Table{Name: "moments", Key: []string{"channel", "id"}, Columns: []Column{
		{Name: "channel", Type: text},
		{Name: "id", Type: text},
		{Name: "kind", Type: text},
		{Name: "at", Type: timestamptz},
		{Name: "window_start", Type: timestamptz},
		{Name: "window_end", Type: timestamptz},
		{Name: "value", Type: double},
		{Name: "baseline_mean", Type: double},
		{Name: "baseline_stddev", Type: double},
		{Name: "z_score", Type: double},
		{Name: "description", Type: text},
		{Name: "raid_from", Type: text},
		{Name: "raid_viewers", Type: bigint},
		{Name: "emitted_at", Type: timestamptz, OfGeneration: true},
		// when the moment was first projected
		{Name: "projected_at", Type: timestamptz, Stamp: true, OnConflict: KeepStored},
	}}
}

// StreamSessions has one row per stream session, summarised from its windows.
func StreamSessions() Table {
	return Table{Name: "stream_sessions", Key: []string{"channel", "session_id"}, Columns: []Column{
		{Name: "channel", Type: text},
		{Name: "session_id", Type: text},
		// to_timestamp(session_id): fixed by the key
		{Name: "started_at", Type: timestamptz, OnConflict: KeepStored},
		{Name: "ended_at", Type: timestamptz},
		{Name: "title", Type: text},
		{Name: "category", Type: text},
		{Name: "peak_viewers", Type: bigint},
		{Name: "viewer_sum", Type: bigint},
		{Name: "viewer_samples", Type: bigint},
		{Name: "peak_chatters", Type: bigint},
		{Name: "chat_messages", Type: bigint},
		{Name: "transactions", Type: bigint},
		{Name: "revenue_cents", Type: bigint},
		{Name: "moments", Type: bigint},
		{Name: "updated_at", Type: timestamptz, Stamp: true},
	}}
}

// ProjectorOffsets has the next offset to read of each projected topic partition, per
// consumer, written in the transaction of the rows they produced.
func ProjectorOffsets() Table {
	return Table{Name: "projector_offsets", Key: []string{"consumer", "topic", "partition"}, OfGeneration: true, Columns: []Column{
		{Name: "consumer", Type: text},
		{Name: "topic", Type: text},
		{Name: "partition", Type: integer},
		{Name: "next_offset", Type: bigint},
		{Name: "updated_at", Type: timestamptz, Stamp: true},
	}}
}

// ChannelHours rolls each channel's final windows and moments up by UTC hour, for rankings and
// trending over a range (migrations/0005_channel_hours.sql, refreshed by the projector through
// refresh_channel_hours).
func ChannelHours() Table {
	return Table{Name: "channel_hours", Key: []string{"channel", "hour"}, Columns: []Column{
		{Name: "channel", Type: text},
		{Name: "hour", Type: timestamptz},
		{Name: "windows", Type: bigint},
		{Name: "window_seconds", Type: double},
		{Name: "chat_messages", Type: bigint},
		{Name: "unique_chatters", Type: bigint},
		{Name: "viewer_sum", Type: bigint},
		{Name: "viewer_samples", Type: bigint},
		{Name: "viewer_minutes", Type: double},
		{Name: "revenue_cents", Type: bigint},
		{Name: "sentiment_sum", Type: double},
		{Name: "sentiment_scored", Type: bigint},
		{Name: "moments", Type: bigint},
		{Name: "top_emotes", Type: jsonb},
		{Name: "live", Type: boolean},
		{Name: "title", Type: text},
		{Name: "category", Type: text},
		{Name: "updated_at", Type: timestamptz, Stamp: true},
	}}
}
