package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/telemetra/telemetra/internal/projection"
	pb "github.com/telemetra/telemetra/proto/telemetra/v1"
)

// Alerts reads and writes the alerting state (migrations/alerts) in its own schema: the
// subscriptions the API manages and the delivery log the alert role writes.
type Alerts struct {
	pool                                        *pgxpool.Pool
	subscriptions, deliveries, attempts, serial string
}

// NewAlerts returns the alerting state in schema through pool.
func NewAlerts(pool *pgxpool.Pool, schema string) *Alerts {
	qualified := func(table string) string { return pgx.Identifier{schema, table}.Sanitize() }
	return &Alerts{pool: pool,
		subscriptions: qualified("alert_subscriptions"),
		deliveries:    qualified("alert_deliveries"),
		attempts:      qualified("alert_attempts"),
		serial:        pgx.Identifier{schema, "alert_deliveries"}.Sanitize(),
	}
}

// Errors the API answers as NOT_FOUND and RESOURCE_EXHAUSTED.
var (
	ErrNotFound             = errors.New("not found")
	ErrTooManySubscriptions = errors.New("too many alert subscriptions")
)

// Delivery states as the state column holds them.
var deliveryStates = map[pb.AlertDeliveryState]string{
	pb.AlertDeliveryState_ALERT_DELIVERY_STATE_PENDING:       "pending",
	pb.AlertDeliveryState_ALERT_DELIVERY_STATE_DELIVERED:     "delivered",
	pb.AlertDeliveryState_ALERT_DELIVERY_STATE_DEAD_LETTERED: "dead_lettered",
}

// DeadLetterDeleted is the dead_letter_reason of the deliveries a deletion cancels.
const DeadLetterDeleted = "subscription deleted"

// NewSubscription is a subscription to create; Kinds are moment kinds as moments.kind holds
// them (projection.MomentKindName).
type NewSubscription struct {
	ID, URL, Channel, Description, Secret string
	Kinds                                 []string
	MinRaidViewers                        int64
	MinAbsZScore                          float64
	Now                                   time.Time
}

// subscriptionColumns are scanSubscription's targets; s is the subscriptions table, the last
// column the pending deliveries.
func (a *Alerts) subscriptionColumns() string {
	return `s.id, s.url, s.channel, s.kinds, s.min_raid_viewers, s.min_abs_z_score, s.description,
	s.created_at, s.secret, s.secret_created_at, s.previous_secret_expires_at,
	(SELECT count(*) FROM ` + a.deliveries + ` d WHERE d.subscription_id = s.id AND d.state = 'pending')`
}

// scanSubscription reads a row of subscriptionColumns; the secret is kept only when withSecret.
func scanSubscription(row pgx.Row, withSecret bool) (*pb.AlertSubscription, error) {
	var (
		id, url, channel, description, secret string
		kinds                                 []string
		minRaid, pending                      int64
		minZ                                  float64
		created, secretCreated                time.Time
		previousExpires                       *time.Time
	)
	if err := row.Scan(&id, &url, &channel, &kinds, &minRaid, &minZ, &description,
		&created, &secret, &secretCreated, &previousExpires, &pending); err != nil {
		return nil, err
	}
	sub := &pb.AlertSubscription{Name: "alertSubscriptions/" + id, Url: url, Channel: channel,
		MinRaidViewers: minRaid, MinAbsZScore: minZ, Description: description,
		CreateTime: timestamppb.New(created), SecretCreateTime: timestamppb.New(secretCreated),
		PreviousSecretExpireTime: timestampOrNil(previousExpires), PendingDeliveries: pending}
	for _, k := range kinds {
		sub.Kinds = append(sub.Kinds, projection.ParseMomentKind(k))
	}
	if withSecret {
		sub.Secret = secret
	}
	return sub, nil
}

// alertsLock serializes creations, so that the cap on subscriptions holds under concurrency.
const alertsLock = 0x7e1e3e7b

