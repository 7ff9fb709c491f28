package main

import (
	"context"

	"github.com/telemetra/telemetra/internal/kafka"
)

type brokerCmd struct {
	Addr    string `name:"addr" env:"TELEMETRA_BROKER_ADDR" default:"127.0.0.1:9092" help:"Listen address (host:port)."`
	DataDir string `name:"data-dir" env:"TELEMETRA_BROKER_DATA_DIR" help:"Keep the broker's log in this directory across restarts (default: in memory)."`
}

func (b *brokerCmd) Run(ctx context.Context, g *globals) error {
	broker, err := kafka.StartEmbedded(kafka.WithAddr(b.Addr), kafka.WithDataDir(b.DataDir), kafka.WithLogger(g.logger))
	if err != nil {
		return err
	}
	g.logger.Info("broker ready; Ctrl-C to stop", "bootstrap", broker.Addr(),
		"try", "kcat -b "+broker.Addr()+" -L")
	<-ctx.Done()
	g.logger.Info("broker stopping")
	broker.Close()
	return nil
}
