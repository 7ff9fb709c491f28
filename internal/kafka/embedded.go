package kafka

import (
	"fmt"
	"log/slog"
	"net"
	"strconv"

	"github.com/twmb/franz-go/pkg/kfake"
)

// EmbeddedOption configures an embedded broker.
type EmbeddedOption interface{ applyEmbedded(*embeddedConfig) }

type embeddedOpt func(*embeddedConfig)

func (o embeddedOpt) applyEmbedded(c *embeddedConfig) { o(c) }

type embeddedConfig struct {
	addr    string
	dataDir string
	logger  *slog.Logger
	topics  []TopicSpec
}

// WithAddr sets the listen address (host:port); port 0 picks a free port.
func WithAddr(addr string) EmbeddedOption {
	return embeddedOpt(func(c *embeddedConfig) { c.addr = addr })
}

// WithDataDir keeps the broker's log on disk so it survives restarts; empty keeps it in memory.
func WithDataDir(dir string) EmbeddedOption {
	return embeddedOpt(func(c *embeddedConfig) { c.dataDir = dir })
}

// WithTopics replaces the topics created at start (default: AllTopics). Only tests use it:
// WithTopics() is a broker without topics, as a fresh cluster starts.
func WithTopics(specs ...TopicSpec) EmbeddedOption {
	return embeddedOpt(func(c *embeddedConfig) { c.topics = specs })
}

// Embedded is an in-process, single-node Kafka (franz-go's kfake) that speaks the real protocol,
// so kcat, Sarama (goka) and franz-go clients can all use it.
type Embedded struct {
	cluster *kfake.Cluster
	addr    string
}

// effectivelyNever is used for timers kfake must not fire on its own. It is a count of
// milliseconds that still fits a time.Duration in nanoseconds (~31 years).
const effectivelyNever = "1000000000000"

// StartEmbedded starts the broker and creates the topics. Close it when done.
func StartEmbedded(opts ...EmbeddedOption) (*Embedded, error) {
	cfg := embeddedConfig{addr: "127.0.0.1:9092", logger: slog.Default(), topics: AllTopics()}
	for _, o := range opts {
		o.applyEmbedded(&cfg)
	}
	host, portStr, err := net.SplitHostPort(cfg.addr)
	if err != nil {
		return nil, fmt.Errorf("embedded broker address %q: %w", cfg.addr, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return nil, fmt.Errorf("embedded broker port %q: %w", portStr, err)
	}
	if host == "" {
		host = "127.0.0.1"
	}

	kopts := []kfake.Opt{
		kfake.NumBrokers(1),
		kfake.Ports(port),
		kfake.ClusterID("telemetra-embedded"),
		kfake.DefaultNumPartitions(DefaultPartitions),
		kfake.ListenFn(func(network, _ string) (net.Listener, error) {
			return net.Listen(network, net.JoinHostPort(host, strconv.Itoa(port)))
		}),
		kfake.BrokerConfigs(map[string]string{
			// kfake moves a compacted partition's start offset while a goka view may be reading
			// it (offset out of range): never compact on a timer in the embedded broker.
			"log.cleaner.backoff.ms": effectivelyNever,
			// An embedded broker may sit idle for days; keep committed offsets like a long-lived
			// cluster would rather than re-reading from the start.
			"offsets.retention.minutes":  "5256000",
			"default.replication.factor": "1",
		}),
	}
	if cfg.dataDir != "" {
		kopts = append(kopts, kfake.DataDir(cfg.dataDir))
	}
	for _, t := range cfg.topics {
		kopts = append(kopts, kfake.SeedTopics(t.Partitions, t.Name))
	}
	cluster, err := kfake.NewCluster(kopts...)
	if err != nil {
		return nil, fmt.Errorf("start embedded broker on %s: %w", cfg.addr, err)
	}
	addrs := cluster.ListenAddrs()
	e := &Embedded{cluster: cluster, addr: addrs[0]}
	cfg.logger.Info("embedded kafka started", "addr", e.addr, "topics", len(cfg.topics), "data_dir", cfg.dataDir)
	return e, nil
}

// Addr is the bootstrap address clients should use.
func (e *Embedded) Addr() string { return e.addr }

// Cluster exposes the underlying fake cluster to tests (e.g. to force compaction).
func (e *Embedded) Cluster() *kfake.Cluster { return e.cluster }

// Close stops the broker, flushing its data dir if it has one.
func (e *Embedded) Close() { e.cluster.Close() }
