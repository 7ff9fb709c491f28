package bench

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/telemetra/telemetra/internal/kafka"
)

// a processor's log as the cluster phase has it: --log-format json, info. Instance 3 of a
// restart: it joined first, took all partitions and reported ready at once (its setup cut
// short by the others joining), then got its share.
const processorLog = `{"time":"2026-12-01T16:10:41.958Z","level":"INFO","msg":"metrics listening","url":"http://127.0.0.1:19803/metrics"}
{"time":"2026-12-01T16:10:42.416Z","level":"INFO","msg":"processor starting","role":"processor","group":"telemetra-windows","partitions":12}
{"time":"2026-12-01T16:10:42.602Z","level":"INFO","msg":"partitions assigned","role":"processor","group":"telemetra-windows","assignment":"map[0:-1 1:-1 2:-1 3:-1 4:-1 5:-1 6:-1 7:-1 8:-1 9:-1 10:-1 11:-1]"}
not json: a panic or Sarama writing to stderr
{"time":"2026-12-01T16:10:42.602Z","level":"INFO","msg":"processor ready: state recovered","role":"processor","group":"telemetra-windows","took":186000000}
{"time":"2026-12-01T16:10:47.699Z","level":"INFO","msg":"partitions assigned","role":"processor","group":"telemetra-windows","assignment":"map[8:-1 9:-1 10:-1 11:-1]"}
`

func TestParseProcessorLog(t *testing.T) {
	events := parseProcessorLog(processorLog)
	if len(events) != 3 {
		t.Fatalf("%d events, want 3: %+v", len(events), events)
	}
	if got := events[2].partitions; !slices.Equal(got, []int32{8, 9, 10, 11}) {
		t.Errorf("last assignment %v", got)
	}
	if !events[1].ready || events[1].at.Format(time.RFC3339Nano) != "2026-12-01T16:10:42.602Z" {
		t.Errorf("readiness %+v", events[1])
	}
	r := readiness(events)
	if len(r.partitions) != 12 || r.assignments != 1 || !r.rebalancedAfter || r.loading != 0 {
		t.Errorf("readiness of a setup cut short: %+v", r)
	}
}

func TestReadiness(t *testing.T) {
	at := func(s int) time.Time { return time.Unix(int64(s), 0) }
	for _, tc := range []struct {
		name   string
		events []procLogEvent
		want   ready
	}{
		{"never ready", []procLogEvent{}, ready{}},
		// stuck after a rebalance cut its first setup short: the last assignment, and how many
		{"not ready", []procLogEvent{{at: at(1), partitions: []int32{0, 1, 2}}, {at: at(9), partitions: []int32{1}}},
			ready{partitions: []int32{1}, assignments: 2}},
		{"one assignment, ready", []procLogEvent{{at: at(1), partitions: []int32{0, 1}}, {at: at(4), ready: true}},
			ready{partitions: []int32{0, 1}, assignments: 1, loading: 3 * time.Second}},
		// a rebalance during the recovery: it starts again with the last assignment
		{"two assignments before ready", []procLogEvent{{at: at(1), partitions: []int32{0, 1, 2}}, {at: at(2), partitions: []int32{1}}, {at: at(7), ready: true}},
			ready{partitions: []int32{1}, assignments: 2, loading: 5 * time.Second}},
		{"an empty assignment is one", []procLogEvent{{at: at(1), partitions: []int32{0}}, {at: at(2)}, {at: at(3), ready: true}},
			ready{assignments: 2, loading: time.Second}},
		// restarted in-process (telemetra_processor_restarts_total): the gauge is the last start's
		{"restarted in-process", []procLogEvent{{at: at(1), partitions: []int32{0}}, {at: at(2), ready: true}, {at: at(9), partitions: []int32{3}}, {at: at(10), ready: true}},
			ready{partitions: []int32{3}, assignments: 1, loading: time.Second}},
	} {
		got := readiness(tc.events)
		if !slices.Equal(got.partitions, tc.want.partitions) || got.assignments != tc.want.assignments ||
			got.rebalancedAfter != tc.want.rebalancedAfter || got.loading != tc.want.loading {
			t.Errorf("%s: got %+v, want %+v", tc.name, got, tc.want)
		}
	}
}

func TestParseAssignment(t *testing.T) {
	if got := parseAssignment("map[10:-1 2:-1 0:1234]"); !slices.Equal(got, []int32{0, 2, 10}) {
		t.Errorf("got %v", got)
	}
	if got := parseAssignment("map[]"); len(got) != 0 {
		t.Errorf("empty: got %v", got)
	}
}

func TestChannelsByPartition(t *testing.T) {
	channels := []string{"channel_00001", "channel_00002", "channel_00003", "channel_00004", "channel_00005"}
	got := channelsByPartition(channels, 12)
	want := make([]int, 12)
	for _, ch := range channels {
		want[kafka.PartitionForKey([]byte(ch), 12)]++
	}
	if !slices.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	c := &clusterRun{byPart: got}
	if n := c.channelsOf([]int32{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}); n != len(channels) {
		t.Errorf("all partitions hold %d channels, want %d", n, len(channels))
	}
}

func TestSettled(t *testing.T) {
	insts := []*instance{{name: "a", clientID: "a"}, {name: "b", clientID: "b"}}
	for _, tc := range []struct {
		held map[string][]int32
		ok   bool
	}{
		{map[string][]int32{"a": {0, 1}, "b": {2, 3}}, true},
		{map[string][]int32{"a": {0, 1, 2, 3}}, false},                         // b holds nothing yet
		{map[string][]int32{"a": {0, 1}, "b": {2}}, false},                     // a partition unassigned
		{map[string][]int32{"a": {0}, "b": {1, 2}, "stranger": {3}}, false},    // another member
		{map[string][]int32{"a": {0, 1}, "b": {2, 3}, "stranger": nil}, false}, // another member, idle
	} {
		if err := settled(tc.held, insts, 4); (err == nil) != tc.ok {
			t.Errorf("settled(%v) = %v, want ok %v", tc.held, err, tc.ok)
		}
	}
}

func TestConfigPhases(t *testing.T) {
	for _, tc := range []struct {
		phases  []string
		cluster bool
		want    []string // phases run; nil: an error
	}{
		{[]string{"all"}, false, []string{PhasePipeline, PhaseFreshness, PhaseCapacity}},
		{[]string{"all"}, true, []string{PhasePipeline, PhaseFreshness, PhaseCapacity, PhaseCluster}},
		{[]string{"cluster"}, true, []string{PhaseCluster}},
		{[]string{"pipeline", " cluster"}, true, []string{PhasePipeline, PhaseCluster}},
		{[]string{"cluster"}, false, nil},   // no cluster to run it on
		{[]string{"freshness"}, false, nil}, // needs the pipeline's roles
		{[]string{"capacity", "cluster"}, true, nil},
		{[]string{"everything"}, false, nil},
	} {
		cfg := Config{Phases: tc.phases}
		if tc.cluster {
			cfg.ClusterBrokers = []string{"127.0.0.1:1"}
		}
		run, err := cfg.phases()
		if tc.want == nil {
			if err == nil {
				t.Errorf("%v: no error, ran %v", tc.phases, run)
			}
			continue
		}
		if err != nil {
			t.Errorf("%v: %v", tc.phases, err)
			continue
		}
		var got []string
		for _, p := range PhaseNames {
			if run[p] {
				got = append(got, p)
			}
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("%v (cluster %v): ran %s, want %s", tc.phases, tc.cluster, strings.Join(got, ","), strings.Join(tc.want, ","))
		}
	}
}
