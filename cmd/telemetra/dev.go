package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/jackc/pgx/v5"
	"golang.org/x/sync/errgroup"

	"github.com/telemetra/telemetra/alerts"
	"github.com/telemetra/telemetra/gateway"
	"github.com/telemetra/telemetra/internal/kafka"
	"github.com/telemetra/telemetra/internal/obs"
	"github.com/telemetra/telemetra/internal/pgcluster"
	"github.com/telemetra/telemetra/processors/aggregator"
	"github.com/telemetra/telemetra/producer"
	"github.com/telemetra/telemetra/views/projector"
)

// devCmd runs the whole pipeline in one process on embedded defaults: what `make run` starts.
type devCmd struct {
	windowFlags
	gatewayLimitFlags
	alertsSchemaFlags
	BrokerAddr   string        `name:"broker-addr" env:"TELEMETRA_BROKER_ADDR" default:"127.0.0.1:9092" help:"Listen address of the embedded Kafka broker."`
	Channels     []string      `name:"channels" env:"CHANNELS" default:"demo_stream,gaming,speedrun_hub,cozy_cafe,esports_arena" sep:"," help:"Channels to simulate."`
	Rate         float64       `name:"rate" env:"RATE_PER_SEC" default:"50" help:"Producer events per second."`
	Seed         uint64        `name:"seed" env:"PRODUCER_SEED" help:"Producer random seed (0: the one kept in --data-dir, else random)."`
	MetricsAddr  string        `name:"metrics-addr" env:"TELEMETRA_METRICS_ADDR" default:"127.0.0.1:9100" help:"Serve Prometheus metrics here."`
	CompactEvery time.Duration `name:"compact-every" default:"1m" help:"Compact the embedded broker's compacted topics this often (0: never)."`
	GRPCAddr     string        `name:"grpc-addr" env:"TELEMETRA_GRPC_ADDR" default:"127.0.0.1:9090" help:"gRPC listen address of the gateway."`
	HTTPAddr     string        `name:"http-addr" env:"TELEMETRA_HTTP_ADDR" default:"127.0.0.1:8080" help:"REST listen address of the gateway."`
	DatabaseURL  string        `name:"database-url" env:"DATABASE_URL" help:"PostgreSQL for the projection (default: a private cluster from the system's PostgreSQL binaries, kept in --data-dir)."`
	DataDir      string        `name:"data-dir" env:"TELEMETRA_DATA_DIR" default:".cache/telemetra-dev" help:"Keep the broker's log and the PostgreSQL projection here, so the history survives restarts (empty: in memory, gone at exit)."`
	Fresh        bool          `name:"fresh" help:"Delete --data-dir first and start clean."`
	History      time.Duration `name:"history" default:"24h" help:"On a fresh start (a new data dir), first write this much past event time before going live, so the dashboard has a day to show (0: none)."`
	Retention    time.Duration `name:"retention" default:"5m" help:"Drop stream records older than this that every consumer group has read, so memory stays flat (0: keep everything); the history lives in PostgreSQL."`
	AuthToken    string        `name:"auth-token" env:"TELEMETRA_AUTH_TOKEN" help:"Require \"authorization: Bearer <token>\" on every RPC of the gateway except health checks (the dashboard asks for it)."`
}

// migrateAlerts applies the alerting migrations (the projector applies the projection's).
func (d *devCmd) migrateAlerts(ctx context.Context, dbURL string, logger *slog.Logger) error {
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return fmt.Errorf("connect to PostgreSQL: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	_, err = applyAlerts(ctx, conn, d.AlertsSchema, logger)
	return err
}

// compactPeriodically compacts the state table of the in-memory broker once the processor has
// recovered: every event rewrites its channel's state, and without compaction the broker keeps
// every version (~0.7 GB an hour at the default rate). kfake's compaction moves a partition's
// start offset, which only hurts a reader recovering the table at that moment: after the
// processor is ready, nothing in this process does.
func compactPeriodically(ctx context.Context, broker *kafka.Embedded, ready <-chan struct{}, every time.Duration) {
	if every <= 0 {
		return
	}
	select {
	case <-ctx.Done():
		return
	case <-ready:
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			broker.Cluster().Compact()
		}
	}
}

// Validate refuses channels the event schemas would reject before anything starts (kong calls
// it after parsing): the pipeline would come up and dead-letter every event.
func (d *devCmd) Validate() error {
	if err := producer.CheckChannels(d.Channels); err != nil {
		return fmt.Errorf("--channels: %w", err)
	}
	return nil
}

