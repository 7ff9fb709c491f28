package main

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/telemetra/telemetra/internal/kafka"
	"github.com/telemetra/telemetra/internal/kafka/kafkatest"
)

// generation2Topics are the topics `telemetra topics` handles for --generation 2.
var generation2Topics = []string{
	"telemetra.events.chat", "telemetra.events.viewer", "telemetra.events.transactions", "telemetra.events.stream_meta",
	"telemetra.dlq", "telemetra.late", "telemetra.aggregates", "telemetra.moments", "telemetra.projector.dlq",
	"telemetra.dlq.g2", "telemetra.late.g2", "telemetra.aggregates.g2", "telemetra.moments.g2", "telemetra.projector.dlq.g2",
	"telemetra-windows-g2-table",
}

func TestTopicsCreateCreatesEveryTopicOnceAndThenReportsThemAsExisting(t *testing.T) {
	addr := kafkatest.StartBroker(t, kafka.WithTopics())

	code, out, errOut := runCLI(t, "topics", "create", "--brokers", addr, "--generation", "2")
	if code != 0 {
		t.Fatalf("first run: exit %d, stderr:\n%s", code, errOut)
	}
	for _, topic := range generation2Topics {
		if !regexp.MustCompile(`(?m)^created +` + regexp.QuoteMeta(topic) + ` \(3 partitions\)$`).MatchString(out) {
			t.Errorf("first run does not report %s as created:\n%s", topic, out)
		}
	}
	if !strings.Contains(out, "15 topics: 15 created, 0 existed") || strings.Contains(out, "-loop") {
		t.Errorf("first run:\n%s", out)
	}

	code, out, errOut = runCLI(t, "topics", "create", "--brokers", addr, "--generation", "2")
	if code != 0 {
		t.Fatalf("second run: exit %d, stderr:\n%s", code, errOut)
	}
	for _, topic := range generation2Topics {
		if !regexp.MustCompile(`(?m)^exists +` + regexp.QuoteMeta(topic) + `$`).MatchString(out) {
			t.Errorf("second run does not report %s as existing:\n%s", topic, out)
		}
	}
	if !strings.Contains(out, "15 topics: 0 created, 15 existed") {
		t.Errorf("second run:\n%s", out)
	}
}

