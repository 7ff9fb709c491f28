// Package projector writes the processors' output (telemetra.aggregates, telemetra.moments)
// into PostgreSQL: idempotent upserts, newer versions only, and the consumed offsets stored in
// the same transaction as the rows, so it resumes exactly where the database says it is.
package projector

import (
	"encoding/json"
	"strings"

	"github.com/jackc/pgx/v5"

	pb "github.com/telemetra/telemetra/proto/telemetra/v1"
)

// upsertWindow replaces a window's row only with a better record: a final over a provisional
// one, else a higher version of the same finality. An older or provisional record arriving
// late (a replay, a re-emit after a crash) changes nothing.
var upsertWindow = `
INSERT INTO window_aggregates AS w (
    channel, window_start, window_end, final, version, events, late_events,
    chat_messages, unique_chatters, messages_per_chatter, emote_uses, top_emotes, chatters_sketch,
    sentiment_sum, sentiment_scored, sentiment_positive, sentiment_negative, sentiment_neutral,
    viewer_samples, viewer_sum, viewers_min, viewers_max, viewers_last, chatter_sum, chatters_max, chatters_last,
    donations, donation_cents, subscriptions, sub_tier1, sub_tier2, sub_tier3, subscription_cents,
    bits_count, bits, bits_cents, gift_subs, gifted, gift_sub_cents, transactions, revenue_cents,
    live, title, category, session_id, first_event_time, last_event_time, emitted_at, projected_at)
VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18,$19,$20,$21,$22,$23,$24,$25,$26,
        $27,$28,$29,$30,$31,$32,$33,$34,$35,$36,$37,$38,$39,$40,$41,$42,$43,$44,$45,$46,$47,$48, now())
ON CONFLICT (channel, window_start) DO UPDATE SET ` + windowUpdateSet + `
WHERE (excluded.final AND NOT w.final) OR (excluded.final = w.final AND excluded.version > w.version)`

var windowColumns = []string{
	"window_end", "final", "version", "events", "late_events",
	"chat_messages", "unique_chatters", "messages_per_chatter", "emote_uses", "top_emotes", "chatters_sketch",
	"sentiment_sum", "sentiment_scored", "sentiment_positive", "sentiment_negative", "sentiment_neutral",
	"viewer_samples", "viewer_sum", "viewers_min", "viewers_max", "viewers_last", "chatter_sum", "chatters_max", "chatters_last",
	"donations", "donation_cents", "subscriptions", "sub_tier1", "sub_tier2", "sub_tier3", "subscription_cents",
	"bits_count", "bits", "bits_cents", "gift_subs", "gifted", "gift_sub_cents", "transactions", "revenue_cents",
	"live", "title", "category", "session_id", "first_event_time", "last_event_time", "emitted_at", "projected_at",
}

var windowUpdateSet = func() string {
	set := make([]string, len(windowColumns))
	for k, c := range windowColumns {
		set[k] = c + " = excluded." + c
		if c == "late_events" {
			// a late count only grows: a correction may have raised it past this record's
			set[k] = "late_events = GREATEST(w.late_events, excluded.late_events)"
		}
	}
	return strings.Join(set, ", ")
}()

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