// CreateSubscription inserts sub unless maxLive subscriptions (not deleted) exist already
// (ErrTooManySubscriptions). The answer carries the secret.
func (a *Alerts) CreateSubscription(ctx context.Context, sub NewSubscription, maxLive int) (*pb.AlertSubscription, error) {
	var out *pb.AlertSubscription
	err := pgx.BeginFunc(ctx, a.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(alertsLock)); err != nil {
			return err
		}
		var live int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM `+a.subscriptions+` WHERE deleted_at IS NULL`).Scan(&live); err != nil {
			return err
		}
		if live >= maxLive {
			return ErrTooManySubscriptions
		}
		kinds := sub.Kinds
		if kinds == nil {
			kinds = []string{}
		}
		row := tx.QueryRow(ctx, `
WITH s AS (
  INSERT INTO `+a.subscriptions+` (id, url, channel, kinds, min_raid_viewers, min_abs_z_score, description,
    secret, secret_created_at, created_at)
  VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)
  RETURNING *)
SELECT s.id, s.url, s.channel, s.kinds, s.min_raid_viewers, s.min_abs_z_score, s.description,
  s.created_at, s.secret, s.secret_created_at, s.previous_secret_expires_at, 0::bigint FROM s`,
			sub.ID, sub.URL, sub.Channel, kinds, sub.MinRaidViewers, sub.MinAbsZScore, sub.Description, sub.Secret, sub.Now)
		var err error
		out, err = scanSubscription(row, true)
		return err
	})
	if err != nil && !errors.Is(err, ErrTooManySubscriptions) {
		return nil, fmt.Errorf("create alert subscription: %w", err)
	}
	return out, err
}

// Subscription returns the subscription id unless it is deleted (ErrNotFound).
func (a *Alerts) Subscription(ctx context.Context, id string) (*pb.AlertSubscription, error) {
	row := a.pool.QueryRow(ctx, `SELECT `+a.subscriptionColumns()+` FROM `+a.subscriptions+` s
WHERE s.id = $1 AND s.deleted_at IS NULL`, id)
	sub, err := scanSubscription(row, false)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("read alert subscription %s: %w", id, err)
	}
	return sub, nil
}

// SubscriptionCursor is the last subscription of the previous page.
type SubscriptionCursor struct {
	CreatedAt time.Time
	ID        string
}

// Subscriptions lists up to limit subscriptions that are not deleted, oldest first, after
// the cursor (nil: from the first).
func (a *Alerts) Subscriptions(ctx context.Context, after *SubscriptionCursor, limit int) ([]*pb.AlertSubscription, error) {
	var at *time.Time
	var id string
	if after != nil {
		at, id = &after.CreatedAt, after.ID
	}
	rows, err := a.pool.Query(ctx, `SELECT `+a.subscriptionColumns()+` FROM `+a.subscriptions+` s
WHERE s.deleted_at IS NULL AND ($1::timestamptz IS NULL OR (s.created_at, s.id) > ($1, $2::text))
ORDER BY s.created_at, s.id
LIMIT $3`, at, id, limit)
	if err != nil {
		return nil, fmt.Errorf("list alert subscriptions: %w", err)
	}
	subs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*pb.AlertSubscription, error) { return scanSubscription(r, false) })
	if err != nil {
		return nil, fmt.Errorf("list alert subscriptions: %w", err)
	}
	return subs, nil
}

// DeleteSubscription marks the subscription deleted and dead-letters its pending deliveries,
// in one transaction; it returns how many it dead-lettered. A deleted or unknown subscription
// is ErrNotFound.
func (a *Alerts) DeleteSubscription(ctx context.Context, id string, now time.Time) (int64, error) {
	var cancelled int64
	err := pgx.BeginFunc(ctx, a.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE `+a.subscriptions+` SET deleted_at = $2 WHERE id = $1 AND deleted_at IS NULL`, id, now)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return ErrNotFound
		}
		tag, err = tx.Exec(ctx, `UPDATE `+a.deliveries+`
SET state = 'dead_lettered', ended_at = $2, dead_letter_reason = $3
WHERE subscription_id = $1 AND state = 'pending'`, id, now, DeadLetterDeleted)
		cancelled = tag.RowsAffected()
		return err
	})
	if err != nil && !errors.Is(err, ErrNotFound) {
		return 0, fmt.Errorf("delete alert subscription %s: %w", id, err)
	}
	return cancelled, err
}

