package bench

import (
	"strings"
	"testing"
	"time"
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