func queueWindow(b *pgx.Batch, a *pb.WindowAggregate) error {
	emotes, err := json.Marshal(topEmotes(a.GetChat().GetTopEmotes()))
	if err != nil {
		return err
	}
	c, v, t, s, st := a.GetChat(), a.GetViewers(), a.GetTransactions(), a.GetChat().GetSentiment(), a.GetStatus()
	b.Queue(upsertWindow,
		a.GetChannel(), a.GetWindowStart().AsTime(), a.GetWindowEnd().AsTime(), a.GetFinal(), int64(a.GetVersion()),
		a.GetEvents(), a.GetLateEvents(),
		c.GetMessages(), c.GetUniqueChatters(), c.GetMessagesPerChatter(), c.GetEmoteUses(), emotes, c.GetChattersSketch(),
		s.GetScoreSum(), s.GetScoredMessages(), s.GetPositive(), s.GetNegative(), s.GetNeutral(),
		v.GetSamples(), v.GetViewerSum(), v.GetMin(), v.GetMax(), v.GetLast(), v.GetChatterSum(), v.GetChattersMax(), v.GetChattersLast(),
		t.GetDonations().GetCount(), t.GetDonations().GetAmountCents(),
		t.GetSubscriptions().GetCount(), t.GetSubscriptions().GetTier1(), t.GetSubscriptions().GetTier2(), t.GetSubscriptions().GetTier3(), t.GetSubscriptions().GetAmountCents(),
		t.GetBits().GetCount(), t.GetBits().GetBits(), t.GetBits().GetAmountCents(),
		t.GetGiftSubs().GetCount(), t.GetGiftSubs().GetGifted(), t.GetGiftSubs().GetAmountCents(),
		t.GetTransactions(), t.GetRevenueCents(),
		st.GetLive(), st.GetTitle(), st.GetCategory(), st.GetSessionId(),
		timeOrNil(a.GetFirstEventTime()), timeOrNil(a.GetLastEventTime()), timeOrNil(a.GetEmittedAt()),
	)
	return nil
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

// upsertChannel moves a channel's row forward to the status of a newer window's latest event.
const upsertChannel = `
INSERT INTO channels AS c (channel, live, title, category, started_at, ended_at, viewers, chatters, last_seen, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, now())
ON CONFLICT (channel) DO UPDATE SET
    live = excluded.live, title = excluded.title, category = excluded.category,
    started_at = excluded.started_at, ended_at = excluded.ended_at,
    viewers = excluded.viewers, chatters = excluded.chatters, last_seen = excluded.last_seen, updated_at = now()
WHERE c.last_seen IS NULL OR excluded.last_seen >= c.last_seen`

func queueChannel(b *pgx.Batch, a *pb.WindowAggregate) {
	st := a.GetStatus()
	b.Queue(upsertChannel, a.GetChannel(), st.GetLive(), st.GetTitle(), st.GetCategory(),
		timeOrNil(st.GetStartedAt()), timeOrNil(st.GetEndedAt()), st.GetViewers(), st.GetChatters(),
		timeOrNil(a.GetLastEventTime()))
}

// upsertMoment: moments are immutable facts with stable ids; a repeat rewrites the same row.
const upsertMoment = `
INSERT INTO moments (channel, id, kind, at, window_start, window_end, value, baseline_mean, baseline_stddev,
                     z_score, description, raid_from, raid_viewers, emitted_at, projected_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, now())
ON CONFLICT (channel, id) DO UPDATE SET
    kind = excluded.kind, at = excluded.at, window_start = excluded.window_start, window_end = excluded.window_end,
    value = excluded.value, baseline_mean = excluded.baseline_mean, baseline_stddev = excluded.baseline_stddev,
    z_score = excluded.z_score, description = excluded.description, raid_from = excluded.raid_from,
    raid_viewers = excluded.raid_viewers, emitted_at = excluded.emitted_at`

func queueMoment(b *pgx.Batch, m *pb.Moment) {
	var raidFrom *string
	var raidViewers *int64
	if r := m.GetRaid(); r != nil {
		from, viewers := r.GetFromChannel(), r.GetViewers()
		raidFrom, raidViewers = &from, &viewers
	}
	b.Queue(upsertMoment, m.GetChannel(), m.GetId(), momentKind(m.GetKind()), m.GetAt().AsTime(),
		timeOrNil(m.GetWindowStart()), timeOrNil(m.GetWindowEnd()), m.GetValue(), m.GetBaselineMean(),
		m.GetBaselineStddev(), m.GetZScore(), m.GetDescription(), raidFrom, raidViewers, timeOrNil(m.GetEmittedAt()))
}

func momentKind(k pb.MomentKind) string {
	return strings.ToLower(strings.TrimPrefix(k.String(), "MOMENT_KIND_"))
}

// refreshSession recomputes a stream session's summary from its final windows.
const refreshSession = `
INSERT INTO stream_sessions AS s (channel, session_id, started_at, ended_at, title, category, peak_viewers,
    viewer_sum, viewer_samples, peak_chatters, chat_messages, transactions, revenue_cents, moments, updated_at)
SELECT w.channel, w.session_id, to_timestamp(w.session_id::bigint),
       (SELECT ended_at FROM channels c WHERE c.channel = w.channel AND c.started_at = to_timestamp(w.session_id::bigint)),
       (array_agg(w.title ORDER BY w.window_start DESC))[1], (array_agg(w.category ORDER BY w.window_start DESC))[1],
       max(w.viewers_max), sum(w.viewer_sum), sum(w.viewer_samples), max(w.chatters_max),
       sum(w.chat_messages), sum(w.transactions), sum(w.revenue_cents),
       (SELECT count(*) FROM moments m WHERE m.channel = w.channel AND m.at >= to_timestamp(w.session_id::bigint)
            AND m.at <= coalesce((SELECT ended_at FROM channels c WHERE c.channel = w.channel AND c.started_at = to_timestamp(w.session_id::bigint)), 'infinity')),
       now()
FROM window_aggregates w
WHERE w.channel = $1 AND w.session_id = $2
GROUP BY w.channel, w.session_id
ON CONFLICT (channel, session_id) DO UPDATE SET
    ended_at = excluded.ended_at, title = excluded.title, category = excluded.category,
    peak_viewers = excluded.peak_viewers, viewer_sum = excluded.viewer_sum, viewer_samples = excluded.viewer_samples,
    peak_chatters = excluded.peak_chatters, chat_messages = excluded.chat_messages,
    transactions = excluded.transactions, revenue_cents = excluded.revenue_cents,
    moments = excluded.moments, updated_at = now()`

// sessionsOfWindows lists the sessions that windows (channel and start arrays) belong to.
const sessionsOfWindows = `
SELECT DISTINCT w.channel, w.session_id
FROM window_aggregates w
JOIN unnest($1::text[], $2::timestamptz[]) AS k(channel, window_start)
  ON w.channel = k.channel AND w.window_start = k.window_start
WHERE w.session_id <> ''`

// deleteEmptySession drops a session none of whose windows belongs to it any more.
const deleteEmptySession = `
DELETE FROM stream_sessions s
WHERE s.channel = $1 AND s.session_id = $2
  AND NOT EXISTS (SELECT 1 FROM window_aggregates w WHERE w.channel = s.channel AND w.session_id = s.session_id)`

// recountSessionMoments counts the moments of the session that was on at a moment's time:
// moments are projected apart from the windows that refresh their session.
const recountSessionMoments = `
UPDATE stream_sessions s SET
    moments = (SELECT count(*) FROM moments m
               WHERE m.channel = s.channel AND m.at >= s.started_at AND m.at <= coalesce(s.ended_at, 'infinity')),
    updated_at = now()
WHERE s.channel = $1 AND s.started_at <= $2 AND coalesce(s.ended_at, 'infinity') >= $2`

// saveOffset records the next offset to read of a partition, in the batch's transaction.
const saveOffset = `
INSERT INTO projector_offsets (consumer, topic, partition, next_offset, updated_at)
VALUES ($1, $2, $3, $4, now())
ON CONFLICT (consumer, topic, partition) DO UPDATE SET next_offset = excluded.next_offset, updated_at = now()`
