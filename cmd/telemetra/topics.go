package main

import (
	"context"
	"fmt"
	"text/tabwriter"

	"github.com/telemetra/telemetra/internal/kafka"
	"github.com/telemetra/telemetra/processors/table"
)

type topicsCmd struct {
	Create    topicsCreateCmd    `cmd:"" help:"Create every topic Telemetra needs for a generation; existing topics are left alone and reported as existing."`
	Describe  topicsDescribeCmd  `cmd:"" help:"Print partitions, replication factor, cleanup policy and retention of every topic Telemetra needs for a generation, and whether it exists."`
	Partition topicsPartitionCmd `cmd:"" help:"Print the partition each channel's records must be written to (goka's hash of the key), for producers that do not partition like goka, such as kcat (-p)."`
}

type topicsPartitionCmd struct {
	kafkaFlags
	startupFlags
	Partitions int      `name:"partitions" help:"Partition count (default: the input topics' count on the cluster)."`
	Channels   []string `arg:"" name:"channel" help:"Channel names (record keys)."`
}

func (c *topicsPartitionCmd) Run(ctx context.Context, g *globals) error {
	n := c.Partitions
	if n <= 0 {
		var err error
		if n, err = kafka.PartitionCount(ctx, c.Brokers, kafka.TopicChat, c.adminOptions(g.logger)...); err != nil {
			return err
		}
	}
	for _, ch := range c.Channels {
		if _, err := fmt.Fprintf(g.stdout, "%s\t%d\n", ch, kafka.PartitionForKey([]byte(ch), n)); err != nil {
			return err
		}
	}
	return nil
}

// topicsFlags choose the set of topics.
type topicsFlags struct {
	kafkaFlags
	startupFlags
	Generation int `name:"generation" env:"TELEMETRA_GENERATION" default:"1" help:"Processor generation: its outputs (telemetra.aggregates.gN etc. for N>1) and its group table (telemetra-windows-gN-table) are among the topics."`
}

// topicSpecs are every topic Telemetra needs for a generation, in a stable order: the
// catalogue, the generation's outputs and the processor's group table. No "<group>-loop": the
// processor does not use goka's loopback.
func topicSpecs(generation int, partitions int32) []kafka.TopicSpec {
	var specs []kafka.TopicSpec
	seen := map[string]bool{}
	// generation 1's outputs are in the catalogue already
	for _, s := range append(kafka.AllTopics(), kafka.OutputsFor(generation).Specs()...) {
		if !seen[s.Name] {
			seen[s.Name] = true
			specs = append(specs, kafka.TopicSpec{Name: s.Name, Partitions: partitions, Compacted: s.Compacted})
		}
	}
	return append(specs, table.TopicSpec(table.Group(generation), partitions))
}

type topicsCreateCmd struct {
	topicsFlags
	Partitions        int32 `name:"partitions" default:"${partitions}" help:"Partitions of every topic. Keep one count for all: a channel's events, windows and state must share a partition number."`
	ReplicationFactor int16 `name:"replication-factor" default:"-1" help:"Replicas of every topic; -1 takes the brokers' default.replication.factor. Use 3 on a cluster of three or more brokers."`
	MinInsyncReplicas int   `name:"min-insync-replicas" default:"0" help:"min.insync.replicas of every topic: with the producers' acks=all, a write succeeds once this many replicas have it; 0 takes the brokers' default. Use 2 with --replication-factor 3, so one broker may be lost."`
}

func (c *topicsCreateCmd) Run(ctx context.Context, g *globals) error {
	switch {
	case c.Partitions < 1:
		return fmt.Errorf("--partitions %d: must be at least 1", c.Partitions)
	case c.ReplicationFactor == 0 || c.ReplicationFactor < -1:
		return fmt.Errorf("--replication-factor %d: must be -1 (the brokers' default) or at least 1", c.ReplicationFactor)
	case c.MinInsyncReplicas < 0:
		return fmt.Errorf("--min-insync-replicas %d: must be 0 (the brokers' default) or at least 1", c.MinInsyncReplicas)
	case c.ReplicationFactor > 0 && c.MinInsyncReplicas > int(c.ReplicationFactor):
		return fmt.Errorf("--min-insync-replicas %d is more than --replication-factor %d: no write could succeed", c.MinInsyncReplicas, c.ReplicationFactor)
	}
	specs := topicSpecs(c.Generation, c.Partitions)
	opts := append(c.adminOptions(g.logger), kafka.WithReplication(c.ReplicationFactor, c.MinInsyncReplicas))
	created, err := kafka.CreateMissingTopics(ctx, c.Brokers, specs, opts...)
	isNew := map[string]bool{}
	for _, name := range created {
		isNew[name] = true
	}
	w := tabwriter.NewWriter(g.stdout, 0, 0, 2, ' ', 0)
	for _, s := range specs {
		switch {
		case isNew[s.Name]:
			fmt.Fprintf(w, "created\t%s (%d partitions)\n", s.Name, s.Partitions)
		case err == nil:
			fmt.Fprintf(w, "exists\t%s\n", s.Name)
		}
	}
	if err := w.Flush(); err != nil {
		return err
	}
	if err != nil {
		return err
	}
	if _, err := fmt.Fprintf(g.stdout, "%d topics: %d created, %d existed\n", len(specs), len(created), len(specs)-len(created)); err != nil {
		return err
	}
	// topics that existed before may have another count: say so now, not at the processor's start
	_, err = kafka.CheckCopartitioned(ctx, c.Brokers, joinedTopics(c.Generation), c.adminOptions(g.logger)...)
	return err
}

// joinedTopics are the topics of a generation that the processor joins by partition number.
func joinedTopics(generation int) []string {
	return append(append(kafka.InputTopics(), kafka.OutputsFor(generation).Written()...), string(table.Name(generation)))
}

type topicsDescribeCmd struct {
	topicsFlags
}

func (c *topicsDescribeCmd) Run(ctx context.Context, g *globals) error {
	specs := topicSpecs(c.Generation, kafka.DefaultPartitions)
	names := make([]string, len(specs))
	for i, s := range specs {
		names[i] = s.Name
	}
	infos, err := kafka.DescribeTopics(ctx, c.Brokers, names, c.adminOptions(g.logger)...)
	if err != nil {
		return err
	}
	w := tabwriter.NewWriter(g.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "TOPIC\tPARTITIONS\tREPLICATION\tMIN.ISR\tCLEANUP\tRETENTION.MS\tEXISTS")
	missing := 0
	for _, t := range infos {
		if !t.Exists {
			missing++
			fmt.Fprintf(w, "%s\t-\t-\t-\t-\t-\tno\n", t.Name)
			continue
		}
		fmt.Fprintf(w, "%s\t%d\t%d\t%s\t%s\t%s\tyes\n", t.Name, t.Partitions, t.ReplicationFactor, orDash(t.MinInsyncReplicas), orDash(t.CleanupPolicy), orDash(t.RetentionMs))
	}
	if err := w.Flush(); err != nil {
		return err
	}
	if missing > 0 {
		_, err = fmt.Fprintf(g.stdout, "%d of %d topics missing: telemetra topics create --generation %d creates them\n", missing, len(infos), max(c.Generation, 1))
	}
	return err
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