// RotateSecret makes secret the subscription's signing secret, keeping the current one as the
// previous secret until previousUntil (nil: no previous secret), in one UPDATE. The answer
// carries the new secret.
func (a *Alerts) RotateSecret(ctx context.Context, id, secret string, now time.Time, previousUntil *time.Time) (*pb.AlertSubscription, error) {
	row := a.pool.QueryRow(ctx, `
WITH s AS (
  UPDATE `+a.subscriptions+` SET
    previous_secret = CASE WHEN $4::timestamptz IS NULL THEN NULL ELSE secret END,
    previous_secret_expires_at = $4,
    secret = $2, secret_created_at = $3
  WHERE id = $1 AND deleted_at IS NULL
  RETURNING *)
SELECT `+a.subscriptionColumns()+` FROM s`, id, secret, now, previousUntil)
	sub, err := scanSubscription(row, true)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("rotate the secret of alert subscription %s: %w", id, err)
	}
	return sub, nil
}

// QueueTestDelivery queues a test delivery to the subscription (ErrNotFound when it is deleted
// or unknown): its idempotency key is "tests/{delivery id}", its moment what moment returns for
// the subscription's channel and that id, as protojson (the payload's moment).
func (a *Alerts) QueueTestDelivery(ctx context.Context, id string, now time.Time, moment func(channel string, delivery int64) *pb.Moment) (*pb.AlertDelivery, error) {
	var out *pb.AlertDelivery
	err := pgx.BeginFunc(ctx, a.pool, func(tx pgx.Tx) error {
		var channel string
		// FOR SHARE: a deletion waits, and then dead-letters this delivery too
		err := tx.QueryRow(ctx, `SELECT channel FROM `+a.subscriptions+` WHERE id = $1 AND deleted_at IS NULL FOR SHARE`, id).Scan(&channel)
		if errors.Is(err, pgx.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		var delivery int64
		if err := tx.QueryRow(ctx, `SELECT nextval(pg_get_serial_sequence($1, 'id'))`, a.serial).Scan(&delivery); err != nil {
			return err
		}
		body, err := MomentJSON(moment(channel, delivery))
		if err != nil {
			return err
		}
		row := tx.QueryRow(ctx, `INSERT INTO `+a.deliveries+` AS d (id, subscription_id, idempotency_key, moment, test, next_attempt_at, created_at)
VALUES ($1, $2, $3, $4, true, $5, $5)
RETURNING `+deliveryColumns, delivery, id, TestIdempotencyKey(delivery), body, now)
		out, _, err = scanDelivery(row)
		return err
	})
	if err != nil && !errors.Is(err, ErrNotFound) {
		return nil, fmt.Errorf("queue a test delivery to alert subscription %s: %w", id, err)
	}
	return out, err
}

// TestIdempotencyKey is the idempotency key of a test delivery.
func TestIdempotencyKey(delivery int64) string { return fmt.Sprintf("tests/%d", delivery) }

// MomentJSON is a moment as the moment column holds it and a delivery's payload carries it:
// protojson as the REST API writes it (JSON names, unset fields left out).
func MomentJSON(m *pb.Moment) ([]byte, error) {
	b, err := protojson.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("encode moment: %w", err)
	}
	return b, nil
}

// deliveryColumns are scanDelivery's targets, of the deliveries table as d.
const deliveryColumns = `d.id, d.subscription_id, d.idempotency_key, d.moment, d.test, d.state, d.attempt_count,
	d.created_at, d.next_attempt_at, d.ended_at, d.dead_letter_reason`

func scanDelivery(row pgx.Row) (*pb.AlertDelivery, int64, error) {
	var (
		id                      int64
		sub, key, state, reason string
		moment                  []byte
		test                    bool
		attempts                int32
		created, next           time.Time
		ended                   *time.Time
	)
	if err := row.Scan(&id, &sub, &key, &moment, &test, &state, &attempts, &created, &next, &ended, &reason); err != nil {
		return nil, 0, err
	}
	d := &pb.AlertDelivery{Name: DeliveryName(sub, id), IdempotencyKey: key, Test: test, AttemptCount: attempts,
		CreateTime: timestamppb.New(created), EndTime: timestampOrNil(ended), DeadLetterReason: reason, Moment: &pb.Moment{}}
	for s, name := range deliveryStates {
		if name == state {
			d.State = s
		}
	}
	if d.State == pb.AlertDeliveryState_ALERT_DELIVERY_STATE_PENDING {
		d.NextAttemptTime = timestamppb.New(next)
	}
	if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(moment, d.Moment); err != nil {
		return nil, 0, fmt.Errorf("delivery %d: decode its moment: %w", id, err)
	}
	return d, id, nil
}

// DeliveryName is a delivery's resource name.
func DeliveryName(subscription string, delivery int64) string {
	return fmt.Sprintf("alertSubscriptions/%s/deliveries/%d", subscription, delivery)
}

