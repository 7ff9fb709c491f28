package gateway

import (
	"context"
	"crypto/subtle"
	"log/slog"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
)

// rpcMetrics count and time every RPC.
type rpcMetrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

// newRPCMetrics registers the RPC metrics on reg.
func newRPCMetrics(reg prometheus.Registerer) *rpcMetrics {
	f := promauto.With(reg)
	return &rpcMetrics{
		requests: f.NewCounterVec(prometheus.CounterOpts{
			Name: "telemetra_gateway_rpc_requests_total", Help: "RPCs handled, by method and status code.",
		}, []string{"method", "code"}),
		duration: f.NewHistogramVec(prometheus.HistogramOpts{
			Name: "telemetra_gateway_rpc_duration_seconds", Help: "Time to handle an RPC (a subscription: its lifetime).",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 18),
		}, []string{"method"}),
	}
}

// observe records one finished RPC in the metrics and the access log.
func (m *rpcMetrics) observe(ctx context.Context, logger *slog.Logger, method string, started time.Time, err error) {
	code := status.Code(err)
	took := time.Since(started)
	m.requests.WithLabelValues(method, code.String()).Inc()
	m.duration.WithLabelValues(method).Observe(took.Seconds())
	attrs := []any{"method", method, "code", code.String(), "duration", took.Round(time.Microsecond)}
	if p, ok := peer.FromContext(ctx); ok {
		attrs = append(attrs, "peer", p.Addr.String())
	}
	if err != nil && code != codes.OK {
		attrs = append(attrs, "err", status.Convert(err).Message())
	}
	logger.Info("rpc", attrs...)
}

// exempt methods need no token: health checks come from load balancers and orchestrators.
func exempt(method string) bool { return strings.HasPrefix(method, "/grpc.health.v1.Health/") }

// authorize checks the bearer token when one is configured.
func authorize(ctx context.Context, token, method string) error {
	if token == "" || exempt(method) {
		return nil
	}
	md, _ := metadata.FromIncomingContext(ctx)
	for _, v := range md.Get("authorization") {
		if got, ok := strings.CutPrefix(v, "Bearer "); ok && subtle.ConstantTimeCompare([]byte(got), []byte(token)) == 1 {
			return nil
		}
	}
	return status.Error(codes.Unauthenticated, "missing or wrong bearer token: send the header \"authorization: Bearer <token>\"")
}

func unaryInterceptor(m *rpcMetrics, logger *slog.Logger, token string, timeout time.Duration) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (resp any, err error) {
		started := time.Now()
		defer func() { m.observe(ctx, logger, info.FullMethod, started, err) }()
		if err := authorize(ctx, token, info.FullMethod); err != nil {
			return nil, err
		}
		if err := checkRequest(req); err != nil {
			return nil, err
		}
		// a deadline for every request: the client's if sooner
		ctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		return handler(ctx, req)
	}
}

func streamInterceptor(m *rpcMetrics, logger *slog.Logger, token string) grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) (err error) {
		started := time.Now()
		defer func() { m.observe(ss.Context(), logger, info.FullMethod, started, err) }()
		if err := authorize(ss.Context(), token, info.FullMethod); err != nil {
			return err
		}
		return handler(srv, checkedStream{ss})
	}
}

// checkedStream applies checkRequest to the messages a stream receives.
type checkedStream struct{ grpc.ServerStream }

func (s checkedStream) RecvMsg(m any) error {
	if err := s.ServerStream.RecvMsg(m); err != nil {
		return err
	}
	return checkRequest(m)
}
