package kafka

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// EnsureTopics creates the given topics on a real cluster if they do not exist yet; existing
// topics are left alone. The replication factor is the brokers' default unless WithReplication
// says otherwise. A cluster that is still starting is retried (see WithStartupTimeout).
func EnsureTopics(ctx context.Context, brokers []string, specs []TopicSpec, opts ...AdminOption) error {
	_, err := CreateMissingTopics(ctx, brokers, specs, opts...)
	return err
}

// CreateMissingTopics is EnsureTopics that also returns the names of the topics it created, in
// the order of specs; the others existed already. On an error, it returns those created so far.
func CreateMissingTopics(ctx context.Context, brokers []string, specs []TopicSpec, opts ...AdminOption) ([]string, error) {
	cfg := newAdminConfig(opts)
	adm, err := newAdmin(brokers)
	if err != nil {
		return nil, err
	}
	defer adm.Close()
	r := cfg.retrier()
	if cfg.partitionsOfInputs {
		if specs, err = withPartitionsOfInputs(ctx, adm, r, specs); err != nil {
			return nil, err
		}
	}
	// a role's list may name a topic twice (the inputs and outputs it shares with the others)
	specs = distinctTopics(specs)
	// one request per topic, all at once: on a fresh cluster the processor creates about ten
	// topics before it starts, and one after the other they took a quarter of a second
	made := make([]bool, len(specs))
	errs := make([]error, len(specs))
	var wg sync.WaitGroup
	for i, s := range specs {
		wg.Go(func() {
			topicCfg := topicConfig(s, cfg)
			errs[i] = r.do(ctx, "create topic "+s.Name, func(ctx context.Context) error {
				resp, err := adm.CreateTopic(ctx, s.Partitions, cfg.replicationFactor, topicCfg, s.Name)
				if err == nil {
					err = resp.Err
				}
				made[i] = err == nil
				// an attempt that timed out may have created it after all
				if errors.Is(err, kerr.TopicAlreadyExists) {
					return nil
				}
				return err
			})
		})
	}
	wg.Wait()
	var created []string
	for i, s := range specs {
		if made[i] {
			created = append(created, s.Name)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return created, err
	}
	return created, awaitTopics(ctx, adm, specs)
}

// distinctTopics is specs without the later specs of a name already listed.
func distinctTopics(specs []TopicSpec) []TopicSpec {
	seen := make(map[string]bool, len(specs))
	out := make([]TopicSpec, 0, len(specs))
	for _, s := range specs {
		if !seen[s.Name] {
			seen[s.Name] = true
			out = append(out, s)
		}
	}
	return out
}

// topicConfig is the configuration a topic is created with.
func topicConfig(s TopicSpec, cfg adminConfig) map[string]*string {
	c := map[string]*string{}
	if s.Compacted {
		c["cleanup.policy"] = kmsg.StringPtr("compact")
	} else {
		c["retention.ms"] = kmsg.StringPtr(strconv.FormatInt(DefaultRetention.Milliseconds(), 10))
	}
	if cfg.minInsyncReplicas > 0 {
		c["min.insync.replicas"] = kmsg.StringPtr(strconv.Itoa(cfg.minInsyncReplicas))
	}
	return c
}

// withPartitionsOfInputs returns specs with the partition count of the existing input topics
// (the chat topic's), or specs as they are on a cluster without them.
func withPartitionsOfInputs(ctx context.Context, adm *kadm.Client, r *retrier, specs []TopicSpec) ([]TopicSpec, error) {
	n, err := partitions(ctx, adm, r, TopicChat)
	if err != nil || n == 0 {
		return specs, err
	}
	out := slices.Clone(specs)
	for i := range out {
		out[i].Partitions = int32(n)
	}
	return out, nil
}

func newAdmin(brokers []string) (*kadm.Client, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		return nil, fmt.Errorf("admin client for %v: %w", brokers, err)
	}
	return kadm.NewClient(cl), nil
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
		case <-time.After(20 * time.Millisecond):
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

// PartitionCount returns the number of partitions of a topic. A cluster that is still starting
// is retried (see WithStartupTimeout); a topic that does not exist fails at once.
func PartitionCount(ctx context.Context, brokers []string, topic string, opts ...AdminOption) (int, error) {
	cfg := newAdminConfig(opts)
	adm, err := newAdmin(brokers)
	if err != nil {
		return 0, err
	}
	defer adm.Close()
	n, err := partitions(ctx, adm, cfg.retrier(), topic)
	if err == nil && n == 0 {
		err = fmt.Errorf("describe topic %s: does not exist", topic)
	}
	return n, err
}

// partitions returns a topic's partition count, 0 for a topic that does not exist; a cluster
// that is still starting is retried.
func partitions(ctx context.Context, adm *kadm.Client, r *retrier, topic string) (int, error) {
	var n int
	err := r.do(ctx, "describe topic "+topic, func(ctx context.Context) error {
		topics, err := adm.ListTopics(ctx, topic)
		if err != nil {
			return err
		}
		t, ok := topics[topic]
		switch {
		case !ok || errors.Is(t.Err, kerr.UnknownTopicOrPartition):
			n = 0
			return nil
		case t.Err != nil:
			return t.Err // maybe LEADER_NOT_AVAILABLE: retried
		}
		n = len(t.Partitions)
		return nil
	})
	return n, err
}

// TopicInfo is what the cluster says about a topic.
type TopicInfo struct {
	Name              string
	Exists            bool
	Partitions        int
	ReplicationFactor int
	// CleanupPolicy ("delete", "compact"), RetentionMs and MinInsyncReplicas are the topic's effective configs as
	// the broker reports them; empty if it did not.
	CleanupPolicy     string
	RetentionMs       string
	MinInsyncReplicas string
}

// DescribeTopics returns what the cluster knows about the named topics, in their order; a topic
// that does not exist is returned with Exists false. A cluster that is still starting is
// retried (see WithStartupTimeout).
func DescribeTopics(ctx context.Context, brokers []string, names []string, opts ...AdminOption) ([]TopicInfo, error) {
	cfg := newAdminConfig(opts)
	adm, err := newAdmin(brokers)
	if err != nil {
		return nil, err
	}
	defer adm.Close()
	r := cfg.retrier()
	var details kadm.TopicDetails
	if err := r.do(ctx, "list topics", func(ctx context.Context) error {
		details, err = adm.ListTopics(ctx, names...)
		return err
	}); err != nil {
		return nil, err
	}
	infos := make([]TopicInfo, len(names))
	var existing []string
	for i, name := range names {
		infos[i].Name = name
		t, ok := details[name]
		if !ok || errors.Is(t.Err, kerr.UnknownTopicOrPartition) {
			continue
		}
		if t.Err != nil {
			return nil, fmt.Errorf("describe topic %s: %w", name, t.Err)
		}
		infos[i].Exists = true
		infos[i].Partitions = len(t.Partitions)
		for _, p := range t.Partitions {
			infos[i].ReplicationFactor = max(infos[i].ReplicationFactor, len(p.Replicas))
		}
		existing = append(existing, name)
	}
	if len(existing) == 0 {
		return infos, nil
	}
	var configs kadm.ResourceConfigs
	if err := r.do(ctx, "describe topic configs", func(ctx context.Context) error {
		configs, err = adm.DescribeTopicConfigs(ctx, existing...)
		return err
	}); err != nil {
		return nil, err
	}
	for i := range infos {
		if !infos[i].Exists {
			continue
		}
		rc, err := configs.On(infos[i].Name, nil)
		if err == nil {
			err = rc.Err
		}
		switch {
		case errors.Is(err, kerr.UnknownTopicOrPartition):
			continue // deleted since the listing: leave its configs empty
		case err != nil:
			return nil, fmt.Errorf("describe configs of topic %s: %w", infos[i].Name, err)
		}
		for _, c := range rc.Configs {
			switch c.Key {
			case "cleanup.policy":
				infos[i].CleanupPolicy = c.MaybeValue()
			case "retention.ms":
				infos[i].RetentionMs = c.MaybeValue()
			case "min.insync.replicas":
				infos[i].MinInsyncReplicas = c.MaybeValue()
			}
		}
	}
	return infos, nil
}

// ErrNotCopartitioned means the topics a role joins by partition number have different
// partition counts: a channel's events, state and outputs would be on different partitions.
var ErrNotCopartitioned = errors.New("topics are not co-partitioned")

// ErrTopicsMissing means some of the named topics do not exist.
var ErrTopicsMissing = errors.New("topics missing")

// missingGrace is how long CheckCopartitioned asks again for topics it finds missing. Its
// callers check topics they have just created, and the broker it asks may not list them yet:
// the creation waited for one broker's metadata, and a three-broker cluster's others follow a
// little later (seen in the cluster test: four of fifteen topics missing 3 s after creation).
const missingGrace = 10 * time.Second

// CheckCopartitioned returns the partition count that every named topic shares, or an error
// that names each topic with its count: ErrNotCopartitioned when they differ, or
// ErrTopicsMissing naming the topics that do not exist (after missingGrace). A cluster that is
// still starting is retried (see WithStartupTimeout).
func CheckCopartitioned(ctx context.Context, brokers []string, names []string, opts ...AdminOption) (int, error) {
	deadline := time.Now().Add(missingGrace)
	for {
		infos, err := DescribeTopics(ctx, brokers, names, opts...)
		if err != nil {
			return 0, err
		}
		n, err := copartitioned(infos)
		if !errors.Is(err, ErrTopicsMissing) || !time.Now().Before(deadline) {
			return n, err
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// copartitioned is CheckCopartitioned's rule over what the cluster said.
func copartitioned(infos []TopicInfo) (int, error) {
	var missing, counts []string
	n, same := 0, true
	for _, t := range infos {
		if !t.Exists {
			missing = append(missing, t.Name)
			continue
		}
		counts = append(counts, fmt.Sprintf("%s %d", t.Name, t.Partitions))
		if n == 0 {
			n = t.Partitions
		}
		same = same && t.Partitions == n
	}
	switch {
	case len(missing) > 0:
		return 0, fmt.Errorf("%w: %s", ErrTopicsMissing, strings.Join(missing, ", "))
	case !same:
		return 0, fmt.Errorf("%w: %s partitions; a channel's inputs, state and outputs must share a partition number, so all of these need one count (docs/operations.md, \"Partitions\")",
			ErrNotCopartitioned, strings.Join(counts, ", "))
	}
	return n, nil
}
