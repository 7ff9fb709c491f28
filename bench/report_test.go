package bench

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/telemetra/telemetra/internal/kafka"
)

func TestParseGoBench(t *testing.T) {
	out := `goos: linux
BenchmarkThroughput-2   	       1	3226928492 ns/op	         1.127 ratio	    342427 telemetra-events/s	    303790 trivial-events/s
BenchmarkRecovery/channels=100-2         	       1	 612345678 ns/op	         0.61 recovery-s	  12 MB-state	 1024 B/op	 3 allocs/op
PASS
ok  	github.com/telemetra/telemetra/processors/aggregator	12.3s
`
	got := ParseGoBench(out)
	want := []GoBenchResult{
		{"BenchmarkThroughput", "ratio", 1.127},
		{"BenchmarkThroughput", "telemetra-events/s", 342427},
		{"BenchmarkThroughput", "trivial-events/s", 303790},
		{"BenchmarkRecovery/channels=100", "recovery-s", 0.61},
		{"BenchmarkRecovery/channels=100", "MB-state", 12},
	}
	if len(got) != len(want) {
		t.Fatalf("got %v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("%d: got %+v, want %+v", i, got[i], want[i])
		}
	}
}

func TestBarChartDrawsEveryBar(t *testing.T) {
	svg := barChart("t <1>", "ms", []string{"p50", "p99"}, []barGroup{{"a", []float64{1, 2}}, {"b", []float64{3, 4}}})
	if n := strings.Count(svg, "<rect"); n != 1+2+4 { // background, legend, bars
		t.Fatalf("%d rects:\n%s", n, svg)
	}
	if !strings.Contains(svg, "t &lt;1&gt;") || !strings.Contains(svg, "4 ms") {
		t.Fatalf("title or values missing:\n%s", svg)
	}
}

