package main

import (
	"context"
	"time"

	"github.com/telemetra/telemetra/gateway"
	"github.com/telemetra/telemetra/internal/obs"
)

type serveCmd struct {
	kafkaFlags
	startupFlags
	postgresFlags
	alertsSchemaFlags
	gatewayLimitFlags
	NoHistory        bool          `name:"no-history" help:"Serve without a history database: live reads and subscriptions only; history calls answer UNIMPLEMENTED."`
	GRPCAddr         string        `name:"grpc-addr" env:"TELEMETRA_GRPC_ADDR" default:"127.0.0.1:9090" help:"gRPC listen address."`
	HTTPAddr         string        `name:"http-addr" env:"TELEMETRA_HTTP_ADDR" default:"127.0.0.1:8080" help:"REST (grpc-gateway), SSE and OpenAPI listen address."`
	Generation       int           `name:"generation" env:"TELEMETRA_GENERATION" default:"1" help:"Serve this processor generation's table and outputs."`
	AuthToken        string        `name:"auth-token" env:"TELEMETRA_AUTH_TOKEN" help:"Require \"authorization: Bearer <token>\" on every RPC except health checks."`
	TLSCert          string        `name:"tls-cert" env:"TELEMETRA_TLS_CERT" help:"PEM certificate: serve gRPC and HTTP over TLS (with --tls-key)."`
	TLSKey           string        `name:"tls-key" env:"TELEMETRA_TLS_KEY" help:"PEM private key of --tls-cert."`
	RequestTimeout   time.Duration `name:"request-timeout" default:"10s" help:"Deadline of every unary RPC (the client's if sooner)."`
	SubscriberBuffer int           `name:"subscriber-buffer" default:"1024" help:"Events pending per subscriber before it is dropped as too slow (provisional updates coalesce first)."`
	MaxSubscribers   int           `name:"max-subscribers" default:"10000" help:"Most concurrent subscriptions (0: unlimited)."`
	MetricsAddr      string        `name:"metrics-addr" env:"TELEMETRA_GATEWAY_METRICS_ADDR" default:"127.0.0.1:9103" help:"Serve Prometheus metrics here (empty: off)."`
}

func (s *serveCmd) Run(ctx context.Context, g *globals) error {
	reg := obs.NewRegistry()
	ms, err := obs.ServeMetrics(s.MetricsAddr, reg, g.logger)
	if err != nil {
		return err
	}
	defer stopMetrics(ctx, ms, g.logger)
	dbURL := s.url()
	if s.NoHistory {
		dbURL = ""
	}
	srv, err := gateway.Start(ctx, gateway.Config{
		GRPCAddr: s.GRPCAddr, HTTPAddr: s.HTTPAddr, Brokers: s.Brokers, Generation: s.Generation,
		DatabaseURL: dbURL, Schema: s.Schema, AlertsSchema: s.AlertsSchema, AuthToken: s.AuthToken, TLSCert: s.TLSCert, TLSKey: s.TLSKey,
		RequestTimeout: s.RequestTimeout, SubscriberBuffer: s.SubscriberBuffer, MaxSubscribers: s.MaxSubscribers,
		StartupTimeout: s.timeout(), Logger: g.logger.With("role", "gateway"), Registry: reg,
		Limits: s.limits(), SubscriptionMaxAge: s.SubscriptionMaxAge,
	})
	if err != nil {
		return err
	}
	return srv.Wait()
}
