// Package projector writes the processors' output (telemetra.aggregates, telemetra.moments)
// into PostgreSQL: idempotent upserts, newer versions only, and the consumed offsets stored in
// the same transaction as the rows, so it resumes exactly where the database says it is.
package projector

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/telemetra/telemetra/internal/projection"
	pb "github.com/telemetra/telemetra/proto/telemetra/v1"
)

// upsert is an upsert built from a table's definition (internal/projection) with, for each
// column it takes a value for, how that value is taken from a record R. It writes one row
// (queue) or many in one statement: COPY into the table's staging table (stage), then one
// upsert from it (queueStaged), which is what a batch does.
type upsert[R any] struct {
	table   projection.Table
	sql     string // one row, from parameters
	staged  string // every staged row
	columns []string
	values  []func(R) any // the statement's parameters and the staged columns, in order
}

// newUpsert pairs the table's Content columns with values by name, so a column and what fills
// it cannot drift apart by position; where is appended to the statement (an empty one updates
// every conflicting row). A column without a value, or a value without a column, is a mistake in
// this package: it panics when the package loads, so any of its tests finds it.
func newUpsert[R any](t projection.Table, alias, where string, values map[string]func(R) any) upsert[R] {
	content := t.Content()
	columns := make([]string, len(content))
	for i, c := range content {
		columns[i] = c.Name
	}
	return upsert[R]{table: t, sql: t.Upsert(alias) + where, staged: t.UpsertFromStage(alias) + where,
		columns: columns, values: inOrder(t.Name, content, values)}
}

func (u upsert[R]) args(r R) []any {
	args := make([]any, len(u.values))
	for i, v := range u.values {
		args[i] = v(r)
	}
	return args
}

func (u upsert[R]) queue(b *pgx.Batch, r R) { b.Queue(u.sql, u.args(r)...) }

// stage copies rows into the table's staging table in tx (created by createStages); their keys
// must be distinct.
func (u upsert[R]) stage(ctx context.Context, tx pgx.Tx, rows []R) error {
	if len(rows) == 0 {
		return nil
	}
	_, err := tx.CopyFrom(ctx, pgx.Identifier{"pg_temp", u.table.Stage()}, u.columns,
		pgx.CopyFromSlice(len(rows), func(i int) ([]any, error) { return u.args(rows[i]), nil }))
	if err != nil {
		return fmt.Errorf("copy %d rows into %s: %w", len(rows), u.table.Stage(), err)
	}
	return nil
}

// queueStaged queues the upsert of the staged rows, if there are any.
func (u upsert[R]) queueStaged(b *pgx.Batch, rows int) {
	if rows > 0 {
		b.Queue(u.staged)
	}
}

// inOrder returns byName's entries in the order of cols, panicking unless byName has exactly
// one entry per column (see newUpsert).
func inOrder[V any](table string, cols []projection.Column, byName map[string]V) []V {
	out := make([]V, 0, len(cols))
	for _, c := range cols {
		v, ok := byName[c.Name]
		if !ok {
			panic(fmt.Sprintf("projector: nothing fills column %s.%s", table, c.Name))
		}
		out = append(out, v)
	}
	if len(byName) != len(cols) {
		named := map[string]bool{}
		for _, c := range cols {
			named[c.Name] = true
		}
		for name := range byName {
			if !named[name] {
				panic(fmt.Sprintf("projector: %s has no column %s to fill", table, name))
			}
		}
	}
	return out
}

// aggregate shortens the value functions below.
type aggregate = *pb.WindowAggregate

