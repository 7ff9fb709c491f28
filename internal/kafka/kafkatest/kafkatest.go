// Package kafkatest starts embedded brokers for tests.
package kafkatest

import (
	"io"
	"log/slog"
	"testing"

	"github.com/telemetra/telemetra/internal/kafka"
)

// StartBroker starts an embedded broker on a free port for the test and returns its address.
// opts apply after those defaults, e.g. kafka.WithTopics() for a broker without topics.
func StartBroker(t testing.TB, opts ...kafka.EmbeddedOption) string {
	t.Helper()
	opts = append([]kafka.EmbeddedOption{kafka.WithAddr("127.0.0.1:0"), kafka.WithLogger(Quiet())}, opts...)
	b, err := kafka.StartEmbedded(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	return b.Addr()
}

// Quiet is a logger that discards everything.
func Quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
