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
	Phases            []string      `name:"phases" default:"all" sep:"," help:"Phases to run: all, or some of pipeline, freshness, capacity, cluster (freshness and capacity need pipeline; all runs cluster only with --cluster-brokers)."`
	ClusterBrokers    []string      `name:"cluster-brokers" sep:"," help:"Bootstrap servers of a fresh three-broker cluster (scripts/kafka-cluster.sh) for the cluster phase: topics at --cluster-partitions, RF 3, min ISR 2, three processor instances (default: no cluster phase)."`
	ClusterEvents     int64         `name:"cluster-events" default:"1000000" help:"Events of the cluster phase."`
	ClusterChannels   int           `name:"cluster-channels" default:"100000" help:"Channels of the cluster phase (generated, as produce --channel-count)."`
	ClusterPartitions int           `name:"cluster-partitions" default:"12" help:"Partitions of every topic in the cluster phase."`
	ClusterTimeStep   time.Duration `name:"cluster-time-step" default:"1ms" help:"Event-time spacing of the cluster phase's events (produce --time-step)."`
}

func (b *benchCmd) Run(ctx context.Context, g *globals) error {
	binary, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find the telemetra binary: %w", err)
	}
	_, err = bench.Run(ctx, bench.Config{
		Binary: binary, Brokers: b.Brokers, DatabaseURL: b.DatabaseURL, Events: b.Events, Channels: b.Channels,
		Seed: b.Seed, Rates: b.Rates, FreshnessDuration: b.FreshnessDuration, Dir: b.Dir,
		GoBenchResults: b.GoBenchResults, Phases: b.Phases, ClusterBrokers: b.ClusterBrokers,
		ClusterEvents: b.ClusterEvents, ClusterChannels: b.ClusterChannels, ClusterPartitions: b.ClusterPartitions,
		ClusterTimeStep: b.ClusterTimeStep, Logger: g.logger, Out: g.stdout,
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
