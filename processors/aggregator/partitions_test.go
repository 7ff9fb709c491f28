package aggregator

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/telemetra/telemetra/internal/kafka"
	"github.com/telemetra/telemetra/internal/kafka/kafkatest"
	"github.com/telemetra/telemetra/internal/pipelinetest"
	"github.com/telemetra/telemetra/processors/table"
)

// TestProcessorRefusesTopicsThatAreNotCopartitioned: a group table left with another partition
// count (say, from a run before the inputs were recreated) stops the processor at start, with
// every topic and its count in the error, before it consumes anything.
func TestProcessorRefusesTopicsThatAreNotCopartitioned(t *testing.T) {
	addr := kafkatest.StartBroker(t)
	tableTopic := table.TopicSpec(table.Group(1), 2)
	if err := kafka.EnsureTopics(context.Background(), []string{addr}, []kafka.TopicSpec{tableTopic}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err := Run(ctx, Config{Brokers: []string{addr}, Window: testWindowConfig(), Logger: quiet()})
	if !errors.Is(err, kafka.ErrNotCopartitioned) {
		t.Fatalf("Run = %v, want ErrNotCopartitioned", err)
	}
	for _, want := range []string{kafka.TopicChat + " 3", kafka.TopicAggregates + " 3", tableTopic.Name + " 2", "refuses to start"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the error does not say %q: %v", want, err)
		}
	}
}

// TestTwelvePartitionsAddUpExactly: nothing assumes the seed's three partitions. With the inputs
// created at twelve, the processor creates its table and the missing outputs at twelve too,
// and the finals add up.
func TestTwelvePartitionsAddUpExactly(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test")
	}
	addr := kafkatest.StartBroker(t, kafka.WithTopics())
	var inputs []kafka.TopicSpec
	for _, name := range kafka.InputTopics() {
		inputs = append(inputs, kafka.TopicSpec{Name: name, Partitions: 12})
	}
	if err := kafka.EnsureTopics(context.Background(), []string{addr}, inputs); err != nil {
		t.Fatal(err)
	}
	run := pipelineRun(20_000)
	produce(t, addr, run)
	runProcessor(t, addr, "first")
	runProcessor(t, addr, "second")
	pipelinetest.AwaitFinals(t, addr, pipelinetest.Expected(t, run), 90*time.Second)
	n, err := kafka.CheckCopartitioned(context.Background(), []string{addr},
		append(append(kafka.InputTopics(), kafka.OutputsFor(1).Written()...), string(table.Name(1))))
	if err != nil || n != 12 {
		t.Fatalf("after the run: %d partitions, %v", n, err)
	}
}
