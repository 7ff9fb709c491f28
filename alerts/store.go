package alerts

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/telemetra/telemetra/views/projector"
)

// The states and dead-letter reasons of alert_deliveries (migrations/alerts/0001_alerts.sql).
const (
	statePending      = "pending"
	stateDelivered    = "delivered"
	stateDeadLettered = "dead_lettered"

	ReasonQueueFull         = "queue full"
	ReasonAttemptsExhausted = "attempts exhausted"
)

// store is the outbox: alert_subscriptions, alert_deliveries, alert_attempts and alert_offsets
// in one schema. Its pool resolves names in that schema (search_path), so the SQL names tables
// bare.
type store struct {
	pool *pgxpool.Pool
}

// openStore connects to dbURL with names resolved in schema.
func openStore(ctx context.Context, dbURL, schema string) (*store, error) {
	cfg, err := pgxpool.ParseConfig(dbURL)
	if err != nil {
		return nil, fmt.Errorf("database config: %w", err)
	}
	cfg.ConnConfig.RuntimeParams["search_path"] = schema
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("database config: %w", err)
	}
	return &store{pool: pool}, nil
}

func (s *store) close() { s.pool.Close() }

// liveSubscriptions lists the subscriptions not deleted, oldest first.
func (s *store) liveSubscriptions(ctx context.Context) ([]Subscription, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, url, channel, kinds, min_raid_viewers, min_abs_z_score
		FROM alert_subscriptions WHERE deleted_at IS NULL ORDER BY created_at, id`)
	if err != nil {
		return nil, fmt.Errorf("read the subscriptions: %w", err)
	}
	subs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Subscription, error) {
		var sub Subscription
		err := r.Scan(&sub.ID, &sub.URL, &sub.Channel, &sub.Kinds, &sub.MinRaidViewers, &sub.MinAbsZScore)
		return sub, err
	})
	if err != nil {
		return nil, fmt.Errorf("read the subscriptions: %w", err)
	}
	return subs, nil
}

// storedOffsets are the positions committed with the queued deliveries.
func (s *store) storedOffsets(ctx context.Context) (projector.Offsets, error) {
	rows, err := s.pool.Query(ctx, "SELECT topic, partition, next_offset FROM alert_offsets")
	if err != nil {
		return nil, fmt.Errorf("read the alert offsets: %w", err)
	}
	defer rows.Close()
	out := projector.Offsets{}
	for rows.Next() {
		var topic string
		var p int32
		var next int64
		if err := rows.Scan(&topic, &p, &next); err != nil {
			return nil, fmt.Errorf("read the alert offsets: %w", err)
		}
		if out[topic] == nil {
			out[topic] = map[int32]int64{}
		}
		out[topic][p] = next
	}
	return out, rows.Err()
}

// newDelivery is a moment matched to a subscription, to be queued.
type newDelivery struct {
	subscriptionID string
	key            string
	moment         []byte // MomentJSON
}

// queued is what queue stored: deliveries pending, and dead-lettered at once because their
// subscription's queue was full. Deliveries that existed already are in neither.
type queued struct{ pending, queueFull int }

// queue stores a batch's deliveries and the batch's offsets (topic → partition → next offset)
// in one transaction: a crash before the commit stores neither, and the batch is read again
// from the previous offsets; a moment read again (another instance, a rewound topic) conflicts
// on (subscription_id, idempotency_key) and is not queued twice. A delivery whose subscription
// has maxPending pending deliveries already is stored dead-lettered, "queue full".
func (s *store) queue(ctx context.Context, deliveries []newDelivery, offsets projector.Offsets, maxPending int, now time.Time,
	beforeCommit func() error) (queued, error) {
	var q queued
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		fresh, err := notQueuedYet(ctx, tx, deliveries)
		if err != nil {
			return err
		}
		pending, err := pendingCounts(ctx, tx, fresh)
		if err != nil {
			return err
		}
		subs, keys, moments, states, reasons := make([]string, 0, len(fresh)), make([]string, 0, len(fresh)),
			make([]string, 0, len(fresh)), make([]string, 0, len(fresh)), make([]string, 0, len(fresh))
		q = queued{}
		for _, d := range fresh {
			state, reason := statePending, ""
			if pending[d.subscriptionID] >= int64(maxPending) {
				state, reason = stateDeadLettered, ReasonQueueFull
				q.queueFull++
			} else {
				pending[d.subscriptionID]++
				q.pending++
			}
			subs, keys, moments = append(subs, d.subscriptionID), append(keys, d.key), append(moments, string(d.moment))
			states, reasons = append(states, state), append(reasons, reason)
		}
		b := &pgx.Batch{}
		if len(fresh) > 0 {
			b.Queue(insertDeliveries, subs, keys, moments, states, reasons, now)
		}
		for topic, parts := range offsets {
			for p, next := range parts {
				b.Queue(upsertOffset, topic, p, next, now)
			}
		}
		if err := tx.SendBatch(ctx, b).Close(); err != nil {
			return fmt.Errorf("queue %d deliveries: %w", len(fresh), err)
		}
		if beforeCommit != nil {
			return beforeCommit()
		}
		return nil
	})
	return q, err
}

// insertDeliveries queues deliveries: $1 subscription ids, $2 keys, $3 moments (JSON), $4
// states, $5 dead-letter reasons, $6 now. A dead-lettered one ends at once.
const insertDeliveries = `
INSERT INTO alert_deliveries (subscription_id, idempotency_key, moment, state, dead_letter_reason, created_at, next_attempt_at, ended_at)
SELECT d.sub, d.key, d.moment::jsonb, d.state, d.reason, $6, $6, CASE WHEN d.state = 'pending' THEN NULL ELSE $6::timestamptz END
FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[]) WITH ORDINALITY AS d(sub, key, moment, state, reason, n)
ORDER BY d.n
ON CONFLICT (subscription_id, idempotency_key) DO NOTHING`

// upsertOffset moves a partition's stored position forward, never back: two instances that
// held the same partition around a rebalance may commit in either order.
const upsertOffset = `
INSERT INTO alert_offsets (topic, partition, next_offset, updated_at) VALUES ($1, $2, $3, $4)
ON CONFLICT (topic, partition) DO UPDATE SET next_offset = GREATEST(alert_offsets.next_offset, excluded.next_offset), updated_at = excluded.updated_at`

// notQueuedYet drops the deliveries already in the table (and repeats within the batch), so
// that a moment read again does not count against its subscription's queue bound.
func notQueuedYet(ctx context.Context, tx pgx.Tx, deliveries []newDelivery) ([]newDelivery, error) {
	if len(deliveries) == 0 {
		return nil, nil
	}
	subs, keys := make([]string, len(deliveries)), make([]string, len(deliveries))
	for i, d := range deliveries {
		subs[i], keys[i] = d.subscriptionID, d.key
	}
	rows, err := tx.Query(ctx, `SELECT d.subscription_id, d.idempotency_key FROM alert_deliveries d
		JOIN unnest($1::text[], $2::text[]) AS k(sub, key) ON d.subscription_id = k.sub AND d.idempotency_key = k.key`, subs, keys)
	if err != nil {
		return nil, fmt.Errorf("find the deliveries queued already: %w", err)
	}
	type id struct{ sub, key string }
	seen := map[id]bool{}
	for rows.Next() {
		var k id
		if err := rows.Scan(&k.sub, &k.key); err != nil {
			rows.Close()
			return nil, fmt.Errorf("find the deliveries queued already: %w", err)
		}
		seen[k] = true
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("find the deliveries queued already: %w", err)
	}
	var out []newDelivery
	for _, d := range deliveries {
		k := id{d.subscriptionID, d.key}
		if !seen[k] {
			seen[k] = true
			out = append(out, d)
		}
	}
	return out, nil
}

// pendingCounts are the pending deliveries of the subscriptions of deliveries.
func pendingCounts(ctx context.Context, tx pgx.Tx, deliveries []newDelivery) (map[string]int64, error) {
	out := map[string]int64{}
	if len(deliveries) == 0 {
		return out, nil
	}
	var subs []string
	for _, d := range deliveries {
		if _, ok := out[d.subscriptionID]; !ok {
			out[d.subscriptionID] = 0
			subs = append(subs, d.subscriptionID)
		}
	}
	rows, err := tx.Query(ctx, `SELECT subscription_id, count(*) FROM alert_deliveries
		WHERE state = 'pending' AND subscription_id = ANY($1) GROUP BY subscription_id`, subs)
	if err != nil {
		return nil, fmt.Errorf("count pending deliveries: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var sub string
		var n int64
		if err := rows.Scan(&sub, &n); err != nil {
			return nil, fmt.Errorf("count pending deliveries: %w", err)
		}
		out[sub] = n
	}
	return out, rows.Err()
}

// backlog is one subscription's pending deliveries.
type backlog struct {
	subscriptionID string
	pending        int64
	due            bool // one is due now
}

// backlogs lists the subscriptions with pending deliveries (alert_deliveries_due_idx).
func (s *store) backlogs(ctx context.Context, now time.Time) ([]backlog, error) {
	rows, err := s.pool.Query(ctx, `SELECT subscription_id, count(*), min(next_attempt_at) <= $1
		FROM alert_deliveries WHERE state = 'pending' GROUP BY subscription_id`, now)
	if err != nil {
		return nil, fmt.Errorf("read the pending deliveries: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (backlog, error) {
		var b backlog
		err := r.Scan(&b.subscriptionID, &b.pending, &b.due)
		return b, err
	})
	if err != nil {
		return nil, fmt.Errorf("read the pending deliveries: %w", err)
	}
	return out, nil
}

// claimed is a delivery taken for one attempt, with what the attempt needs.
type claimed struct {
	id             int64
	subscriptionID string
	url            string
	key            string
	moment         []byte
	test           bool
	createdAt      time.Time
	attempts       int      // made before this one
	secrets        []string // the current secret, and the previous one while it is valid
}

// claim takes subscriptionID's oldest due pending delivery for an attempt, or returns nil. It
// leases the delivery: its next_attempt_at moves to leaseUntil, so no other instance takes it
// while this one sends (SKIP LOCKED passes over one another instance is claiming right now).
// The lease outlasts an attempt; if this instance dies, it expires and the delivery is sent
// again, with the same key (at least once). The secrets are read here, so a rotation applies
// to the next attempt.
func (s *store) claim(ctx context.Context, subscriptionID string, now, leaseUntil time.Time) (*claimed, error) {
	c := &claimed{subscriptionID: subscriptionID}
	var secret string
	var previous *string
	var previousUntil *time.Time
	err := s.pool.QueryRow(ctx, `
		UPDATE alert_deliveries d SET next_attempt_at = $3
		FROM alert_subscriptions s
		WHERE d.id = (SELECT id FROM alert_deliveries
		              WHERE subscription_id = $1 AND state = 'pending' AND next_attempt_at <= $2
		              ORDER BY next_attempt_at, id LIMIT 1 FOR UPDATE SKIP LOCKED)
		  AND s.id = d.subscription_id AND s.deleted_at IS NULL
		RETURNING d.id, s.url, d.idempotency_key, d.moment::text, d.test, d.created_at, d.attempt_count,
		          s.secret, s.previous_secret, s.previous_secret_expires_at`,
		subscriptionID, now, leaseUntil).Scan(&c.id, &c.url, &c.key, &c.moment, &c.test, &c.createdAt, &c.attempts,
		&secret, &previous, &previousUntil)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("claim a delivery of subscription %s: %w", subscriptionID, err)
	}
	c.secrets = []string{secret}
	if previous != nil && *previous != "" && previousUntil != nil && previousUntil.After(now) {
		c.secrets = append(c.secrets, *previous)
	}
	return c, nil
}

// attempt is one POST of a delivery, as alert_attempts records it.
type attempt struct {
	number     int
	startedAt  time.Time
	latency    time.Duration
	statusCode int
	err        string // "" when delivered
	kind       string // attemptSuccess, ...
}

// outcome is where a delivery stands after an attempt.
type outcome struct {
	state         string
	nextAttemptAt time.Time // pending
	reason        string    // dead-lettered
}

// record stores an attempt and the delivery's new state in one transaction. It reports false
// when the delivery moved on meanwhile (another instance recorded this attempt number after
// the lease expired, or the subscription was deleted): the attempt is then not recorded.
func (s *store) record(ctx context.Context, c *claimed, a attempt, o outcome, now time.Time) (bool, error) {
	recorded := false
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var ended *time.Time
		if o.state != statePending {
			ended = &now
		}
		next := o.nextAttemptAt
		if next.IsZero() {
			next = now
		}
		tag, err := tx.Exec(ctx, `UPDATE alert_deliveries SET attempt_count = $2, state = $3, next_attempt_at = $4, ended_at = $5,
			dead_letter_reason = $6 WHERE id = $1 AND attempt_count = $2 - 1 AND state = 'pending'`,
			c.id, a.number, o.state, next, ended, o.reason)
		if err != nil {
			return fmt.Errorf("update delivery %d: %w", c.id, err)
		}
		if tag.RowsAffected() == 0 {
			return nil
		}
		if _, err := tx.Exec(ctx, `INSERT INTO alert_attempts (delivery_id, number, started_at, latency_ms, status_code, error)
			VALUES ($1, $2, $3, $4, $5, $6)`, c.id, a.number, a.startedAt, float64(a.latency)/float64(time.Millisecond), a.statusCode, a.err); err != nil {
			return fmt.Errorf("record attempt %d of delivery %d: %w", a.number, c.id, err)
		}
		recorded = true
		return nil
	})
	return recorded, err
}

// release gives a claimed delivery back at once, unsent (the role is stopping).
func (s *store) release(ctx context.Context, c *claimed, now time.Time) error {
	if _, err := s.pool.Exec(ctx, `UPDATE alert_deliveries SET next_attempt_at = $3
		WHERE id = $1 AND attempt_count = $2 AND state = 'pending'`, c.id, c.attempts, now); err != nil {
		return fmt.Errorf("release delivery %d: %w", c.id, err)
	}
	return nil
}