// Delivery returns a delivery of a subscription with its attempts; ErrNotFound when there is
// none. A deleted subscription's deliveries stay readable: its log is kept.
func (a *Alerts) Delivery(ctx context.Context, subscription string, id int64) (*pb.AlertDelivery, error) {
	row := a.pool.QueryRow(ctx, `SELECT `+deliveryColumns+` FROM `+a.deliveries+` d WHERE d.subscription_id = $1 AND d.id = $2`, subscription, id)
	d, _, err := scanDelivery(row)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err == nil {
		err = a.addAttempts(ctx, []*pb.AlertDelivery{d}, []int64{id})
	}
	if err != nil {
		return nil, fmt.Errorf("read alert delivery %d: %w", id, err)
	}
	return d, nil
}

// DeliveriesQuery selects deliveries, newest first.
type DeliveriesQuery struct {
	Subscription string                // "": every subscription's
	State        pb.AlertDeliveryState // UNSPECIFIED: every state
	Before       int64                 // page cursor: only ids below it (0: from the newest)
	Limit        int
}

// Deliveries lists deliveries by id descending, with their attempts (one query for the page's).
func (a *Alerts) Deliveries(ctx context.Context, q DeliveriesQuery) ([]*pb.AlertDelivery, error) {
	var sub, state *string
	if q.Subscription != "" {
		sub = &q.Subscription
	}
	if name, ok := deliveryStates[q.State]; ok {
		state = &name
	}
	var before *int64
	if q.Before > 0 {
		before = &q.Before
	}
	rows, err := a.pool.Query(ctx, `SELECT `+deliveryColumns+` FROM `+a.deliveries+` d
WHERE ($1::text IS NULL OR d.subscription_id = $1) AND ($2::text IS NULL OR d.state = $2)
  AND ($3::bigint IS NULL OR d.id < $3)
ORDER BY d.id DESC
LIMIT $4`, sub, state, before, q.Limit)
	if err != nil {
		return nil, fmt.Errorf("list alert deliveries: %w", err)
	}
	var out []*pb.AlertDelivery
	var ids []int64
	for rows.Next() {
		d, id, err := scanDelivery(rows)
		if err != nil {
			rows.Close()
			return nil, fmt.Errorf("list alert deliveries: %w", err)
		}
		out, ids = append(out, d), append(ids, id)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list alert deliveries: %w", err)
	}
	if err := a.addAttempts(ctx, out, ids); err != nil {
		return nil, fmt.Errorf("list alert deliveries: %w", err)
	}
	return out, nil
}

// addAttempts reads the attempts of deliveries (ids[k] is deliveries[k]'s) in one query.
func (a *Alerts) addAttempts(ctx context.Context, deliveries []*pb.AlertDelivery, ids []int64) error {
	if len(ids) == 0 {
		return nil
	}
	byID := make(map[int64]*pb.AlertDelivery, len(ids))
	for k, id := range ids {
		byID[id] = deliveries[k]
	}
	rows, err := a.pool.Query(ctx, `SELECT delivery_id, number, started_at, latency_ms, status_code, error
FROM `+a.attempts+` WHERE delivery_id = ANY($1) ORDER BY delivery_id, number`, ids)
	if err != nil {
		return fmt.Errorf("read attempts: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			id           int64
			number, code int32
			started      time.Time
			latencyMS    float64
			message      string
		)
		if err := rows.Scan(&id, &number, &started, &latencyMS, &code, &message); err != nil {
			return fmt.Errorf("read attempts: %w", err)
		}
		d := byID[id]
		d.Attempts = append(d.Attempts, &pb.AlertAttempt{Number: number, StartTime: timestamppb.New(started),
			Latency: durationpb.New(time.Duration(latencyMS * float64(time.Millisecond))), StatusCode: code, Error: message})
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read attempts: %w", err)
	}
	return nil
}

// SubscriptionExisted reports whether the subscription id was ever created (deleted or not):
// an unknown parent is NOT_FOUND, a deleted one's log is kept.
func (a *Alerts) SubscriptionExisted(ctx context.Context, id string) (bool, error) {
	var ok bool
	if err := a.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM `+a.subscriptions+` WHERE id = $1)`, id).Scan(&ok); err != nil {
		return false, fmt.Errorf("look up alert subscription %s: %w", id, err)
	}
	return ok, nil
}
