package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/alecthomas/kong"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"

	"github.com/telemetra/telemetra/alerts"
	"github.com/telemetra/telemetra/internal/obs"
	pb "github.com/telemetra/telemetra/proto/telemetra/v1"
)

// alertCmd is the alert role (the default subcommand) and its tools.
type alertCmd struct {
	Run  alertRunCmd  `cmd:"" default:"withargs" help:"Run the alert role: moments into signed webhook deliveries, retried until delivered or dead-lettered (the default: telemetra alert --brokers ...)."`
	Test alertTestCmd `cmd:"" help:"Send a sample delivery to a subscription (through the gateway's TestAlertSubscription), wait for it to end and print its attempts."`
}

type alertRunCmd struct {
	kafkaFlags
	startupFlags
	alertsSchemaFlags
	DatabaseURL    string        `name:"database-url" env:"DATABASE_URL" required:"" help:"PostgreSQL holding the alerting schema (subscriptions, the delivery outbox and log)."`
	Generation     int           `name:"generation" env:"TELEMETRA_GENERATION" default:"1" help:"Alert on the moments of this processor generation (telemetra.moments.gN for N>1)."`
	Consumer       string        `name:"consumer" default:"${alert_consumer}" help:"Kafka consumer group the role's instances share (run any number; the positions are kept in PostgreSQL with the deliveries)."`
	MaxAttempts    int           `name:"max-attempts" default:"${alert_max_attempts}" help:"Attempts per delivery before it is dead-lettered (\"attempts exhausted\")."`
	MaxPending     int           `name:"max-pending" default:"${alert_max_pending}" help:"Pending deliveries a subscription may have; past it a new delivery is stored dead-lettered (\"queue full\")."`
	MaxMomentAge   time.Duration `name:"max-moment-age" default:"${alert_max_moment_age}" help:"Do not alert on moments whose event time is older than this (a history backfill or a replay pages nobody); negative: no limit."`
	AttemptTimeout time.Duration `name:"attempt-timeout" default:"${alert_attempt_timeout}" help:"Time limit of one attempt, from connecting to the receiver's status line."`
	MetricsAddr    string        `name:"metrics-addr" env:"TELEMETRA_ALERT_METRICS_ADDR" default:"127.0.0.1:9104" help:"Serve Prometheus metrics here (empty: off)."`
}

// alertVars are the defaults of the alert flags, from the one place they are defined.
func alertVars() kong.Vars {
	return kong.Vars{
		"alert_consumer":        alerts.DefaultConsumer,
		"alert_max_attempts":    fmt.Sprint(alerts.DefaultMaxAttempts),
		"alert_max_pending":     fmt.Sprint(alerts.DefaultMaxPending),
		"alert_max_moment_age":  alerts.DefaultMaxMomentAge.String(),
		"alert_attempt_timeout": alerts.DefaultAttemptTimeout.String(),
	}
}

func (a *alertRunCmd) Run(ctx context.Context, g *globals) error {
	reg := obs.NewRegistry()
	ms, err := obs.ServeMetrics(a.MetricsAddr, reg, g.logger)
	if err != nil {
		return err
	}
	defer stopMetrics(ctx, ms, g.logger)
	return ignoreStop(ctx, alerts.Run(ctx, alerts.Config{
		Brokers: a.Brokers, DatabaseURL: a.DatabaseURL, Schema: a.AlertsSchema, Generation: a.Generation, Consumer: a.Consumer,
		MaxAttempts: a.MaxAttempts, MaxPending: a.MaxPending, MaxMomentAge: a.MaxMomentAge, AttemptTimeout: a.AttemptTimeout,
		StartupTimeout: a.timeout(), Logger: g.logger.With("role", "alert"), Metrics: alerts.NewMetrics(reg),
	}))
}

