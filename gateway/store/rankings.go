package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	pb "github.com/telemetra/telemetra/proto/telemetra/v1"
)

// Rankings and trending over a range read channel_hours, the hourly roll-up the projector keeps
// (migrations/0005_channel_hours.sql), through its index on hour: a range of H hours groups
// H rows per channel, never the channels' minute windows (60 times as many) nor rows outside
// the range. Ranges are whole UTC hours (HourRange).

// HourRange widens [start, end) to whole UTC hours: what a range ranking covers.
func HourRange(start, end time.Time) (time.Time, time.Time) {
	s := start.UTC().Truncate(time.Hour)
	e := end.UTC().Truncate(time.Hour)
	if e.Before(end) {
		e = e.Add(time.Hour)
	}
	return s, e
}

// RankCursor is where a range ranking's page ended: the last entry's value and channel (the
// order's keyset) and the entries served so far (its rank).
type RankCursor struct {
	Value   float64 `json:"v"`
	Channel string  `json:"c"`
	Offset  int64   `json:"o"`
}

// RankQuery selects a range ranking's page.
type RankQuery struct {
	Metric     pb.RankingMetric
	Start, End time.Time // whole hours (HourRange)
	Category   string    // empty: every category
	Limit      int
	After      *RankCursor
}

// rankFigures are each metric's figure over a channel's hours, as SQL aggregates over
// channel_hours h: the ranking's value and the figures shown beside it use the same
// expressions. Sentiment sums in numeric, so its value does not depend on the order the rows
// come in (integer sums are exact anyway): every page of a ranking computes the same values.
var rankFigures = map[pb.RankingMetric]string{
	pb.RankingMetric_RANKING_METRIC_VIEWERS:         `CASE WHEN sum(h.viewer_samples) > 0 THEN sum(h.viewer_sum)::double precision / sum(h.viewer_samples) ELSE 0 END`,
	pb.RankingMetric_RANKING_METRIC_CHAT_RATE:       `CASE WHEN sum(h.window_seconds) > 0 THEN sum(h.chat_messages) * 60 / sum(h.window_seconds) ELSE 0 END`,
	pb.RankingMetric_RANKING_METRIC_UNIQUE_CHATTERS: `CASE WHEN sum(h.windows) > 0 THEN round(sum(h.unique_chatters)::numeric / sum(h.windows)) ELSE 0 END`,
	pb.RankingMetric_RANKING_METRIC_REVENUE:         `coalesce(sum(h.revenue_cents), 0)`,
	pb.RankingMetric_RANKING_METRIC_SENTIMENT:       `CASE WHEN sum(h.sentiment_scored) > 0 THEN (sum(h.sentiment_sum::numeric) / sum(h.sentiment_scored))::double precision ELSE 0 END`,
	pb.RankingMetric_RANKING_METRIC_MOMENTS:         `coalesce(sum(h.moments), 0)`,
}

// rankSQL ranks the channels with hours in [$1, $2), of category $3 (” for all: a channel
// with an hour in it), after the keyset ($4 value, $5 channel; $6 false for the first page),
// $7 rows, by metric. The grouping over every channel's hours computes the ranked value alone;
// the other figures, and the live flag, title and category of the channel's last window, are
// computed for the page's rows only, each through the primary key.
func rankSQL(hours string, metric pb.RankingMetric) string {
	f := rankFigures
	return `
WITH r AS (
    SELECT h.channel, (` + f[metric] + `)::double precision AS value, bool_or(h.category = $3) AS in_category
    FROM ` + hours + ` h
    WHERE h.hour >= $1 AND h.hour < $2
    GROUP BY h.channel
), ranked AS (
    SELECT r.channel, r.value, count(*) OVER () AS total
    FROM r WHERE $3 = '' OR r.in_category
), page AS (
    SELECT * FROM ranked
    WHERE NOT $6 OR value < $4 OR (value = $4 AND channel > $5)
    ORDER BY value DESC, channel
    LIMIT $7
)
SELECT p.channel, p.value, coalesce(l.live, false), coalesce(l.title, ''), coalesce(l.category, ''),
       fig.viewers, fig.messages_per_minute, fig.unique_chatters, fig.revenue_cents, fig.sentiment, fig.moments, p.total
FROM page p
CROSS JOIN LATERAL (
    SELECT (` + f[pb.RankingMetric_RANKING_METRIC_VIEWERS] + `)::double precision AS viewers,
           (` + f[pb.RankingMetric_RANKING_METRIC_CHAT_RATE] + `)::double precision AS messages_per_minute,
           (` + f[pb.RankingMetric_RANKING_METRIC_UNIQUE_CHATTERS] + `)::bigint AS unique_chatters,
           (` + f[pb.RankingMetric_RANKING_METRIC_REVENUE] + `)::bigint AS revenue_cents,
           (` + f[pb.RankingMetric_RANKING_METRIC_SENTIMENT] + `)::double precision AS sentiment,
           (` + f[pb.RankingMetric_RANKING_METRIC_MOMENTS] + `)::bigint AS moments
    FROM ` + hours + ` h
    WHERE h.channel = p.channel AND h.hour >= $1 AND h.hour < $2
) AS fig
LEFT JOIN LATERAL (
    SELECT l.live, l.title, l.category FROM ` + hours + ` l
    WHERE l.channel = p.channel AND l.hour >= $1 AND l.hour < $2 AND l.windows > 0
    ORDER BY l.hour DESC LIMIT 1
) AS l ON true
ORDER BY p.value DESC, p.channel`
}

