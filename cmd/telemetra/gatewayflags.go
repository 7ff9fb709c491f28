package main

import (
	"strconv"
	"time"

	"github.com/alecthomas/kong"

	"github.com/telemetra/telemetra/gateway"
)

// gatewayLimitFlags are the gateway's server limits and timeouts (gateway.Limits); their
// defaults are gateway.DefaultLimits(), through kong variables.
type gatewayLimitFlags struct {
	HTTPReadHeaderTimeout    time.Duration `name:"http-read-header-timeout" default:"${http_read_header_timeout}" help:"Time to read a request's headers."`
	HTTPIdleTimeout          time.Duration `name:"http-idle-timeout" default:"${http_idle_timeout}" help:"Close an HTTP keep-alive connection idle this long."`
	HTTPWriteTimeout         time.Duration `name:"http-write-timeout" default:"${http_write_timeout}" help:"Time to write an HTTP answer (streams are exempt)."`
	HTTPMaxHeaderBytes       int           `name:"http-max-header-bytes" default:"${http_max_header_bytes}" help:"Largest request line and headers (beyond: 431)."`
	GRPCMaxConcurrentStreams uint32        `name:"grpc-max-concurrent-streams" default:"${grpc_max_concurrent_streams}" help:"Most concurrent RPCs of one gRPC connection."`
	GRPCKeepaliveMinTime     time.Duration `name:"grpc-keepalive-min-time" default:"${grpc_keepalive_min_time}" help:"Shortest keepalive ping interval a gRPC client may use (pinging more often: disconnected)."`
	GRPCMaxConnectionIdle    time.Duration `name:"grpc-max-connection-idle" default:"${grpc_max_connection_idle}" help:"Close a gRPC connection without RPCs for this long."`
	GRPCMaxRecvBytes         int           `name:"grpc-max-recv-bytes" default:"${grpc_max_recv_bytes}" help:"Largest gRPC request message (beyond: RESOURCE_EXHAUSTED)."`
	SubscriptionMaxAge       time.Duration `name:"subscription-max-age" default:"0s" help:"End subscriptions this old with UNAVAILABLE, so clients resubscribe and spread over the gateways (0: never)."`
}

func (f *gatewayLimitFlags) limits() gateway.Limits {
	return gateway.Limits{
		HTTPReadHeaderTimeout: f.HTTPReadHeaderTimeout, HTTPIdleTimeout: f.HTTPIdleTimeout,
		HTTPWriteTimeout: f.HTTPWriteTimeout, HTTPMaxHeaderBytes: f.HTTPMaxHeaderBytes,
		GRPCMaxConcurrentStreams: f.GRPCMaxConcurrentStreams, GRPCKeepaliveMinTime: f.GRPCKeepaliveMinTime,
		GRPCMaxConnectionIdle: f.GRPCMaxConnectionIdle, GRPCMaxRecvBytes: f.GRPCMaxRecvBytes,
	}
}

// gatewayLimitVars are the kong variables of gatewayLimitFlags' defaults.
func gatewayLimitVars() kong.Vars {
	d := gateway.DefaultLimits()
	return kong.Vars{
		"http_read_header_timeout":    d.HTTPReadHeaderTimeout.String(),
		"http_idle_timeout":           d.HTTPIdleTimeout.String(),
		"http_write_timeout":          d.HTTPWriteTimeout.String(),
		"http_max_header_bytes":       strconv.Itoa(d.HTTPMaxHeaderBytes),
		"grpc_max_concurrent_streams": strconv.FormatUint(uint64(d.GRPCMaxConcurrentStreams), 10),
		"grpc_keepalive_min_time":     d.GRPCKeepaliveMinTime.String(),
		"grpc_max_connection_idle":    d.GRPCMaxConnectionIdle.String(),
		"grpc_max_recv_bytes":         strconv.Itoa(d.GRPCMaxRecvBytes),
	}
}
