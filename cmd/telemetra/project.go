package main

import (
	"context"

	"github.com/telemetra/telemetra/internal/obs"
	"github.com/telemetra/telemetra/views/projector"
)

type projectCmd struct {
	kafkaFlags
	startupFlags
	postgresFlags
	Consumer    string `name:"consumer" default:"telemetra-projector" help:"The projection's consumer: its offsets in projector_offsets, and the Kafka consumer group that its instances share (run any number with the same name; Kafka assigns the partitions, PostgreSQL keeps the positions)."`
	Generation  int    `name:"generation" env:"TELEMETRA_GENERATION" default:"1" help:"Project the output topics of this processor generation (telemetra.aggregates.gN for N>1)."`
	BatchSize   int    `name:"batch-size" default:"2000" help:"Most records written in one transaction."`
	MetricsAddr string `name:"metrics-addr" env:"TELEMETRA_PROJECTOR_METRICS_ADDR" default:"127.0.0.1:9102" help:"Serve Prometheus metrics here (empty: off)."`
}

func (p *projectCmd) Run(ctx context.Context, g *globals) error {
	reg := obs.NewRegistry()
	ms, err := obs.ServeMetrics(p.MetricsAddr, reg, g.logger)
	if err != nil {
		return err
	}
	defer stopMetrics(ctx, ms, g.logger)
	return ignoreStop(ctx, projector.Run(ctx, projector.Config{
		Brokers: p.Brokers, DatabaseURL: p.url(), Schema: p.Schema, Consumer: p.Consumer, Generation: p.Generation,
		BatchSize: p.BatchSize, StartupTimeout: p.timeout(), Logger: g.logger.With("role", "projector"), Metrics: projector.NewMetrics(reg),
	}))
}
