package table

import (
	"time"

	"fmt"
	"log/slog"

	"github.com/IBM/sarama"
	"github.com/lovoo/goka"

	"github.com/telemetra/telemetra/internal/kafka"
)

// SaramaConfig is the Sarama configuration of the table's goka clients: the processor and the
// views of its table.
func SaramaConfig(clientID string) *sarama.Config {
	cfg := goka.DefaultConfig()
	cfg.ClientID = clientID
	cfg.Version = sarama.V3_6_0_0
	// a new group reads the input topics from the start: nothing produced before the
	// processor's first run is skipped
	cfg.Consumer.Offsets.Initial = sarama.OffsetOldest
	cfg.Producer.RequiredAcks = sarama.WaitForAll
	// On a fresh cluster the group's coordinator is not there until the broker has created
	// __consumer_offsets, a fraction of a second; Sarama's 250 ms between lookups made a start
	// wait up to half a second more. The same patience (3 × 250 ms) in shorter steps.
	cfg.Metadata.Retry.Backoff = 25 * time.Millisecond
	cfg.Metadata.Retry.Max = 30
	// Then the group's first join is refused while the coordinator loads its partition of
	// __consumer_offsets, and Sarama tried again after 2 s; the same patience (4 × 2 s) in
	// 100 ms steps.
	cfg.Consumer.Group.Rebalance.Retry.Backoff = 100 * time.Millisecond
	cfg.Consumer.Group.Rebalance.Retry.Max = 80
	return cfg
}

// SaramaProducerConfig is the configuration of the processor's goka producer, which writes the
// dead-letter records: durable and idempotent, as kafka.DurableWrites are for the franz-go
// clients. Its own copy, because idempotence allows one request in flight per connection, which
// would slow the consumers down.
func SaramaProducerConfig(clientID string) *sarama.Config {
	cfg := SaramaConfig(clientID)
	cfg.Producer.Idempotent = true
	cfg.Net.MaxOpenRequests = 1
	return cfg
}

// TopicManagerConfig makes goka create its own topics (the group table) for a cluster of any
// size, with Telemetra's stream retention.
func TopicManagerConfig() *goka.TopicManagerConfig {
	tm := goka.NewTopicManagerConfig()
	tm.Table.Replication = 1
	tm.Stream.Replication = 1
	tm.Stream.Retention = kafka.DefaultRetention
	return tm
}

// GokaLogger sends goka's and Sarama's chatter to slog at debug level, tagged with Component.
type GokaLogger struct {
	Logger    *slog.Logger
	Component string
}

// Print logs its operands at debug level (goka's logger interface, as are Println and Printf).
func (g GokaLogger) Print(v ...any) { g.Logger.Debug(fmt.Sprint(v...), "component", g.Component) }

// Println logs its operands at debug level; slog ends the line.
func (g GokaLogger) Println(v ...any) { g.Logger.Debug(fmt.Sprint(v...), "component", g.Component) }

// Printf logs a formatted message at debug level.
func (g GokaLogger) Printf(format string, v ...any) {
	g.Logger.Debug(fmt.Sprintf(format, v...), "component", g.Component)
}
