package obs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// NewRegistry returns a registry with the Go runtime and process collectors, so every role
// exposes the same baseline metrics. Each role registers its own metrics on it: no globals.
func NewRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

// MetricsServer serves /metrics for a registry.
type MetricsServer struct {
	srv *http.Server
	ln  net.Listener
}

// ServeMetrics listens on addr and serves /metrics until Shutdown. An empty addr turns metrics
// off: the server it returns then serves nothing, and its methods still work.
func ServeMetrics(addr string, reg *prometheus.Registry, logger *slog.Logger) (*MetricsServer, error) {
	if addr == "" {
		return &MetricsServer{}, nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen for metrics on %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	m := &MetricsServer{srv: &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}, ln: ln}
	go func() {
		if err := m.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Error("metrics server stopped", "err", err)
		}
	}()
	logger.Info("metrics listening", "url", "http://"+ln.Addr().String()+"/metrics")
	return m, nil
}

// Addr is the address the server listens on; empty when metrics are off.
func (m *MetricsServer) Addr() string {
	if m.ln == nil {
		return ""
	}
	return m.ln.Addr().String()
}

// URL is where the metrics are served, or "off".
func (m *MetricsServer) URL() string {
	if m.ln == nil {
		return "off"
	}
	return "http://" + m.Addr() + "/metrics"
}

// Shutdown stops the server.
func (m *MetricsServer) Shutdown(ctx context.Context) error {
	if m.srv == nil {
		return nil
	}
	return m.srv.Shutdown(ctx)
}