func TestTopicsDescribePrintsEveryTopicAndWhetherItExists(t *testing.T) {
	addr := kafkatest.StartBroker(t, kafka.WithTopics())
	if code, _, errOut := runCLI(t, "topics", "create", "--brokers", addr, "--partitions", "2"); code != 0 {
		t.Fatalf("create: exit %d, stderr:\n%s", code, errOut)
	}

	// generation 2's outputs and table were not created
	code, out, errOut := runCLI(t, "topics", "describe", "--brokers", addr, "--generation", "2")
	if code != 0 {
		t.Fatalf("describe: exit %d, stderr:\n%s", code, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if got := strings.Fields(lines[0]); strings.Join(got, " ") != "TOPIC PARTITIONS REPLICATION MIN.ISR CLEANUP RETENTION.MS EXISTS" {
		t.Fatalf("header %q", lines[0])
	}
	rows := map[string]string{}
	for _, l := range lines[1:] {
		if f := strings.Fields(l); len(f) == 7 {
			rows[f[0]] = strings.Join(f[1:], " ")
		}
	}
	for topic, want := range map[string]string{
		"telemetra.events.chat":      "2 1 1 delete 604800000 yes",
		"telemetra.moments":          "2 1 1 delete 604800000 yes",
		"telemetra.aggregates.g2":    "- - - - - no",
		"telemetra-windows-g2-table": "- - - - - no",
	} {
		if rows[topic] != want {
			t.Errorf("%s: %q, want %q\n%s", topic, rows[topic], want, out)
		}
	}
	if len(rows) != len(generation2Topics) {
		t.Errorf("%d rows, want %d:\n%s", len(rows), len(generation2Topics), out)
	}
	if !strings.Contains(out, "6 of 15 topics missing: telemetra topics create --generation 2 creates them") {
		t.Errorf("no summary of the missing topics:\n%s", out)
	}

	// generation 1's group table is compacted
	code, out, errOut = runCLI(t, "topics", "describe", "--brokers", addr)
	if code != 0 {
		t.Fatalf("describe: exit %d, stderr:\n%s", code, errOut)
	}
	if !regexp.MustCompile(`(?m)^telemetra-windows-table +2 +1 +1 +compact +\S+ +yes$`).MatchString(out) || strings.Contains(out, "missing") {
		t.Errorf("generation 1:\n%s", out)
	}
}

func TestTopicsCreateRefusesImpossibleCounts(t *testing.T) {
	for _, args := range [][]string{
		{"--partitions", "0"},
		{"--replication-factor", "0"},
		{"--replication-factor=-2"},
		{"--min-insync-replicas=-1"},
		{"--replication-factor", "2", "--min-insync-replicas", "3"},
	} {
		code, _, errOut := runCLI(t, append([]string{"topics", "create", "--brokers", "127.0.0.1:1"}, args...)...)
		said := strings.Replace(strings.Join(args[max(len(args)-2, 0):], " "), "=", " ", 1)
		if code == 0 || !strings.Contains(errOut, said) {
			t.Errorf("%v: exit %d, stderr:\n%s", args, code, errOut)
		}
	}
}

// TestTopicsCreateSetsMinInsyncReplicas: the replicated case's write rule is on every topic.
func TestTopicsCreateSetsMinInsyncReplicas(t *testing.T) {
	addr := kafkatest.StartBroker(t, kafka.WithTopics())
	if code, _, errOut := runCLI(t, "topics", "create", "--brokers", addr, "--replication-factor", "1", "--min-insync-replicas", "1"); code != 0 {
		t.Fatalf("create: exit %d, stderr:\n%s", code, errOut)
	}
	infos, err := kafka.DescribeTopics(context.Background(), []string{addr}, joinedTopics(1))
	if err != nil {
		t.Fatal(err)
	}
	for _, info := range infos {
		if info.ReplicationFactor != 1 || info.MinInsyncReplicas != "1" {
			t.Errorf("%+v", info)
		}
	}
}

// TestTopicsCreateNamesTopicsThatAreNotCopartitioned: topics that existed with another count
// fail the command, which names each topic and its count.
func TestTopicsCreateNamesTopicsThatAreNotCopartitioned(t *testing.T) {
	addr := kafkatest.StartBroker(t, kafka.WithTopics())
	if err := kafka.EnsureTopics(context.Background(), []string{addr}, []kafka.TopicSpec{{Name: kafka.TopicAggregates, Partitions: 2}}); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runCLI(t, "topics", "create", "--brokers", addr, "--partitions", "4")
	if code == 0 || !strings.Contains(errOut, "not co-partitioned") ||
		!strings.Contains(errOut, kafka.TopicAggregates+" 2") || !strings.Contains(errOut, kafka.TopicChat+" 4") {
		t.Fatalf("exit %d, stdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
}

func TestTopicsWaitForTheClusterUpToTheStartupTimeout(t *testing.T) {
	addr := refusingAddr(t)
	for _, sub := range []string{"create", "describe"} {
		t.Run(sub, func(t *testing.T) {
			_, help, _ := runCLI(t, "topics", sub, "--help")
			if !strings.Contains(help, "--startup-timeout="+kafka.DefaultStartupTimeout.String()) {
				t.Errorf("help does not document --startup-timeout:\n%s", help)
			}
			code, _, errOut := runCLI(t, "topics", sub, "--brokers", addr, "--startup-timeout", "0")
			if code == 0 || !strings.Contains(errOut, "connection refused") || strings.Contains(errOut, "retrying") {
				t.Fatalf("exit %d, stderr:\n%s", code, errOut)
			}
		})
	}
}

// TestTopicsPartitionPrintsGokasPartition: the partition a kcat user passes with -p is goka's
// hash of the key, from the cluster's partition count unless given.
func TestTopicsPartitionPrintsGokasPartition(t *testing.T) {
	code, out, errOut := runCLI(t, "topics", "partition", "--partitions", "3", "demo_stream", "gaming")
	if code != 0 || out != "demo_stream\t2\ngaming\t1\n" {
		t.Fatalf("exit %d, stdout %q, stderr %s", code, out, errOut)
	}
	addr := kafkatest.StartBroker(t)
	code, out, errOut = runCLI(t, "topics", "partition", "--brokers", addr, "demo_stream")
	if want := fmt.Sprintf("demo_stream\t%d\n", kafka.PartitionForKey([]byte("demo_stream"), kafka.DefaultPartitions)); code != 0 || out != want {
		t.Fatalf("exit %d, stdout %q, want %q; stderr %s", code, out, want, errOut)
	}
}
