// Command telemetra is Telemetra's single binary: one subcommand per role.
package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/alecthomas/kong"

	"github.com/telemetra/telemetra/internal/kafka"
	"github.com/telemetra/telemetra/internal/obs"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

type cli struct {
	globals

	Dev          devCmd          `cmd:"" help:"Run the whole pipeline in one process on embedded defaults (what make run starts)."`
	Broker       brokerCmd       `cmd:"" help:"Run an embedded, in-process Kafka broker with Telemetra's topics."`
	Process      processCmd      `cmd:"" help:"Run the windowing processor (goka group telemetra-windows)."`
	Project      projectCmd      `cmd:"" help:"Run the projector: window aggregates and moments into PostgreSQL."`
	Alert        alertCmd        `cmd:"" help:"Run the alert role: moments into signed webhook deliveries (docs/alerts.md); alert test sends a sample delivery."`
	Produce      produceCmd      `cmd:"" help:"Run the mock Twitch producer: chat, viewers, transactions and stream lifecycle events."`
	Migrate      migrateCmd      `cmd:"" help:"Apply the PostgreSQL migrations (embedded) to the database."`
	Serve        serveCmd        `cmd:"" help:"Run the API gateway: gRPC (reflection, health), REST via grpc-gateway, streaming subscriptions (NDJSON, SSE), OpenAPI."`
	Replay       replayCmd       `cmd:"" help:"Rebuild the PostgreSQL projection from the topics into a shadow schema, verify it and swap it in (optionally reprocessing the state into a new generation first)."`
	Bench        benchCmd        `cmd:"" help:"Measure the whole pipeline on this machine: throughput per stage against a raw consumer, freshness at fixed rates, CPU and memory per role."`
	BenchConsume benchConsumeCmd `cmd:"" name:"bench-consume" hidden:"" help:"The bench's raw consumer baseline."`
	Validate     validateCmd     `cmd:"" help:"Validate a JSON event against one of the embedded schemas."`
	Tail         tailCmd         `cmd:"" help:"Pretty-print messages from a topic."`
	Topics       topicsCmd       `cmd:"" help:"Create or describe the Kafka topics Telemetra needs (for writing input with other tools, or checking a cluster)."`
	Version      versionCmd      `cmd:"" help:"Print the version."`
}

// globals are flags every command accepts.
type globals struct {
	LogLevel  string `name:"log-level" env:"LOG_LEVEL" default:"info" help:"Log level: debug, info, warn, error."`
	LogFormat string `name:"log-format" env:"LOG_FORMAT" default:"text" enum:"text,json" help:"Log format: text or json."`

	stdout io.Writer
	stderr io.Writer
	logger *slog.Logger
}

// kafkaFlags select the Kafka cluster.
type kafkaFlags struct {
	Brokers []string `name:"brokers" env:"KAFKA_BOOTSTRAP_SERVERS" default:"127.0.0.1:9092" sep:"," help:"Kafka bootstrap servers, comma-separated."`
}

// startupFlags bound how long a role waits for a cluster that is still starting. Not part of
// kafkaFlags: tail and bench-consume make no start-up admin calls that could honour it.
type startupFlags struct {
	StartupTimeout time.Duration `name:"startup-timeout" env:"TELEMETRA_STARTUP_TIMEOUT" default:"${startup_timeout}" help:"How long to keep retrying at start while the Kafka cluster is still coming up (connection refused, no controller yet, broker not registered yet), with backoff and a log line per retry, before giving up; 0 fails at the first error."`
}

// adminOptions are the options of the internal/kafka admin calls a command makes at start.
func (s startupFlags) adminOptions(logger *slog.Logger) []kafka.AdminOption {
	return []kafka.AdminOption{kafka.WithStartupTimeout(s.StartupTimeout), kafka.WithLogger(logger)}
}

// timeout is the flag as the roles' configs take it: zero there means the default, so "0,
// fail at the first error" is negative.
func (s startupFlags) timeout() time.Duration {
	if s.StartupTimeout == 0 {
		return -1
	}
	return s.StartupTimeout
}

// ignoreStop lets a role stopped (Ctrl-C) while it waited for the cluster stop cleanly.
func ignoreStop(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return nil
	}
	return err
}

// stopMetrics stops a command's metrics server when the command returns; the command's own
// result stands, a failure to stop is logged.
func stopMetrics(ctx context.Context, ms *obs.MetricsServer, logger *slog.Logger) {
	if err := ms.Shutdown(context.WithoutCancel(ctx)); err != nil {
		logger.Warn("stop the metrics server", "err", err)
	}
}

type versionCmd struct{}

func (versionCmd) Run(g *globals) error {
	_, err := fmt.Fprintln(g.stdout, "telemetra", version)
	return err
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run parses args and runs the chosen command; it returns the process exit code.
func run(args []string, stdout, stderr io.Writer) int {
	var c cli
	c.stdout, c.stderr = stdout, stderr
	exitCode := -1
	parser, err := kong.New(&c,
		kong.Name("telemetra"),
		kong.Description("Real-time analytics for Twitch-like live streams: Kafka, goka, PostgreSQL, gRPC."),
		kong.UsageOnError(),
		kong.Writers(stdout, stderr),
		kong.Exit(func(code int) { exitCode = code }),
		kong.ConfigureHelp(kong.HelpOptions{Compact: true}),
		kong.Vars{
			"startup_timeout": kafka.DefaultStartupTimeout.String(),
			"partitions":      strconv.Itoa(kafka.DefaultPartitions),
		},
		gatewayLimitVars(),
		alertsSchemaVars(),
		alertVars(),
	)
	if err != nil {
		_, _ = fmt.Fprintln(stderr, "telemetra:", err) // a failed write to stderr has nowhere to go
		return 2
	}
	kctx, err := parser.Parse(args)
	if exitCode >= 0 { // --help or a usage error already printed what it had to
		return exitCode
	}
	if err != nil {
		parser.Errorf("%s", err)
		return 2
	}
	logger, err := obs.NewLogger(stderr, c.LogLevel, c.LogFormat)
	if err != nil {
		_, _ = fmt.Fprintln(stderr, "telemetra:", err) // a failed write to stderr has nowhere to go
		return 2
	}
	c.logger = logger
	slog.SetDefault(logger)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	kctx.BindTo(ctx, (*context.Context)(nil))
	if err := kctx.Run(&c.globals); err != nil {
		var exit exitError
		if asExit(err, &exit) {
			if exit.msg != "" {
				_, _ = fmt.Fprintln(stderr, exit.msg) // a failed write to stderr has nowhere to go
			}
			return exit.code
		}
		logger.Error("command failed", "command", kctx.Command(), "err", err)
		return 1
	}
	return 0
}
