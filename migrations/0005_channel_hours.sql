-- Hourly roll-up of each channel's final windows and moments, for rankings and trending over a
-- range (gateway/store/rankings.go): ranking 100,000 channels over an hour from
-- window_aggregates groups 6,000,000 window rows (2-3.5 s on 2 cores); from here it groups
-- 100,000. The projector refreshes the hours its batch touched, in the batch's transaction
-- (views/projector), through refresh_channel_hours, which also backfills the existing rows
-- below: the roll-up rule is in this one place.
CREATE TABLE channel_hours (
    channel            text        NOT NULL,
    hour               timestamptz NOT NULL,          -- UTC hour the windows start in
    windows            bigint      NOT NULL DEFAULT 0,  -- final windows
    window_seconds     double precision NOT NULL DEFAULT 0,  -- their total length
    chat_messages      bigint      NOT NULL DEFAULT 0,
    unique_chatters    bigint      NOT NULL DEFAULT 0,  -- sum of the windows' distinct chatters
    viewer_sum         bigint      NOT NULL DEFAULT 0,
    viewer_samples     bigint      NOT NULL DEFAULT 0,
    viewer_minutes     double precision NOT NULL DEFAULT 0,  -- average viewers times minutes, over the windows with samples
    revenue_cents      bigint      NOT NULL DEFAULT 0,
    sentiment_sum      double precision NOT NULL DEFAULT 0,
    sentiment_scored   bigint      NOT NULL DEFAULT 0,
    moments            bigint      NOT NULL DEFAULT 0,  -- moments at a time in the hour
    top_emotes         jsonb       NOT NULL DEFAULT '[]',  -- the windows' top emotes summed: [{"emote": "...", "count": n}]
    live               boolean     NOT NULL DEFAULT false,  -- of the hour's last final window
    title              text        NOT NULL DEFAULT '',
    category           text        NOT NULL DEFAULT '',
    updated_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (channel, hour)
);
-- a range's hours across every channel (the primary key serves one channel's hours)
CREATE INDEX channel_hours_hour_idx ON channel_hours (hour);

-- refresh_channel_hours recomputes the given (channel, hour) pairs (arrays of the same length)
-- from their final windows (through window_aggregates' primary key) and moments
-- (moments_channel_at_idx); a pair with neither is deleted. Sums of doubles go in window order,
-- so a replay's roll-up equals the live one bit for bit. Unqualified names resolve in the
-- caller's search_path, so a replay's shadow schema refreshes its own tables.
CREATE FUNCTION refresh_channel_hours(channels text[], hours timestamptz[]) RETURNS void
LANGUAGE sql AS $$
WITH k AS (
    SELECT DISTINCT channel, hour FROM unnest(channels, hours) AS k(channel, hour)
), r AS (
    SELECT k.channel, k.hour, w.*, m.moments, e.top_emotes
    FROM k
    CROSS JOIN LATERAL (
        SELECT count(*) AS windows,
               coalesce(sum(extract(epoch FROM w.window_end - w.window_start)), 0) AS window_seconds,
               coalesce(sum(w.chat_messages), 0) AS chat_messages,
               coalesce(sum(w.unique_chatters), 0) AS unique_chatters,
               coalesce(sum(w.viewer_sum), 0) AS viewer_sum,
               coalesce(sum(w.viewer_samples), 0) AS viewer_samples,
               coalesce(sum(w.viewer_sum::double precision / w.viewer_samples
                            * extract(epoch FROM w.window_end - w.window_start) / 60
                            ORDER BY w.window_start) FILTER (WHERE w.viewer_samples > 0), 0) AS viewer_minutes,
               coalesce(sum(w.revenue_cents), 0) AS revenue_cents,
               coalesce(sum(w.sentiment_sum ORDER BY w.window_start), 0) AS sentiment_sum,
               coalesce(sum(w.sentiment_scored), 0) AS sentiment_scored,
               coalesce((array_agg(w.live ORDER BY w.window_start DESC))[1], false) AS live,
               coalesce((array_agg(w.title ORDER BY w.window_start DESC))[1], '') AS title,
               coalesce((array_agg(w.category ORDER BY w.window_start DESC))[1], '') AS category
        FROM window_aggregates w
        WHERE w.channel = k.channel AND w.window_start >= k.hour AND w.window_start < k.hour + interval '1 hour' AND w.final
    ) AS w
    CROSS JOIN LATERAL (
        SELECT count(*) AS moments FROM moments m
        WHERE m.channel = k.channel AND m.at >= k.hour AND m.at < k.hour + interval '1 hour'
    ) AS m
    CROSS JOIN LATERAL (
        SELECT coalesce(jsonb_agg(jsonb_build_object('emote', x.emote, 'count', x.uses) ORDER BY x.uses DESC, x.emote), '[]') AS top_emotes
        FROM (SELECT t->>'emote' AS emote, sum((t->>'count')::bigint) AS uses
              FROM window_aggregates w, jsonb_array_elements(w.top_emotes) AS t
              WHERE w.channel = k.channel AND w.window_start >= k.hour AND w.window_start < k.hour + interval '1 hour' AND w.final
              GROUP BY 1) AS x
    ) AS e
), gone AS (
    DELETE FROM channel_hours h USING r
    WHERE h.channel = r.channel AND h.hour = r.hour AND r.windows = 0 AND r.moments = 0
)
INSERT INTO channel_hours AS h (channel, hour, windows, window_seconds, chat_messages, unique_chatters, viewer_sum,
    viewer_samples, viewer_minutes, revenue_cents, sentiment_sum, sentiment_scored, moments, top_emotes, live, title,
    category, updated_at)
SELECT channel, hour, windows, window_seconds, chat_messages, unique_chatters, viewer_sum, viewer_samples,
       viewer_minutes, revenue_cents, sentiment_sum, sentiment_scored, moments, top_emotes, live, title, category, now()
FROM r WHERE r.windows > 0 OR r.moments > 0
ON CONFLICT (channel, hour) DO UPDATE SET
    windows = excluded.windows, window_seconds = excluded.window_seconds, chat_messages = excluded.chat_messages,
    unique_chatters = excluded.unique_chatters, viewer_sum = excluded.viewer_sum,
    viewer_samples = excluded.viewer_samples, viewer_minutes = excluded.viewer_minutes,
    revenue_cents = excluded.revenue_cents, sentiment_sum = excluded.sentiment_sum,
    sentiment_scored = excluded.sentiment_scored, moments = excluded.moments, top_emotes = excluded.top_emotes,
    live = excluded.live, title = excluded.title, category = excluded.category, updated_at = now()
$$;

-- the hours of what was projected before this migration
SELECT refresh_channel_hours(array_agg(channel), array_agg(hour))
FROM (SELECT channel, date_trunc('hour', window_start AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' AS hour FROM window_aggregates
      UNION
      SELECT channel, date_trunc('hour', at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' FROM moments) AS k;
