-- Telemetra's alerting state: webhook subscriptions on moments, their deliveries (the outbox the
-- alert role sends from) and every attempt. It lives in a schema of its own (--alerts-schema,
-- default telemetra_alerts), not in the projection's: a replay swaps the projection's schema for
-- a rebuilt one, and subscriptions and delivery logs are not rebuilt from Kafka.

CREATE TABLE alert_subscriptions (
    id                           text        PRIMARY KEY,     -- server-assigned, URL-safe
    url                          text        NOT NULL,
    channel                      text        NOT NULL DEFAULT '',  -- '' = every channel
    kinds                        text[]      NOT NULL DEFAULT '{}', -- moment kinds as moments.kind; {} = every kind
    min_raid_viewers             bigint      NOT NULL DEFAULT 0,
    min_abs_z_score              double precision NOT NULL DEFAULT 0,
    description                  text        NOT NULL DEFAULT '',
    secret                       text        NOT NULL,
    secret_created_at            timestamptz NOT NULL DEFAULT now(),
    previous_secret              text,
    previous_secret_expires_at   timestamptz,
    created_at                   timestamptz NOT NULL DEFAULT now(),
    deleted_at                   timestamptz                  -- deleted: kept for its log, matches nothing
);

-- One row per moment and subscription: the idempotency key is unique per subscription, so a
-- moment read again (a restart, a rebalance, a replayed topic) is never queued twice.
CREATE TABLE alert_deliveries (
    id                 bigserial   PRIMARY KEY,
    subscription_id    text        NOT NULL REFERENCES alert_subscriptions (id),
    idempotency_key    text        NOT NULL,
    moment             jsonb       NOT NULL,   -- the Moment as protojson, as the payload carries it
    test               boolean     NOT NULL DEFAULT false,
    state              text        NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'delivered', 'dead_lettered')),
    attempt_count      integer     NOT NULL DEFAULT 0,
    next_attempt_at    timestamptz NOT NULL DEFAULT now(),
    created_at         timestamptz NOT NULL DEFAULT now(),
    ended_at           timestamptz,
    dead_letter_reason text        NOT NULL DEFAULT '',
    UNIQUE (subscription_id, idempotency_key)
);
-- what a receiver's worker takes next: its due pending deliveries, oldest first
CREATE INDEX alert_deliveries_due_idx ON alert_deliveries (subscription_id, next_attempt_at) WHERE state = 'pending';
-- the delivery log, newest first, per subscription and across all
CREATE INDEX alert_deliveries_log_idx ON alert_deliveries (subscription_id, id DESC);

CREATE TABLE alert_attempts (
    delivery_id  bigint      NOT NULL REFERENCES alert_deliveries (id) ON DELETE CASCADE,
    number       integer     NOT NULL,
    started_at   timestamptz NOT NULL,
    latency_ms   double precision NOT NULL,
    status_code  integer     NOT NULL DEFAULT 0,
    error        text        NOT NULL DEFAULT '',
    PRIMARY KEY (delivery_id, number)
);

-- The alert role's consumed offsets of the moments topic, written in the same transaction as the
-- deliveries they queued (as projector_offsets): a crash between queueing and committing
-- neither loses nor repeats a moment.
CREATE TABLE alert_offsets (
    topic        text        NOT NULL,
    partition    integer     NOT NULL,
    next_offset  bigint      NOT NULL,
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (topic, partition)
);
