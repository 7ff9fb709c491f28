package kafka

import (
	"slices"
	"testing"
)

func TestEveryGenerationHasItsOwnProjectorDeadLetterTopicAndCreatesIt(t *testing.T) {
	for _, tc := range []struct {
		generation int
		want       string
	}{
		{0, "telemetra.projector.dlq"},
		{1, "telemetra.projector.dlq"},
		{2, "telemetra.projector.dlq.g2"},
	} {
		out := OutputsFor(tc.generation)
		if out.ProjectorDLQ != tc.want {
			t.Errorf("generation %d: projector DLQ %q, want %q", tc.generation, out.ProjectorDLQ, tc.want)
		}
		if !slices.ContainsFunc(out.Specs(), func(s TopicSpec) bool { return s.Name == tc.want && s.Partitions == DefaultPartitions }) {
			t.Errorf("generation %d: %s is not among the topics created for it: %v", tc.generation, tc.want, out.Specs())
		}
	}
	// a fresh broker (embedded, `telemetra topics create`) has generation 1's
	if !slices.ContainsFunc(AllTopics(), func(s TopicSpec) bool { return s.Name == TopicProjectorDLQ }) {
		t.Errorf("AllTopics lacks %s: %v", TopicProjectorDLQ, AllTopics())
	}
}
