package obs

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

func TestServeMetrics(t *testing.T) {
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	reg := prometheus.NewRegistry()
	reg.MustRegister(prometheus.NewCounter(prometheus.CounterOpts{Name: "telemetra_test_total", Help: "A test counter."}))

	off, err := ServeMetrics("", reg, logger)
	if err != nil || off.Addr() != "" || off.URL() != "off" || off.Shutdown(context.Background()) != nil {
		t.Fatalf("metrics off: %v, addr %q, url %q; want a server that serves nothing and works", err, off.Addr(), off.URL())
	}

	on, err := ServeMetrics("127.0.0.1:0", reg, logger)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = on.Shutdown(context.Background()) }()
	resp, err := http.Get(on.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if !strings.Contains(string(body), "telemetra_test_total 0") {
		t.Fatalf("GET %s: %s", on.URL(), body)
	}
}