// windowUpsert replaces a window's row only with a better record: a final over a provisional
// one, else a higher version of the same finality. An older or provisional record arriving
// late (a replay, a re-emit after a crash) changes nothing.
var windowUpsert = newUpsert(projection.WindowAggregates(), "w", `
WHERE (excluded.final AND NOT w.final) OR (excluded.final = w.final AND excluded.version > w.version)`,
	map[string]func(aggregate) any{
		"channel":      func(a aggregate) any { return a.GetChannel() },
		"window_start": func(a aggregate) any { return a.GetWindowStart().AsTime() },
		"window_end":   func(a aggregate) any { return a.GetWindowEnd().AsTime() },
		"final":        func(a aggregate) any { return a.GetFinal() },
		"version":      func(a aggregate) any { return int64(a.GetVersion()) },
		"events":       func(a aggregate) any { return a.GetEvents() },
		"late_events":  func(a aggregate) any { return a.GetLateEvents() },

		"chat_messages":        func(a aggregate) any { return a.GetChat().GetMessages() },
		"unique_chatters":      func(a aggregate) any { return a.GetChat().GetUniqueChatters() },
		"messages_per_chatter": func(a aggregate) any { return a.GetChat().GetMessagesPerChatter() },
		"emote_uses":           func(a aggregate) any { return a.GetChat().GetEmoteUses() },
		// pgx encodes it as JSON for the jsonb column
		"top_emotes":         func(a aggregate) any { return topEmotes(a.GetChat().GetTopEmotes()) },
		"chatters_sketch":    func(a aggregate) any { return a.GetChat().GetChattersSketch() },
		"sentiment_sum":      func(a aggregate) any { return a.GetChat().GetSentiment().GetScoreSum() },
		"sentiment_scored":   func(a aggregate) any { return a.GetChat().GetSentiment().GetScoredMessages() },
		"sentiment_positive": func(a aggregate) any { return a.GetChat().GetSentiment().GetPositive() },
		"sentiment_negative": func(a aggregate) any { return a.GetChat().GetSentiment().GetNegative() },
		"sentiment_neutral":  func(a aggregate) any { return a.GetChat().GetSentiment().GetNeutral() },

		"first_time_chatters": func(a aggregate) any { return a.GetChat().GetFirstTimeChatters() },
		"first_time_messages": func(a aggregate) any { return a.GetChat().GetFirstTimeMessages() },
		"session_ended_at":    func(a aggregate) any { return timeOrNil(a.GetStatus().GetEndedAt()) },

		"viewer_samples": func(a aggregate) any { return a.GetViewers().GetSamples() },
		"viewer_sum":     func(a aggregate) any { return a.GetViewers().GetViewerSum() },
		"viewers_min":    func(a aggregate) any { return a.GetViewers().GetMin() },
		"viewers_max":    func(a aggregate) any { return a.GetViewers().GetMax() },
		"viewers_last":   func(a aggregate) any { return a.GetViewers().GetLast() },
		"chatter_sum":    func(a aggregate) any { return a.GetViewers().GetChatterSum() },
		"chatters_max":   func(a aggregate) any { return a.GetViewers().GetChattersMax() },
		"chatters_last":  func(a aggregate) any { return a.GetViewers().GetChattersLast() },

		"donations":          func(a aggregate) any { return a.GetTransactions().GetDonations().GetCount() },
		"donation_cents":     func(a aggregate) any { return a.GetTransactions().GetDonations().GetAmountCents() },
		"subscriptions":      func(a aggregate) any { return a.GetTransactions().GetSubscriptions().GetCount() },
		"sub_tier1":          func(a aggregate) any { return a.GetTransactions().GetSubscriptions().GetTier1() },
		"sub_tier2":          func(a aggregate) any { return a.GetTransactions().GetSubscriptions().GetTier2() },
		"sub_tier3":          func(a aggregate) any { return a.GetTransactions().GetSubscriptions().GetTier3() },
		"subscription_cents": func(a aggregate) any { return a.GetTransactions().GetSubscriptions().GetAmountCents() },
		"bits_count":         func(a aggregate) any { return a.GetTransactions().GetBits().GetCount() },
		"bits":               func(a aggregate) any { return a.GetTransactions().GetBits().GetBits() },
		"bits_cents":         func(a aggregate) any { return a.GetTransactions().GetBits().GetAmountCents() },
		"gift_subs":          func(a aggregate) any { return a.GetTransactions().GetGiftSubs().GetCount() },
		"gifted":             func(a aggregate) any { return a.GetTransactions().GetGiftSubs().GetGifted() },
		"gift_sub_cents":     func(a aggregate) any { return a.GetTransactions().GetGiftSubs().GetAmountCents() },
		"transactions":       func(a aggregate) any { return a.GetTransactions().GetTransactions() },
		"revenue_cents":      func(a aggregate) any { return a.GetTransactions().GetRevenueCents() },

		"live":             func(a aggregate) any { return a.GetStatus().GetLive() },
		"title":            func(a aggregate) any { return a.GetStatus().GetTitle() },
		"category":         func(a aggregate) any { return a.GetStatus().GetCategory() },
		"session_id":       func(a aggregate) any { return a.GetStatus().GetSessionId() },
		"first_event_time": func(a aggregate) any { return timeOrNil(a.GetFirstEventTime()) },
		"last_event_time":  func(a aggregate) any { return timeOrNil(a.GetLastEventTime()) },
		"emitted_at":       func(a aggregate) any { return timeOrNil(a.GetEmittedAt()) },
	})

