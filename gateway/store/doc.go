// Package store reads Telemetra's PostgreSQL projection (migrations/: window_aggregates,
// moments, channels, stream_sessions) for the API: window metrics at several resolutions,
// moments, stream sessions, channel summaries. It only reads; views/projector writes.
//
// # Roll-ups
//
// ListWindowMetrics at a resolution coarser than the processor's windows merges the windows
// whose window_start falls into one bucket. Buckets are 5 minutes, 15 minutes, 1 hour or 1 day,
// aligned to UTC (date_bin from 2000-01-01T00:00:00Z, so days start at 00:00 UTC); at
// RESOLUTION_ONE_MINUTE (and UNSPECIFIED) every processor window is its own bucket. A bucket
// is returned when its start is in [Start, End) and after the cursor; buckets without any
// window are omitted; buckets come oldest first. Within a bucket:
//
//   - Sums add: events, late_events, chat messages, emote uses, sentiment score sum and
//     scored/positive/negative/neutral counts, first-time chatters and their messages, viewer
//     samples, viewer_sum, chatter_sum, and every transaction count and amount in cents
//     (revenue and transactions included).
//   - Viewer and chatter min is the minimum, max the maximum, last the value of the latest
//     window, all over the windows that have viewer samples (a window without samples says
//     nothing about viewers, so its zeros are not readings).
//   - Averages are weighted by samples: viewers avg = sum(viewer_sum) / sum(samples),
//     chatters_avg = sum(chatter_sum) / sum(samples), sentiment average =
//     sum(score_sum) / sum(scored_messages); 0 without samples.
//   - unique_chatters is the estimate of the HyperLogLog union of the windows' chatter
//     sketches, clamped to [largest window's count, sum of the windows' counts] (bounds the
//     union must respect; a one-window bucket thus reports the window's exact count).
//     messages_per_chatter = messages / unique_chatters (0 without chatters);
//     messages_per_minute = messages / the bucket's length in minutes, and
//     first_time_messages_per_minute likewise.
//   - top_emotes: the windows' top-emote counts summed per emote, then the 10 most used by
//     count descending, emote ascending. A window keeps only its own top 10, so emotes that
//     never made a window's list are under-counted.
//   - final is true when every window in the bucket is final; version is the highest window
//     version; windows is the number of windows merged; live is the latest window's.
//   - resolution is the requested one (ONE_MINUTE when unspecified).
//
// By default only buckets whose windows are all final are returned (a bucket with a
// provisional window would change, so it is left out whole rather than returned incomplete);
// IncludeProvisional returns them too, marked final = false.
//
// SummarizeChannel merges the final windows with window_start in [Start, End) the same way
// (messages_per_minute over the whole range), with top emotes limited to TopEmotes.
//
// All SQL is built once from constant text and the tables' definition (internal/projection:
// column names and each column's roll-up rule), plus the schema-qualified table names
// (pgx.Identifier.Sanitize); every value is a parameter.
package store
