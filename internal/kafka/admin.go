package kafka

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// EnsureTopics creates the given topics on a real cluster if they do not exist yet; existing
// topics are left alone. Replication factor is the broker's default (-1).
func EnsureTopics(ctx context.Context, brokers []string, specs []TopicSpec) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		return fmt.Errorf("admin client for %v: %w", brokers, err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	retention := strconv.FormatInt(DefaultRetention.Milliseconds(), 10)
	for _, s := range specs {
		cfg := map[string]*string{"retention.ms": &retention}
		if s.Compacted {
			compact := "compact"
			cfg = map[string]*string{"cleanup.policy": &compact}
		}
		resp, err := adm.CreateTopic(ctx, s.Partitions, -1, cfg, s.Name)
		if err == nil {
			err = resp.Err
		}
		if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
			return fmt.Errorf("create topic %s: %w", s.Name, err)
		}
	}
	return awaitTopics(ctx, adm, specs)
}

// awaitTopics waits until the broker's metadata lists every topic with a leader for each
// partition. A topic is created on the controller first: a client that asks a broker right
// away may not see it yet and try to create it again (goka's topic manager then fails with
// "Topic already exists").
func awaitTopics(ctx context.Context, adm *kadm.Client, specs []TopicSpec) error {
	names := make([]string, len(specs))
	for i, s := range specs {
		names[i] = s.Name
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		topics, err := adm.ListTopics(ctx, names...)
		if err == nil {
			err = topicsReady(topics, names)
		}
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("topics not in the metadata after 30s: %w", err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func topicsReady(topics kadm.TopicDetails, names []string) error {
	for _, name := range names {
		t, ok := topics[name]
		if !ok || t.Err != nil || len(t.Partitions) == 0 {
			return fmt.Errorf("topic %s not listed yet", name)
		}
		for _, p := range t.Partitions {
			if p.Err != nil || p.Leader < 0 {
				return fmt.Errorf("topic %s partition %d has no leader yet", name, p.Partition)
			}
		}
	}
	return nil
}

// PartitionCount returns the number of partitions of a topic.
func PartitionCount(ctx context.Context, brokers []string, topic string) (int, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		return 0, fmt.Errorf("admin client for %v: %w", brokers, err)
	}
	defer cl.Close()
	topics, err := kadm.NewClient(cl).ListTopics(ctx, topic)
	if err != nil {
		return 0, fmt.Errorf("describe topic %s: %w", topic, err)
	}
	t, ok := topics[topic]
	if !ok || t.Err != nil || len(t.Partitions) == 0 {
		return 0, fmt.Errorf("topic %s not found", topic)
	}
	return len(t.Partitions), nil
}