// upsertLateCorrection raises a window's late count (WindowAggregate.late_correction), or starts
// a final row with only that count when the window has none (it had late events only). It
// touches nothing else: a correction carries no other counters. GREATEST makes a redelivered
// correction a no-op.
var upsertLateCorrection = `
INSERT INTO window_aggregates AS w (channel, window_start, window_end, final, version, late_events, emitted_at, projected_at)
VALUES ($1, $2, $3, true, $4, $5, $6, now())
ON CONFLICT (channel, window_start) DO UPDATE SET
    late_events = GREATEST(w.late_events, excluded.late_events), projected_at = now()
WHERE excluded.late_events > w.late_events`

func queueLateCorrection(b *pgx.Batch, a *pb.WindowAggregate) {
	b.Queue(upsertLateCorrection, a.GetChannel(), a.GetWindowStart().AsTime(), a.GetWindowEnd().AsTime(),
		int64(a.GetVersion()), a.GetLateEvents(), timeOrNil(a.GetEmittedAt()))
}

type emoteJSON struct {
	Emote string `json:"emote"`
	Count int64  `json:"count"`
}

func topEmotes(in []*pb.EmoteCount) []emoteJSON {
	out := make([]emoteJSON, 0, len(in))
	for _, e := range in {
		out = append(out, emoteJSON{e.GetEmote(), e.GetCount()})
	}
	return out
}

// channelUpsert moves a channel's row forward to the status of a newer window's latest event.
var channelUpsert = newUpsert(projection.Channels(), "c", `
WHERE c.last_seen IS NULL OR excluded.last_seen >= c.last_seen`,
	map[string]func(aggregate) any{
		"channel":    func(a aggregate) any { return a.GetChannel() },
		"live":       func(a aggregate) any { return a.GetStatus().GetLive() },
		"title":      func(a aggregate) any { return a.GetStatus().GetTitle() },
		"category":   func(a aggregate) any { return a.GetStatus().GetCategory() },
		"started_at": func(a aggregate) any { return timeOrNil(a.GetStatus().GetStartedAt()) },
		"ended_at":   func(a aggregate) any { return timeOrNil(a.GetStatus().GetEndedAt()) },
		"viewers":    func(a aggregate) any { return a.GetStatus().GetViewers() },
		"chatters":   func(a aggregate) any { return a.GetStatus().GetChatters() },
		"last_seen":  func(a aggregate) any { return timeOrNil(a.GetLastEventTime()) },
	})

