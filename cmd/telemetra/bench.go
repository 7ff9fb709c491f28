package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/telemetra/telemetra/bench"
)

// benchCmd measures the whole pipeline (bench/, docs/performance.md). A user command, so the
// production binary keeps the harness; the roles it measures are this binary's subcommands.
type benchCmd struct {
	Brokers           []string      `name:"brokers" sep:"," help:"Bootstrap servers of a fresh Kafka cluster (default: start the embedded broker as its own process)."`
	DatabaseURL       string        `name:"database-url" env:"DATABASE_URL" help:"PostgreSQL (default: a private throwaway cluster)."`
	Events            int64         `name:"events" default:"1000000" help:"Events of the throughput phase."`
	Channels          int           `name:"channels" default:"100" help:"Channels of the throughput phase."`
	Seed              uint64        `name:"seed" default:"1" help:"Producer seed."`
	Rates             []int         `name:"rates" default:"1000,10000" sep:"," help:"Fixed rates (events/s) of the freshness phase."`
	FreshnessDuration time.Duration `name:"freshness-duration" default:"75s" help:"How long each freshness rate runs."`
	Dir               string        `name:"dir" default:"artifacts/bench" help:"Where logs, results.json, summary.md and charts go."`
	GoBenchResults    string        `name:"go-bench-results" help:"go test -bench output to include in the summary."`
}

func (b *benchCmd) Run(ctx context.Context, g *globals) error {
	binary, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find the telemetra binary: %w", err)
	}
	_, err = bench.Run(ctx, bench.Config{
		Binary: binary, Brokers: b.Brokers, DatabaseURL: b.DatabaseURL, Events: b.Events, Channels: b.Channels,
		Seed: b.Seed, Rates: b.Rates, FreshnessDuration: b.FreshnessDuration, Dir: b.Dir,
		GoBenchResults: b.GoBenchResults, Logger: g.logger, Out: g.stdout,
	})
	return err
}

// benchConsumeCmd is the bench's baseline: a raw consumer, run as its own process so its CPU
// and memory are measured like a role's.
type benchConsumeCmd struct {
	kafkaFlags
	Topics []string `name:"topics" sep:"," required:"" help:"Topics to read to their current end."`
	Group  string   `name:"group" required:"" help:"Consumer group."`
	Result string   `name:"result" required:"" help:"Write what was read here, as JSON."`
}

func (b *benchConsumeCmd) Run(ctx context.Context) error {
	res, err := bench.ConsumeAll(ctx, b.Brokers, b.Topics, b.Group)
	if err != nil {
		return err
	}
	raw, err := json.Marshal(res)
	if err != nil {
		return err
	}
	return os.WriteFile(b.Result, raw, 0o644)
}
