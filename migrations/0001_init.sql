-- Telemetra's read model: the projector (telemetra project) writes these tables from
-- telemetra.aggregates and telemetra.moments; the API reads them. Names are unqualified so the
-- same migrations build a shadow schema for replays (search_path).

-- One row per channel: live status and when it was last seen.
CREATE TABLE channels (
    channel      text PRIMARY KEY,
    live         boolean     NOT NULL DEFAULT false,
    title        text        NOT NULL DEFAULT '',
    category     text        NOT NULL DEFAULT '',
    started_at   timestamptz,
    ended_at     timestamptz,
    viewers      bigint      NOT NULL DEFAULT 0,
    chatters     bigint      NOT NULL DEFAULT 0,
    last_seen    timestamptz,          -- event time of the latest event projected
    updated_at   timestamptz NOT NULL DEFAULT now()
);

-- One row per channel and window (1 minute by default). A row is replaced only by a newer
-- version of the same window; final rows are never replaced by provisional ones.
CREATE TABLE window_aggregates (
    channel               text        NOT NULL,
    window_start          timestamptz NOT NULL,
    window_end            timestamptz NOT NULL,
    final                 boolean     NOT NULL,
    version               bigint      NOT NULL,
    events                bigint      NOT NULL DEFAULT 0,
    late_events           bigint      NOT NULL DEFAULT 0,
    -- chat
    chat_messages         bigint      NOT NULL DEFAULT 0,
    unique_chatters       bigint      NOT NULL DEFAULT 0,
    messages_per_chatter  double precision NOT NULL DEFAULT 0,
    emote_uses            bigint      NOT NULL DEFAULT 0,
    top_emotes            jsonb       NOT NULL DEFAULT '[]',  -- [{"emote": "...", "count": n}]
    chatters_sketch       bytea,                                -- HyperLogLog, for roll-ups
    sentiment_sum         double precision NOT NULL DEFAULT 0,
    sentiment_scored      bigint      NOT NULL DEFAULT 0,
    sentiment_positive    bigint      NOT NULL DEFAULT 0,
    sentiment_negative    bigint      NOT NULL DEFAULT 0,
    sentiment_neutral     bigint      NOT NULL DEFAULT 0,
    -- viewers and chatters (samples of the viewer topic)
    viewer_samples        bigint      NOT NULL DEFAULT 0,
    viewer_sum            bigint      NOT NULL DEFAULT 0,
    viewers_min           bigint      NOT NULL DEFAULT 0,
    viewers_max           bigint      NOT NULL DEFAULT 0,
    viewers_last          bigint      NOT NULL DEFAULT 0,
    chatter_sum           bigint      NOT NULL DEFAULT 0,
    chatters_max          bigint      NOT NULL DEFAULT 0,
    chatters_last         bigint      NOT NULL DEFAULT 0,
    -- transactions, money in US cents
    donations             bigint      NOT NULL DEFAULT 0,
    donation_cents        bigint      NOT NULL DEFAULT 0,
    subscriptions         bigint      NOT NULL DEFAULT 0,
    sub_tier1             bigint      NOT NULL DEFAULT 0,
    sub_tier2             bigint      NOT NULL DEFAULT 0,
    sub_tier3             bigint      NOT NULL DEFAULT 0,
    subscription_cents    bigint      NOT NULL DEFAULT 0,
    bits_count            bigint      NOT NULL DEFAULT 0,
    bits                  bigint      NOT NULL DEFAULT 0,
    bits_cents            bigint      NOT NULL DEFAULT 0,
    gift_subs             bigint      NOT NULL DEFAULT 0,
    gifted                bigint      NOT NULL DEFAULT 0,
    gift_sub_cents        bigint      NOT NULL DEFAULT 0,
    transactions          bigint      NOT NULL DEFAULT 0,
    revenue_cents         bigint      NOT NULL DEFAULT 0,
    -- stream status as of the window's latest event
    live                  boolean     NOT NULL DEFAULT false,
    title                 text        NOT NULL DEFAULT '',
    category              text        NOT NULL DEFAULT '',
    session_id            text        NOT NULL DEFAULT '',
    first_event_time      timestamptz,
    last_event_time       timestamptz,
    emitted_at            timestamptz,
    projected_at          timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (channel, window_start),
    CHECK (window_end > window_start)
);
-- time-range scans across channels (the primary key serves scans per channel)
CREATE INDEX window_aggregates_window_start_idx ON window_aggregates (window_start);

-- Moments are immutable facts with ids derived from their input: a replay rewrites the same rows.
CREATE TABLE moments (
    channel          text        NOT NULL,
    id               text        NOT NULL,
    kind             text        NOT NULL,   -- chat_spike, viewer_spike, viewer_drop, hype, raid
    at               timestamptz NOT NULL,
    window_start     timestamptz,
    window_end       timestamptz,
    value            double precision NOT NULL DEFAULT 0,
    baseline_mean    double precision NOT NULL DEFAULT 0,
    baseline_stddev  double precision NOT NULL DEFAULT 0,
    z_score          double precision NOT NULL DEFAULT 0,
    description      text        NOT NULL DEFAULT '',
    raid_from        text,
    raid_viewers     bigint,
    emitted_at       timestamptz,
    projected_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (channel, id)
);
CREATE INDEX moments_channel_at_idx ON moments (channel, at);
CREATE INDEX moments_at_idx ON moments (at);

-- Stream sessions (stream_start to stream_end) with their summaries, derived from the windows.
CREATE TABLE stream_sessions (
    channel         text        NOT NULL,
    session_id      text        NOT NULL,   -- unix seconds of started_at
    started_at      timestamptz NOT NULL,
    ended_at        timestamptz,
    title           text        NOT NULL DEFAULT '',
    category        text        NOT NULL DEFAULT '',
    peak_viewers    bigint      NOT NULL DEFAULT 0,
    viewer_sum      bigint      NOT NULL DEFAULT 0,
    viewer_samples  bigint      NOT NULL DEFAULT 0,
    peak_chatters   bigint      NOT NULL DEFAULT 0,
    chat_messages   bigint      NOT NULL DEFAULT 0,
    transactions    bigint      NOT NULL DEFAULT 0,
    revenue_cents   bigint      NOT NULL DEFAULT 0,
    moments         bigint      NOT NULL DEFAULT 0,
    updated_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (channel, session_id)
);
CREATE INDEX stream_sessions_channel_started_idx ON stream_sessions (channel, started_at);

-- The projector's consumed offsets, written in the same transaction as the rows they produced:
-- it resumes from here, so a crash between write and commit neither loses nor repeats rows.
CREATE TABLE projector_offsets (
    consumer     text        NOT NULL,
    topic        text        NOT NULL,
    partition    integer     NOT NULL,
    next_offset  bigint      NOT NULL,
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, topic, partition)
);