// momentUpsert: moments are immutable facts with stable ids; a repeat rewrites the same row.
var momentUpsert = newUpsert(projection.Moments(), "m", "", map[string]func(*pb.Moment) any{
	"channel":         func(m *pb.Moment) any { return m.GetChannel() },
	"id":              func(m *pb.Moment) any { return m.GetId() },
	"kind":            func(m *pb.Moment) any { return projection.MomentKindName(m.GetKind()) },
	"at":              func(m *pb.Moment) any { return m.GetAt().AsTime() },
	"window_start":    func(m *pb.Moment) any { return timeOrNil(m.GetWindowStart()) },
	"window_end":      func(m *pb.Moment) any { return timeOrNil(m.GetWindowEnd()) },
	"value":           func(m *pb.Moment) any { return m.GetValue() },
	"baseline_mean":   func(m *pb.Moment) any { return m.GetBaselineMean() },
	"baseline_stddev": func(m *pb.Moment) any { return m.GetBaselineStddev() },
	"z_score":         func(m *pb.Moment) any { return m.GetZScore() },
	"description":     func(m *pb.Moment) any { return m.GetDescription() },
	// a raid's columns only for raids: NULL otherwise
	"raid_from": func(m *pb.Moment) any {
		if r := m.GetRaid(); r != nil {
			return r.GetFromChannel()
		}
		return nil
	},
	"raid_viewers": func(m *pb.Moment) any {
		if r := m.GetRaid(); r != nil {
			return r.GetViewers()
		}
		return nil
	},
	"emitted_at": func(m *pb.Moment) any { return timeOrNil(m.GetEmittedAt()) },
})

// The sessions a batch refreshes: $1 channels, $2 their session ids (arrays of the same length,
// each pair once).
const batchSessions = `unnest($1::text[], $2::text[]) AS k(channel, session_id)`

// openSessionsBefore are, for each of the batch's sessions, its channel's latest earlier session
// that has no end yet (through stream_sessions_channel_started_idx). Refreshed after the batch's
// own, such a session ends at the next one's start when its windows never saw its end: whether
// the next session came in the same batch (a replay) or a later one (live), the session ends
// alike.
const openSessionsBefore = `(SELECT DISTINCT p.channel, p.session_id FROM unnest($1::text[], $2::text[]) AS b(channel, session_id)
CROSS JOIN LATERAL (SELECT o.channel, o.session_id FROM stream_sessions o
    WHERE o.channel = b.channel AND o.started_at < to_timestamp(b.session_id::bigint)
    ORDER BY o.started_at DESC LIMIT 1) AS p
JOIN stream_sessions e ON e.channel = p.channel AND e.session_id = p.session_id AND e.ended_at IS NULL) AS k`

// refreshSessions recomputes the batch's stream sessions' summaries from their windows;
// refreshOpenSessionsBefore then the open sessions before them (openSessionsBefore).
var refreshSessions, refreshOpenSessionsBefore = refreshSessionsOf(batchSessions), refreshSessionsOf(openSessionsBefore)

// refreshSessionsOf is the statement that recomputes the summaries of the sessions keys lists
// (a FROM item named k with columns channel and session_id).
func refreshSessionsOf(keys string) string {
	sessions := projection.StreamSessions()
	started := `to_timestamp(w.session_id::bigint)`
	// The session's end: the stream_end its windows saw; else the channel's end if the channel's
	// latest session is this one (rows projected before 0006); else, once a later session's
	// window follows, that session's start (its stream_start came in the same window as this
	// one's stream_end, or the end was never seen; refreshOpenSessionsBefore).
	ended := `coalesce(max(w.session_ended_at),
        (SELECT ended_at FROM channels c WHERE c.channel = w.channel AND c.started_at = ` + started + `),
        (SELECT to_timestamp(o.session_id::bigint) FROM window_aggregates o
         WHERE o.channel = w.channel AND o.window_start > max(w.window_start)
           AND o.session_id <> '' AND o.session_id <> w.session_id
         ORDER BY o.window_start LIMIT 1))`
	// one summary per session, each from its own windows (window_aggregates_session_idx):
	// joining the batch's sessions to the table in one go reads and sorts the whole table
	return `
INSERT INTO stream_sessions AS s (` + projection.List("", sessions.Columns) + `)
SELECT r.* FROM ` + keys + `
CROSS JOIN LATERAL (
SELECT ` + selectList(sessions, map[string]string{
		"channel":        `w.channel`,
		"session_id":     `w.session_id`,
		"started_at":     started,
		"ended_at":       ended,
		"title":          `(array_agg(w.title ORDER BY w.window_start DESC))[1]`,
		"category":       `(array_agg(w.category ORDER BY w.window_start DESC))[1]`,
		"peak_viewers":   `max(w.viewers_max)`,
		"viewer_sum":     `sum(w.viewer_sum)`,
		"viewer_samples": `sum(w.viewer_samples)`,
		"peak_chatters":  `max(w.chatters_max)`,
		"chat_messages":  `sum(w.chat_messages)`,
		"transactions":   `sum(w.transactions)`,
		"revenue_cents":  `sum(w.revenue_cents)`,
		"moments": `(SELECT count(*) FROM moments m WHERE m.channel = w.channel AND m.at >= ` + started + `
            AND m.at <= coalesce(` + ended + `, 'infinity'))`,
	}) + `
FROM window_aggregates w
WHERE w.channel = k.channel AND w.session_id = k.session_id
GROUP BY w.channel, w.session_id) AS r
` + sessions.OnConflictUpdate("s")
}

