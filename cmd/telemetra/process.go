package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/lovoo/goka"

	"github.com/telemetra/telemetra/internal/obs"
	"github.com/telemetra/telemetra/processors/aggregator"
	"github.com/telemetra/telemetra/processors/window"
)

type processCmd struct {
	kafkaFlags
	startupFlags
	windowFlags
	Generation     int           `name:"generation" env:"TELEMETRA_GENERATION" default:"1" help:"Processor generation: N>1 runs group telemetra-windows-gN writing telemetra.aggregates.gN etc. (a state rebuild after a window logic change; see telemetra replay --rebuild-state)."`
	Group          string        `name:"group" env:"TELEMETRA_GROUP" help:"goka group (default: the generation's); its state table is <group>-table. A new group reprocesses the input topics from the start."`
	HotStandby     bool          `name:"hot-standby" help:"Keep replicas of the other partitions' state for fast takeover."`
	StorageDir     string        `name:"storage-dir" help:"Keep the local state copy in LevelDB here (default: in memory, recovered from the table topic)."`
	ClientID       string        `name:"client-id" help:"Kafka client id (default: telemetra-processor-<hostname>)."`
	MetricsAddr    string        `name:"metrics-addr" env:"TELEMETRA_PROCESSOR_METRICS_ADDR" default:"127.0.0.1:9101" help:"Serve Prometheus metrics here (empty: off)."`
	RestartOnError bool          `name:"restart-on-error" help:"When goka stops the processor with an error (its group's coordinator lost with a broker, a failed state write), start it again in this process instead of exiting. Experimental: a rare loss in this path is not diagnosed yet (docs/operations.md); by default the process exits and its supervisor restarts it."`
	FailoverGrace  time.Duration `name:"failover-grace" default:"10s" help:"After an input partition's leader changes (a broker lost), markers wait this long before they may claim the partition quiet, so the records producers retried through the failover land first; 0 turns it off (docs/operations.md)."`
	EmitEvery      time.Duration `name:"emit-interval" default:"25ms" help:"How often provisional updates that are due, finals and moments are written between flushes: the longest an emit waits in the processor. Shorter: fresher dashboards, more produce requests."`
	FlushEvery     time.Duration `name:"flush-interval" default:"200ms" help:"How often changed states are written to the table (each at most once per flush) and the inputs they cover committed; markers go out at the same ticks. Longer: fewer state writes per busy channel (docs/operations.md, capacity), more input read again after a crash."`
}

// windowFlags tune the windowing; shared by process and dev.
type windowFlags struct {
	Window          time.Duration `name:"window" default:"1m" help:"Tumbling window size (event time)."`
	AllowedLateness time.Duration `name:"allowed-lateness" default:"10s" help:"An event may reach Kafka (its record's timestamp) up to this long after its window's end; later ones go to telemetra.late."`
	Provisional     time.Duration `name:"provisional-interval" default:"250ms" help:"Least time between provisional updates of a channel."`
	MaxFutureSkew   time.Duration `name:"max-future-skew" default:"5m" help:"Dead-letter events timestamped further than this after their record's Kafka timestamp."`
	MaxPastSkew     time.Duration `name:"max-past-skew" default:"168h" help:"Dead-letter events timestamped further than this before their record's Kafka timestamp (not believable, rather than late)."`
	ProducerDelay   time.Duration `name:"producer-delay" default:"2s" help:"How long producers may take to get a record into Kafka; a marker that lets a silent input's windows close waits this long."`
	BaselineWindows int           `name:"baseline-windows" default:"30" help:"Closed windows in each anomaly baseline."`
	ChatSpikeZ      float64       `name:"chat-spike-z" default:"3" help:"z-score of chat messages per window for a chat spike."`
	ViewerZ         float64       `name:"viewer-z" default:"3" help:"z-score of average viewers for a viewer spike or drop."`
	HypeZ           float64       `name:"hype-z" default:"3" help:"z-score of transactions per window for hype."`
}

func (w windowFlags) config() window.Config {
	cfg := window.DefaultConfig()
	cfg.Size, cfg.AllowedLateness = w.Window, w.AllowedLateness
	cfg.ProvisionalInterval, cfg.MaxFutureSkew, cfg.MaxPastSkew, cfg.ProducerDelay = w.Provisional, w.MaxFutureSkew, w.MaxPastSkew, w.ProducerDelay
	cfg.Anomaly.BaselineWindows = w.BaselineWindows
	cfg.Anomaly.ChatSpikeZ, cfg.Anomaly.ViewerZ, cfg.Anomaly.HypeZ = w.ChatSpikeZ, w.ViewerZ, w.HypeZ
	return cfg
}

func (p *processCmd) Run(ctx context.Context, g *globals) error {
	cfg := p.config()
	if err := cfg.Validate(); err != nil {
		return err
	}
	if p.EmitEvery <= 0 {
		return fmt.Errorf("--emit-interval %v: must be positive", p.EmitEvery)
	}
	if p.FlushEvery <= 0 {
		return fmt.Errorf("--flush-interval %v: must be positive", p.FlushEvery)
	}
	if p.FailoverGrace < 0 {
		return fmt.Errorf("--failover-grace %v: must be 0 (off) or positive", p.FailoverGrace)
	}
	reg := obs.NewRegistry()
	ms, err := obs.ServeMetrics(p.MetricsAddr, reg, g.logger)
	if err != nil {
		return err
	}
	defer stopMetrics(ctx, ms, g.logger)
	clientID := p.ClientID
	if clientID == "" {
		host, _ := os.Hostname()
		clientID = "telemetra-processor-" + host
	}
	return ignoreStop(ctx, aggregator.Run(ctx, aggregator.Config{
		Brokers: p.Brokers, Generation: p.Generation, Group: goka.Group(p.Group), Window: cfg,
		HotStandby: p.HotStandby, StorageDir: p.StorageDir, ClientID: clientID, SweepEvery: p.FlushEvery, EmitEvery: p.EmitEvery, FailoverGrace: p.FailoverGrace, RestartOnError: p.RestartOnError,
		StartupTimeout: p.timeout(), Logger: g.logger.With("role", "processor"), Metrics: aggregator.NewMetrics(reg),
	}))
}