// Rank returns a page of the range ranking (at most q.Limit entries, rank numbers from the
// cursor on) and the number of channels ranked.
func (s *Store) Rank(ctx context.Context, q RankQuery) ([]*pb.ChannelRank, int64, error) {
	if _, ok := rankFigures[q.Metric]; !ok {
		return nil, 0, fmt.Errorf("rank: no metric %s", q.Metric)
	}
	after, afterValue, afterChannel, offset := false, 0.0, "", int64(0)
	if q.After != nil {
		after, afterValue, afterChannel, offset = true, q.After.Value, q.After.Channel, q.After.Offset
	}
	rows, err := s.pool.Query(ctx, rankSQL(s.tables.hours, q.Metric), q.Start, q.End, q.Category, afterValue, afterChannel, after, q.Limit)
	if err != nil {
		return nil, 0, fmt.Errorf("rank channels: %w", err)
	}
	defer rows.Close()
	var total int64
	var out []*pb.ChannelRank
	for rows.Next() {
		r := &pb.ChannelRank{}
		if err := rows.Scan(&r.Channel, &r.Value, &r.Live, &r.Title, &r.Category, &r.Viewers, &r.MessagesPerMinute,
			&r.UniqueChatters, &r.RevenueCents, &r.Sentiment, &r.Moments, &total); err != nil {
			return nil, 0, fmt.Errorf("rank channels: %w", err)
		}
		offset++
		r.Rank = offset
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, fmt.Errorf("rank channels: %w", err)
	}
	return out, total, nil
}

// TrendingQuery selects a range's trending emotes and categories.
type TrendingQuery struct {
	Start, End time.Time // whole hours (HourRange); the period before is as long
	Limit      int
}

// trendingEmotesSQL sums the top emotes of the hours in [$1, $3), the current period being
// [$2, $3), $4 rows.
func trendingEmotesSQL(hours string) string {
	return `
SELECT t.emote,
       coalesce(sum(t."count") FILTER (WHERE h.hour >= $2), 0)::bigint AS uses,
       coalesce(sum(t."count") FILTER (WHERE h.hour < $2), 0)::bigint AS previous_uses,
       count(DISTINCT h.channel) FILTER (WHERE h.hour >= $2) AS channels
FROM ` + hours + ` h
CROSS JOIN LATERAL jsonb_to_recordset(h.top_emotes) AS t(emote text, "count" bigint)
WHERE h.hour >= $1 AND h.hour < $3
GROUP BY t.emote
HAVING sum(t."count") FILTER (WHERE h.hour >= $2) > 0
ORDER BY uses DESC, t.emote
LIMIT $4`
}

// trendingCategoriesSQL sums the categories' audiences over the hours in [$1, $3), the current
// period being [$2, $3) of $5 minutes, $4 rows. An hour counts in its last window's category.
func trendingCategoriesSQL(hours string) string {
	return `
SELECT h.category,
       coalesce(sum(h.viewer_minutes ORDER BY h.channel, h.hour) FILTER (WHERE h.hour >= $2), 0) / $5 AS viewers,
       coalesce(sum(h.viewer_minutes ORDER BY h.channel, h.hour) FILTER (WHERE h.hour < $2), 0) / $5 AS previous_viewers,
       count(DISTINCT h.channel) FILTER (WHERE h.hour >= $2) AS channels,
       coalesce(sum(h.chat_messages) FILTER (WHERE h.hour >= $2), 0)::bigint AS chat_messages
FROM ` + hours + ` h
WHERE h.hour >= $1 AND h.hour < $3 AND h.category <> ''
GROUP BY h.category
HAVING count(*) FILTER (WHERE h.hour >= $2) > 0
ORDER BY viewers DESC, h.category
LIMIT $4`
}

// Trending returns the range's most used emotes and its categories by viewers, each with the
// period of the same length before.
func (s *Store) Trending(ctx context.Context, q TrendingQuery) ([]*pb.TrendingEmote, []*pb.TrendingCategory, error) {
	previous := q.Start.Add(-q.End.Sub(q.Start))
	minutes := q.End.Sub(q.Start).Minutes()
	var emotes []*pb.TrendingEmote
	var categories []*pb.TrendingCategory
	if minutes <= 0 {
		return nil, nil, nil
	}
	// one snapshot for both statements
	err := pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, trendingEmotesSQL(s.tables.hours), previous, q.Start, q.End, q.Limit)
		if err != nil {
			return fmt.Errorf("emotes: %w", err)
		}
		emotes, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (*pb.TrendingEmote, error) {
			e := &pb.TrendingEmote{}
			return e, row.Scan(&e.Emote, &e.Uses, &e.PreviousUses, &e.Channels)
		})
		if err != nil {
			return fmt.Errorf("emotes: %w", err)
		}
		rows, err = tx.Query(ctx, trendingCategoriesSQL(s.tables.hours), previous, q.Start, q.End, q.Limit, minutes)
		if err != nil {
			return fmt.Errorf("categories: %w", err)
		}
		categories, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (*pb.TrendingCategory, error) {
			c := &pb.TrendingCategory{}
			return c, row.Scan(&c.Category, &c.Viewers, &c.PreviousViewers, &c.Channels, &c.ChatMessages)
		})
		if err != nil {
			return fmt.Errorf("categories: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("trending: %w", err)
	}
	return emotes, categories, nil
}