// selectList is the SELECT list that fills every column of t in order: the Content columns
// with the expressions named after them (paired as in newUpsert), the stamps with now().
func selectList(t projection.Table, byName map[string]string) string {
	content := inOrder(t.Name, t.Content(), byName)
	exprs := make([]string, 0, len(t.Columns))
	for _, c := range t.Columns {
		if c.Stamp {
			exprs = append(exprs, "now()")
			continue
		}
		exprs, content = append(exprs, content[0]), content[1:]
	}
	return strings.Join(exprs, ",\n       ")
}

// sessionsOfWindows lists the sessions that windows (channel and start arrays) belong to.
const sessionsOfWindows = `
SELECT DISTINCT w.channel, w.session_id
FROM window_aggregates w
JOIN unnest($1::text[], $2::timestamptz[]) AS k(channel, window_start)
  ON w.channel = k.channel AND w.window_start = k.window_start
WHERE w.session_id <> ''`

// deleteEmptySessions drops, of the sessions given as refreshSessions takes them, those none of
// whose windows belongs to them any more.
const deleteEmptySessions = `
DELETE FROM stream_sessions s
USING unnest($1::text[], $2::text[]) AS k(channel, session_id)
WHERE s.channel = k.channel AND s.session_id = k.session_id
  AND NOT EXISTS (SELECT 1 FROM window_aggregates w WHERE w.channel = s.channel AND w.session_id = s.session_id)`

// recountSessionMoments counts the moments of each session that was on at one of the moments'
// times ($1 channels, $2 times): moments are projected apart from the windows that refresh
// their session. The sessions are found from the moments, each through the index on
// (channel, started_at), so a batch never reads the whole table.
const recountSessionMoments = `
UPDATE stream_sessions s SET
    moments = (SELECT count(*) FROM moments m
               WHERE m.channel = s.channel AND m.at >= s.started_at AND m.at <= coalesce(s.ended_at, 'infinity')),
    updated_at = now()
FROM (SELECT DISTINCT x.channel, x.session_id
      FROM unnest($1::text[], $2::timestamptz[]) AS k(channel, at)
      CROSS JOIN LATERAL (SELECT o.channel, o.session_id FROM stream_sessions o
                          WHERE o.channel = k.channel AND o.started_at <= k.at
                            AND coalesce(o.ended_at, 'infinity') >= k.at) AS x) AS hit
WHERE s.channel = hit.channel AND s.session_id = hit.session_id`

// offsetRow is the position a batch leaves a consumer at in a topic partition.
type offsetRow struct {
	consumer, topic string
	partition       int32
	next            int64
}

// offsetUpsert records the next offset to read of a partition, in the batch's transaction.
var offsetUpsert = newUpsert(projection.ProjectorOffsets(), "o", "", map[string]func(offsetRow) any{
	"consumer":    func(o offsetRow) any { return o.consumer },
	"topic":       func(o offsetRow) any { return o.topic },
	"partition":   func(o offsetRow) any { return o.partition },
	"next_offset": func(o offsetRow) any { return o.next },
})