func TestCount(t *testing.T) {
	for n, want := range map[int64]string{0: "0", 999: "999", 1000: "1,000", 1234567: "1,234,567"} {
		if got := count(n); got != want {
			t.Errorf("count(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestClusterSummaryRows(t *testing.T) {
	rep := &Report{Machine: "2 cores", Cluster: &ClusterResult{
		Brokers: "127.0.0.1:1,127.0.0.1:3,127.0.0.1:5", Partitions: 12, ReplicationFactor: 3, MinInsyncReplicas: 2,
		Events: 1_000_000, Channels: 100_000, TimeStep: "1ms", Seconds: 100, PerSecond: 10_000,
		Producer: StageResult{Stage: "producer (unthrottled)", Records: 1_000_000, PerSecond: 50_000, Seconds: 20,
			Usage: Usage{CPU: 7 * time.Second, PeakRSS: 200 << 20}},
		MachineCPU: 180 * time.Second,
		Instances: []ClusterInstance{
			{Instance: "i1", Partitions: []int32{0, 1, 2, 3}, Channels: 33_000, Events: 330_000,
				Usage: Usage{CPU: 20 * time.Second, PeakRSS: 40<<20 + 33_000*10_000}, ReadyRSS: 40 << 20},
			{Instance: "i2", Partitions: []int32{4, 5, 6, 7}, Channels: 34_000, Events: 340_000, Usage: Usage{CPU: 20 * time.Second}},
			{Instance: "i3", Partitions: []int32{8, 9, 10, 11}, Channels: 33_000, Events: 330_000, Usage: Usage{CPU: 20 * time.Second}},
		},
		State: TableState{Topic: "telemetra-windows-table", Records: 150_000, Channels: 100_000, ValueBytes: 300_000_000,
			OtherKeys: 12, DiskBytes: 50_000_000},
		Recovery: []RecoveryRound{
			{Restart: restartTogether, SettledSeconds: 6, Instances: []RecoveryResult{
				{Instance: "i1", Seconds: 5, Partitions: []int32{0, 1, 2, 3}, Channels: 33_000, Assignments: 1, Loading: 3.3,
					FinalPartitions: []int32{0, 1, 2, 3}, PeakRSS: 300 << 20},
				{Instance: "i2", Seconds: 0.2, Partitions: []int32{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}, Channels: 100_000,
					Assignments: 1, RebalancedAfterReady: true, FinalPartitions: []int32{4, 5, 6, 7}},
			}},
			{Restart: restartOneByOne, SettledSeconds: 20, Instances: []RecoveryResult{
				{Instance: "i3", Seconds: 10, Partitions: []int32{2, 5, 8, 9, 10}, Channels: 40_000, Assignments: 2, Loading: 2,
					FinalPartitions: []int32{8, 9, 10, 11}},
			}},
			{Restart: restartTogether, Stalled: "not settled 3m0s after the first start: i2 is not ready yet", Instances: []RecoveryResult{
				{Instance: "i2", Partitions: []int32{4, 5, 6, 7}, Channels: 33_000, Assignments: 2, FinalPartitions: []int32{4, 5, 6, 7}, PeakRSS: 500 << 20},
			}},
		},
		WallSeconds: 240, LoadAverage: []string{"1.00 2.00 3.00", "4.00 5.00 6.00"},
	}}
	out := summary(rep)
	for _, want := range []string{
		"## 4. Three-broker cluster: 1,000,000 events over 100,000 channels, 12 partitions, RF 3, min ISR 2, three processors",
		"phase wall time 240.0 s; load average (1/5/15 min) 1.00 2.00 3.00 → 4.00 5.00 6.00",
		"| producer (unthrottled) | 1,000,000 | 20.0 | 50,000 | 7.0 s | 7.00 s | 200 MiB |",
		// 60 s of CPU over 1M events
		"| 3 processors (first record produced → every input committed) | 1,000,000 | 100.0 | 10,000 | 60.0 s | 60.00 s | |",
		"| 180.0 s (1.80 cores busy) |",
		// (peak − ready) / channels = 10,000 bytes
		"| i1 | 0–3 | 33,000 | 330,000 | 20.0 s | 60.61 s | 40 MiB | 355 MiB | 10,000 |",
		"State per channel: **3,000 bytes**",
		"12 ~clock keys left out",
		"Table topic on disk: 48 MiB per replica, 500 bytes per channel.",
		"| together | i1 | 5.00 s | 0–3 | 33,000 | 15.15 s | 3.30 s | 10.00 s | 0–3 | 300 MiB |  |",
		"| together | i2 | 0.20 s | 0–11 | 100,000 | 0.20 s | 0.00 s | 0.00 s | 4–7 |  | rebalanced after ready",
		"| one at a time | i3 | 10.00 s | 2,5,8–10 | 40,000 | 25.00 s | 2.00 s | 5.00 s | 8–11 |  | 2 assignments before ready |",
		"Restarted together: the group settled (every instance ready, the group stable) 6.0 s after the first start.",
		"Restarted one at a time: the group settled (every instance ready, the group stable) 20.0 s after the first start.",
		"| together | i2 | **not ready** | 4–7 (held) | 33,000 | | | | 4–7 | 500 MiB | never ready: 2 assignments logged, 0 sweeps (they begin once ready) |",
		"Restarted together: **stalled**, not settled 3m0s after the first start: i2 is not ready yet.",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}
	// only the cluster phase ran: no empty sections of the others
	for _, absent := range []string{"## 1.", "## 2.", "## 3.", "## 5.", "broker:"} {
		if strings.Contains(out, absent) {
			t.Errorf("summary has %q though that phase did not run:\n%s", absent, out)
		}
	}
}

func TestPartitionList(t *testing.T) {
	for _, tc := range []struct {
		in   []int32
		want string
	}{
		{nil, "–"}, {[]int32{3}, "3"}, {[]int32{0, 1}, "0,1"}, {[]int32{0, 1, 2, 3}, "0–3"}, {[]int32{0, 4, 5, 6, 9, 10}, "0,4–6,9,10"},
	} {
		if got := partitionList(tc.in); got != tc.want {
			t.Errorf("partitionList(%v) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// goalsGoBench is make bench's Go benchmark output, as go test prints it.
const goalsGoBench = `BenchmarkThroughputByChannels/channels=10-2     	1	874000000 ns/op	    343173 events/s	 0.09 state-MB	 8952 bytes/channel
BenchmarkThroughputByChannels/channels=1000-2   	1	1026000000 ns/op	    292319 events/s	 1.5 state-MB	 1466 bytes/channel
BenchmarkThroughputByChannels/channels=100000-2 	1	1428000000 ns/op	    210000 events/s	 57 state-MB	 580 bytes/channel
BenchmarkRecovery/channels=100-2                	1	610000000 ns/op	 0.61 recovery-s	 0.4 table-MB
BenchmarkRecovery/channels=100000-2             	1	3200000000 ns/op	 3.2 recovery-s	 378 table-MB	 31000 states/s
BenchmarkProjector/channels=5-2                 	1	763000000 ns/op	    131000 records/s
BenchmarkProjector/channels=10000-2             	1	4808000000 ns/op	     20800 records/s
BenchmarkGatewayQueries-2                       	1	61000000000 ns/op	 10000 grpc-GetChannel-req/s	 4.4 grpc-GetChannel-p99-ms	 13200 rest-GET-channel-req/s	 4.7 rest-GET-channel-p99-ms
`

// goalsRun is a full run on a real broker: every goal has its figure.
func goalsRun() *Report {
	return &Report{
		Machine: "2 cores", Broker: "external: 127.0.0.1:19492", Events: 1_000_000, Channels: 100,
		Pipeline: []StageResult{
			{Stage: "producer (unthrottled)", Records: 1_000_000, PerSecond: 339_039},
			{Stage: stageProcessor, Records: 1_000_000, PerSecond: 165_027, Usage: Usage{CPU: 6200 * time.Millisecond}},
		},
		EndToEnd: 154_000,
		Capacity: []StageResult{
			{Stage: rawConsumerStage(kafka.InputTopics()), Records: 2_000_000, PerSecond: 2_000_000, Usage: Usage{CPU: 1200 * time.Millisecond}},
			// exactly at the CPU goal: at most 3 s per 1M events is met
			{Stage: stageProcessor, Records: 2_000_000, PerSecond: 320_000, Usage: Usage{CPU: 6 * time.Second}, Baseline: 2_000_000,
				StartupSeconds: 0.8},
		},
		Freshness: []FreshnessResult{
			{Rate: 1_000, Rows: []LatencyRow{{Name: latSubscriber, Samples: 765, P99: 606 * time.Millisecond},
				{Name: latFinalSub, Samples: 20, P99: 10_404 * time.Millisecond},
				{Name: latFinalClosed, Samples: 20, P99: 300 * time.Millisecond}}},
			{Rate: 10_000, Rows: []LatencyRow{{Name: latSubscriber, Samples: 770, P99: 240 * time.Millisecond},
				{Name: latRow, Samples: 770, P99: 995 * time.Millisecond},
				// the goal is judged on the final's latency from the watermark, not this one
				{Name: latFinalSub, Samples: 20, P99: 10_373 * time.Millisecond},
				{Name: latFinalClosed, Samples: 20, P99: 200 * time.Millisecond}}},
		},
		Cluster: &ClusterResult{Channels: 100_000, State: TableState{Topic: "telemetra-windows-table", Channels: 100_000, ValueBytes: 460_800_000}},
		GoBench: ParseGoBench(goalsGoBench),
	}
}

func TestGoalResults(t *testing.T) {
	type want struct {
		id, caseName, met string
		value, baseline   float64 // 0: none
	}
	notMeasured := func(id, caseName string) want { return want{id: id, caseName: caseName, met: metNotMeasured} }
	nothing := []want{
		notMeasured("processor_throughput", ""), notMeasured("processor_cpu", ""), notMeasured("processor_startup", ""),
		notMeasured("channels_throughput", ""), notMeasured("channels_state", "Go benchmark, a few events per channel"),
		notMeasured("channels_state", "cluster phase"), notMeasured("channels_recovery", ""),
		notMeasured("projector", "5 channels"), notMeasured("projector", "10,000 channels"), notMeasured("end_to_end", ""),
		notMeasured("freshness_provisional", ""), notMeasured("freshness_final", ""),
		notMeasured("gateway_grpc", ""), notMeasured("gateway_rest", ""),
	}
	smaller := goalsRun()
	smaller.Broker, smaller.Events, smaller.Channels = brokerEmbedded, 100_000, 10
	smaller.Capacity, smaller.Freshness = nil, nil
	smaller.Cluster.Channels = 10_000
	smaller.GoBench = ParseGoBench("BenchmarkRecovery/channels=100-2  1  610000000 ns/op  0.61 recovery-s\n")
	for _, tc := range []struct {
		name string
		rep  *Report
		want []want
	}{
		{"nothing ran: every goal is there, not measured", &Report{}, nothing},
		{"a full run on a real broker", goalsRun(), []want{
			{"processor_throughput", "", metYes, 320_000, 2_000_000},
			{"processor_cpu", "", metYes, 3, 0.6},
			// timed on a warm broker: shown, never judged against a fresh broker's goal
			{"processor_startup", "", metNotComparable, 0.8, 0},
			{"channels_throughput", "", metYes, 210_000, 343_173}, // against 10 channels
			{"channels_state", "Go benchmark, a few events per channel", metYes, 580, 0},
			{"channels_state", "cluster phase", metNo, 4_608, 0},
			{"channels_recovery", "", metNo, 3.2, 0.61},
			{"projector", "5 channels", metYes, 131_000, 0},
			{"projector", "10,000 channels", metNo, 20_800, 0},
			{"end_to_end", "", metNo, 154_000, 0},
			{"freshness_provisional", "", metYes, 240, 606}, // against 1,000 events/s
			{"freshness_final", "", metYes, 200, 300},
			{"gateway_grpc", "", metNo, 10_000, 0},
			{"gateway_rest", "", metNo, 13_200, 0},
		}},
		{"a smaller run on the embedded broker, pipeline phase only", smaller, []want{
			{"processor_throughput", "", metNotComparable, 165_027, 0},
			{"processor_cpu", "", metNotComparable, 6.2, 0},
			notMeasured("processor_startup", ""),
			notMeasured("channels_throughput", ""),
			notMeasured("channels_state", "Go benchmark, a few events per channel"),
			{"channels_state", "cluster phase", metNotComparable, 4_608, 0},
			notMeasured("channels_recovery", ""), // only its 100 channels ran
			notMeasured("projector", "5 channels"), notMeasured("projector", "10,000 channels"),
			{"end_to_end", "", metNotComparable, 154_000, 0},
			notMeasured("freshness_provisional", ""), notMeasured("freshness_final", ""),
			notMeasured("gateway_grpc", ""), notMeasured("gateway_rest", ""),
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := goalResults(tc.rep)
			if len(got) != len(tc.want) {
				t.Fatalf("%d rows, want %d: %+v", len(got), len(tc.want), got)
			}
			for i, w := range tc.want {
				g := got[i]
				if g.ID != w.id || g.Case != w.caseName || g.Met != w.met || !near(g.Value, w.value) || !near(g.BaselineValue, w.baseline) {
					t.Errorf("row %d: got %s %q %s value %v baseline %v (%s), want %s %q %s value %v baseline %v",
						i, g.ID, g.Case, g.Met, g.Value, g.BaselineValue, g.Source, w.id, w.caseName, w.met, w.value, w.baseline)
				}
				if g.Met == metNotMeasured && (g.Source == "" || g.Value != 0 || g.Baseline != "") {
					t.Errorf("row %d: not measured without a reason, or with a figure: %+v", i, g)
				}
				if g.Met == metNotComparable && g.Note == "" {
					t.Errorf("row %d: not comparable without saying why: %+v", i, g)
				}
			}
		})
	}
}

func near(a, b float64) bool { return math.Abs(a-b) <= 1e-9*math.Max(1, math.Abs(b)) }

func TestSummaryStartsWithTheGoals(t *testing.T) {
	out := summary(goalsRun())
	if first := strings.Index(out, "\n## "); first < 0 || !strings.HasPrefix(out[first+1:], "## Goals (issue #17)\n") {
		t.Fatalf("the goals are not the first section:\n%s", out)
	}
	for _, want := range []string{
		"| what | goal | measured in this run | baseline in the same run (ratio) | met? |",
		"| processor throughput: 1M events over 100 channels on a real broker | ≥ 300,000 events/s | 320,000 events/s (capacity phase: alone on the backlog, 2,000,000 events) | raw franz-go consumer of the same topics: 2,000,000 events/s (0.16) | yes |",
		"| processor CPU: 1M events over 100 channels | ≤ 3 CPU-s per 1M events | 3.00 CPU-s per 1M events (capacity phase: alone on the backlog, 2,000,000 events) | raw franz-go consumer of the same topics: 0.60 CPU-s per 1M events (5.00) | yes |",
		"| processor start-up on a fresh broker, before the first event | ≤ 1 s | 0.80 s (capacity phase: process launched → first input record processed (polled every 50 ms)) |  | not comparable: a new group on a warm broker with its topics: a lower bound of a start on a fresh broker |",
		"| throughput at 100k channels | ≥ 200,000 events/s | 210,000 events/s (BenchmarkThroughputByChannels/channels=100000, events/s) | BenchmarkThroughputByChannels/channels=10: 343,173 events/s (0.61) | yes |",
		"| state per channel at 100k channels: cluster phase | ≤ 4,000 bytes | 4,608 bytes (cluster phase: telemetra-windows-table, the current value of each of 100,000 channel keys) |  | no |",
		"| recovery of 100k channels | ≤ 3 s | 3.20 s (BenchmarkRecovery/channels=100000, recovery-s) | BenchmarkRecovery/channels=100: 0.61 s (5.25) | no |",
		"| projector alone (judged on records/s): 5 channels | ≥ 100,000 records/s | 131,000 records/s",
		`| freshness: a provisional update at a subscriber, p99 at 10k events/s | ≤ 250 ms | 240 ms (freshness phase: "provisional update at a subscriber", 770 samples) | the same at 1,000 events/s: 606 ms (0.40) | yes |`,
		`| 200 ms (freshness phase: "final window at a subscriber, from the watermark passing the window", 20 samples) | the same at 1,000 events/s: 300 ms (0.67) | yes |`,
		"| gateway GetChannel over REST | ≥ 30,000 req/s | 13,200 req/s (BenchmarkGatewayQueries, rest-GET-channel-req/s) |  | no |",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}
}
