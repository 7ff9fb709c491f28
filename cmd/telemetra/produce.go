package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/telemetra/telemetra/internal/kafka"
	"github.com/telemetra/telemetra/internal/obs"
	"github.com/telemetra/telemetra/producer"
)

type produceCmd struct {
	kafkaFlags
	startupFlags
	Channels     []string      `name:"channels" env:"CHANNELS" default:"demo_stream,gaming,speedrun_hub,cozy_cafe,esports_arena" sep:"," help:"Channels to simulate, comma-separated."`
	ChannelCount int           `name:"channel-count" help:"Simulate this many generated channels (channel_00001, ...) instead of --channels."`
	Rate         float64       `name:"rate" env:"RATE_PER_SEC" default:"10" help:"Events per second; 0 means unthrottled."`
	Unthrottled  bool          `name:"unthrottled" help:"Produce as fast as possible (same as --rate 0)."`
	Count        int64         `name:"count" help:"Stop after this many events (0: no limit)."`
	Duration     time.Duration `name:"duration" help:"Stop after this long (0: no limit)."`
	Seed         uint64        `name:"seed" env:"PRODUCER_SEED" help:"Random seed for a reproducible run (0: random)."`
	StartTime    time.Time     `name:"start-time" format:"2006-01-02T15:04:05Z07:00" help:"Simulate event time from this instant (RFC 3339) instead of the wall clock; with --seed the run is byte-for-byte reproducible."`
	TimeStep     time.Duration `name:"time-step" help:"Event-time spacing with --start-time (default 1s/rate, 1ms unthrottled)."`
	History      time.Duration `name:"history" help:"Without --start-time: first write this much past event time (e.g. 24h), as fast as the broker takes it, then go live."`
	MarkEvery    time.Duration `name:"mark-every" default:"1m" help:"With --start-time or --history: every this much event time, write a marker into each input partition the run left quiet, so a run faster than real time does not hold the processor's windows open behind a quiet input (0: none)."`
	Jitter       time.Duration `name:"jitter" help:"Move timestamps back by up to this much, so events arrive out of order."`
	MinStream    time.Duration `name:"min-stream-duration" default:"10m" help:"Shortest stream before a channel may go offline (event time)."`
	MinOffline   time.Duration `name:"min-offline-duration" default:"2m" help:"Shortest offline gap before a channel may go live again (event time)."`
	LogEvery     time.Duration `name:"log-every" default:"10s" help:"How often to log the actual rate."`
	CreateTopics bool          `name:"create-topics" default:"true" negatable:"" help:"Create Telemetra's topics if they are missing."`
	MetricsAddr  string        `name:"metrics-addr" env:"TELEMETRA_PRODUCER_METRICS_ADDR" help:"Serve Prometheus metrics on this address (empty: off)."`
}

// channels are the channels to simulate.
func (p *produceCmd) channels() []string {
	if p.ChannelCount > 0 {
		return producer.GeneratedChannels(p.ChannelCount)
	}
	return p.Channels
}

// Validate refuses channels the event schemas would reject before anything starts (kong calls
// it after parsing): the producer would run cleanly and every event would be dead-lettered.
func (p *produceCmd) Validate() error {
	if err := producer.CheckChannels(p.channels()); err != nil {
		return fmt.Errorf("--channels: %w", err)
	}
	if p.History > 0 && !p.StartTime.IsZero() {
		return fmt.Errorf("--history %v: not with --start-time, whose run is all simulated time already", p.History)
	}
	return nil
}

func (p *produceCmd) Run(ctx context.Context, g *globals) error {
	channels := p.channels()
	seed := p.Seed
	if seed == 0 {
		seed = rand.Uint64()
	}
	rate := p.Rate
	if p.Unthrottled {
		rate = 0
	}
	if rate < 0 {
		return fmt.Errorf("--rate %v: must be 0 (unthrottled) or positive", rate)
	}
	if p.CreateTopics {
		if err := kafka.EnsureTopics(ctx, p.Brokers, kafka.AllTopics(), append(p.adminOptions(g.logger), kafka.WithPartitionsOfInputs())...); err != nil {
			return ignoreStop(ctx, err)
		}
	}
	reg := obs.NewRegistry()
	metrics := producer.NewMetrics(reg)
	ms, err := obs.ServeMetrics(p.MetricsAddr, reg, g.logger)
	if err != nil {
		return err
	}
	defer stopMetrics(ctx, ms, g.logger)

	g.logger.Info("producer starting", "brokers", p.Brokers, "channels", len(channels), "rate_per_sec", rate,
		"seed", seed, "count", p.Count, "duration", p.Duration)
	stats, err := producer.Run(ctx, producer.RunConfig{
		Brokers: p.Brokers,
		Sim: producer.Config{
			Channels: channels, Seed: seed, Jitter: p.Jitter,
			MinStreamDuration: p.MinStream, MinOfflineDuration: p.MinOffline,
		},
		Rate: rate, Count: p.Count, Duration: p.Duration,
		StartTime: p.StartTime, TimeStep: p.TimeStep, History: p.History, MarkEvery: p.MarkEvery, LogEvery: p.LogEvery,
		Logger: g.logger, Metrics: metrics,
	})
	g.logger.Info("producer done", "produced", stats.Produced, "failed", stats.Failed, "markers", stats.Markers,
		"elapsed", stats.Elapsed.Round(time.Millisecond), "events_per_sec", int64(stats.Rate()))
	return err
}