// alertTestCmd asks the gateway, not the database: the sample goes the way a real delivery
// goes (queued in the outbox, sent by whichever alert role runs, signed with the subscription's
// secret), and an operator needs the API address and token, not database credentials.
type alertTestCmd struct {
	Addr         string        `name:"addr" env:"TELEMETRA_GRPC_ADDR" default:"127.0.0.1:9090" help:"The gateway's gRPC address."`
	AuthToken    string        `name:"auth-token" env:"TELEMETRA_AUTH_TOKEN" help:"The gateway's bearer token, if it requires one."`
	Wait         time.Duration `name:"wait" default:"2m" help:"How long to wait for the delivery to end (delivered or dead-lettered)."`
	Subscription string        `arg:"" name:"subscription" help:"The subscription: alertSubscriptions/ID (or the bare ID)."`
}

// errNotDelivered makes the test command exit non-zero after it printed why.
var errNotDelivered = errors.New("the sample delivery was not delivered")

func (a *alertTestCmd) Run(ctx context.Context, g *globals) error {
	conn, err := grpc.NewClient(a.Addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return fmt.Errorf("connect to %s: %w", a.Addr, err)
	}
	defer conn.Close()
	if a.AuthToken != "" {
		ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+a.AuthToken)
	}
	return testSubscription(ctx, pb.NewTelemetraServiceClient(conn), a.Subscription, a.Wait, 500*time.Millisecond, g.stdout)
}

// testSubscription queues a sample delivery for sub, polls it until it ends or wait passes, and
// prints its attempts.
func testSubscription(ctx context.Context, api pb.TelemetraServiceClient, sub string, wait, every time.Duration, out io.Writer) error {
	if !strings.HasPrefix(sub, "alertSubscriptions/") {
		sub = "alertSubscriptions/" + sub
	}
	d, err := api.TestAlertSubscription(ctx, &pb.TestAlertSubscriptionRequest{Name: sub})
	if err != nil {
		return fmt.Errorf("queue a sample delivery for %s: %w", sub, err)
	}
	if _, err := fmt.Fprintf(out, "queued %s (key %s); waiting up to %s for it to end\n", d.GetName(), d.GetIdempotencyKey(), wait); err != nil {
		return err
	}
	name := d.GetName()
	deadline := time.Now().Add(wait)
	for d.GetState() == pb.AlertDeliveryState_ALERT_DELIVERY_STATE_PENDING && time.Now().Before(deadline) {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(every):
		}
		if d, err = api.GetAlertDelivery(ctx, &pb.GetAlertDeliveryRequest{Name: name}); err != nil {
			return fmt.Errorf("read %s: %w", name, err)
		}
	}
	if err := printDelivery(out, d); err != nil {
		return err
	}
	switch d.GetState() {
	case pb.AlertDeliveryState_ALERT_DELIVERY_STATE_DELIVERED:
		return nil
	case pb.AlertDeliveryState_ALERT_DELIVERY_STATE_PENDING:
		return fmt.Errorf("%w within %s: still pending (is a telemetra alert role running?)", errNotDelivered, wait)
	default:
		return fmt.Errorf("%w: %s", errNotDelivered, d.GetDeadLetterReason())
	}
}

func printDelivery(out io.Writer, d *pb.AlertDelivery) error {
	state := strings.ToLower(strings.TrimPrefix(d.GetState().String(), "ALERT_DELIVERY_STATE_"))
	if r := d.GetDeadLetterReason(); r != "" {
		state += " (" + r + ")"
	}
	if _, err := fmt.Fprintf(out, "%s: %s after %d attempt(s)\n", d.GetName(), state, d.GetAttemptCount()); err != nil {
		return err
	}
	for _, at := range d.GetAttempts() {
		result := fmt.Sprintf("HTTP %d", at.GetStatusCode())
		if at.GetError() != "" {
			result = at.GetError()
		}
		if _, err := fmt.Fprintf(out, "  attempt %d  %s  %6.1f ms  %s\n", at.GetNumber(), at.GetStartTime().AsTime().Format(time.RFC3339),
			float64(at.GetLatency().AsDuration())/float64(time.Millisecond), result); err != nil {
			return err
		}
	}
	return nil
}
