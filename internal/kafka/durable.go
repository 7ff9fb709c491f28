package kafka

import "github.com/twmb/franz-go/pkg/kgo"

// DurableWrites are the options of every Telemetra client that writes records: a write counts
// once all in-sync replicas have it (with a topic's min.insync.replicas of 2, a lost broker
// loses nothing acknowledged), and retries are idempotent, so a retried batch is not written
// twice. Both are franz-go's defaults; they are stated here so that no client drops them.
func DurableWrites() []kgo.Opt {
	return []kgo.Opt{kgo.RequiredAcks(kgo.AllISRAcks())}
}
