// Package kafkatest starts embedded brokers for tests.
package kafkatest

import (
	"io"
	"log/slog"
	"testing"

	"github.com/telemetra/telemetra/internal/kafka"
)

// StartBroker starts an embedded broker on a free port for the test and returns its address.
func StartBroker(t testing.TB) string {
	t.Helper()
	b, err := kafka.StartEmbedded(kafka.WithAddr("127.0.0.1:0"), kafka.WithLogger(Quiet()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	return b.Addr()
}

// Quiet is a logger that discards everything.
func Quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