func (d *devCmd) Run(ctx context.Context, g *globals) error {
	if d.Rate <= 0 {
		return fmt.Errorf("--rate %v: must be positive in dev mode", d.Rate)
	}
	fresh, err := d.prepareDataDir()
	if err != nil {
		return err
	}
	brokerOpts := []kafka.EmbeddedOption{kafka.WithAddr(d.BrokerAddr), kafka.WithLogger(g.logger)}
	if d.DataDir != "" {
		brokerOpts = append(brokerOpts, kafka.WithDataDir(filepath.Join(d.DataDir, "kafka")))
	}
	broker, err := kafka.StartEmbedded(brokerOpts...)
	if err != nil {
		return err
	}
	defer broker.Close()

	reg := obs.NewRegistry()
	ms, err := obs.ServeMetrics(d.MetricsAddr, reg, g.logger)
	if err != nil {
		return err
	}
	defer stopMetrics(ctx, ms, g.logger)

	dbURL := d.DatabaseURL
	if dbURL == "" {
		cluster, err := d.startPostgres(ctx, g.logger)
		switch {
		case errors.Is(err, pgcluster.ErrNoBinaries):
			g.logger.Warn("running without the PostgreSQL projection", "reason", err)
		case err != nil:
			return fmt.Errorf("start a private PostgreSQL: %w", err)
		default:
			defer cluster.Stop()
			dbURL = cluster.URL("telemetra")
		}
	}

	if dbURL != "" {
		if err := d.migrateAlerts(ctx, dbURL, g.logger); err != nil {
			return err
		}
	}
	seed, run, err := d.simulation(time.Now())
	if err != nil {
		return err
	}
	if dbURL != "" {
		if _, err := fmt.Fprintf(g.stdout, "\n  PostgreSQL:       psql '%s'\n", dbURL); err != nil {
			return err
		}
	}
	gwCtx, stopGateway := context.WithCancel(ctx)
	defer stopGateway()
	srv, err := gateway.Start(gwCtx, gateway.Config{
		GRPCAddr: d.GRPCAddr, HTTPAddr: d.HTTPAddr, Brokers: []string{broker.Addr()}, DatabaseURL: dbURL, Schema: "public",
		AlertsSchema: d.AlertsSchema, AuthToken: d.AuthToken, Logger: g.logger.With("role", "gateway"), Registry: reg,
		Limits: d.limits(), SubscriptionMaxAge: d.SubscriptionMaxAge,
	})
	if err != nil {
		return err
	}
	grpcurl, grpcurlHint := grpcurlCommand()
	banner := fmt.Sprintf(`
Telemetra dev pipeline is up (Ctrl-C stops everything).
  Dashboard:        http://%[6]s/dashboard/
  REST:             http://%[6]s/v1/channels   (OpenAPI: http://%[6]s/openapi.json)
  gRPC:             %[7]s (reflection on)
  Kafka bootstrap:  %[1]s
  Metrics:          %[2]s
Try:
  curl -s http://%[6]s/v1/channels/demo_stream
  curl -sN 'http://%[6]s/v1/events:subscribe?channels=demo_stream'
  %[8]s -plaintext -d '{"name":"channels/demo_stream"}' %[7]s telemetra.v1.TelemetraService/GetChannel
  %[8]s -plaintext -d '{"channels":["demo_stream"]}' %[7]s telemetra.v1.TelemetraService/SubscribeChannelEvents%[9]s
  kcat -b %[1]s -t %[3]s -C -o end
  go run ./cmd/telemetra tail %[4]s 5 --brokers %[1]s --from end
  go run ./cmd/telemetra tail %[5]s 5 --brokers %[1]s --timeout 5m
`, broker.Addr(), ms.URL(), kafka.TopicChat, kafka.TopicAggregates, kafka.TopicMoments, srv.HTTPAddr(), srv.GRPCAddr(),
		grpcurl, grpcurlHint)
	if d.DataDir != "" {
		banner += fmt.Sprintf("History is kept in %s (--fresh starts clean).\n", d.DataDir)
	}
	if d.AuthToken != "" {
		// the token itself stays off the terminal: it may be recorded or shared
		banner += `  With --auth-token, add -H "Authorization: Bearer <token>" to curl and grpcurl; the dashboard asks for the token.
`
	}
	if _, err := io.WriteString(g.stdout, banner); err != nil {
		return err
	}

	history := d.History
	if history > 0 && !fresh {
		g.logger.Info("the data dir holds the history of an earlier run: --history is not written again (--fresh starts clean)", "data_dir", d.DataDir)
		history = 0
	}
	grp, gctx := errgroup.WithContext(ctx)
	ready := make(chan struct{})
	grp.Go(func() error {
		return aggregator.Run(gctx, aggregator.Config{
			Brokers: []string{broker.Addr()}, Window: d.config(), ClientID: "telemetra-dev-processor",
			Logger: g.logger.With("role", "processor"), Metrics: aggregator.NewMetrics(reg),
			Ready: func() { close(ready) },
		})
	})
	grp.Go(func() error { compactPeriodically(gctx, broker, ready, d.CompactEvery); return nil })
	grp.Go(func() error { trimPeriodically(gctx, broker, dbURL, d.Retention, g.logger); return nil })
	if dbURL != "" {
		grp.Go(func() error {
			return projector.Run(gctx, projector.Config{
				Brokers: []string{broker.Addr()}, DatabaseURL: dbURL,
				Logger: g.logger.With("role", "projector"), Metrics: projector.NewMetrics(reg),
			})
		})
		grp.Go(func() error {
			return alerts.Run(gctx, alerts.Config{
				Brokers: []string{broker.Addr()}, DatabaseURL: dbURL, Schema: d.AlertsSchema,
				Logger: g.logger.With("role", "alert"), Metrics: alerts.NewMetrics(reg),
			})
		})
	}
	grp.Go(func() error {
		_, err := producer.Run(gctx, producer.RunConfig{
			Brokers: []string{broker.Addr()},
			Sim:     producer.Config{Channels: d.Channels, Seed: seed, Run: run},
			Rate:    d.Rate, History: history, LogEvery: 30 * time.Second,
			Logger: g.logger.With("role", "producer"), Metrics: producer.NewMetrics(reg),
		})
		return err
	})
	err = grp.Wait()
	stopGateway()
	err = errors.Join(err, srv.Wait())
	if errors.Is(err, context.Canceled) {
		err = nil
	}
	g.logger.Info("dev pipeline stopped")
	return err
}
