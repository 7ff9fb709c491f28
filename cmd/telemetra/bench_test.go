package main

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/telemetra/telemetra/bench"
)

// TestBenchRunsEveryPhase runs `telemetra bench` small (embedded broker, a private
// PostgreSQL) so the suite `make bench` depends on keeps working: every phase reports figures,
// and the summary and charts are written. The figures themselves are not asserted: they are
// measurements, and this machine is shared.
func TestBenchRunsEveryPhase(t *testing.T) {
	if testing.Short() {
		t.Skip("short mode")
	}
	bin := filepath.Join(t.TempDir(), "telemetra")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	dir := t.TempDir()
	goBench := filepath.Join(dir, "go-bench.txt")
	if err := os.WriteFile(goBench, []byte("BenchmarkRecovery/channels=100-2  1  610000000 ns/op  0.61 recovery-s\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "bench", "--events", "100000", "--channels", "10", "--rates", "300",
		"--freshness-duration", "8s", "--dir", dir, "--go-bench-results", goBench, "--log-level", "warn")
	out, err := cmd.CombinedOutput()
	if err != nil {
		logs, _ := filepath.Glob(filepath.Join(dir, "logs", "*.log"))
		for _, l := range logs {
			raw, _ := os.ReadFile(l)
			t.Logf("%s:\n%s", filepath.Base(l), tailOf(string(raw), 2000))
		}
		t.Fatalf("bench: %v\n%s", err, out)
	}
	for _, want := range []string{"## 1. Pipeline", "## 2. Freshness", "## 3. Each stage alone", "BenchmarkRecovery/channels=100 | recovery-s | 0.61"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}
	raw, err := os.ReadFile(filepath.Join(dir, "results.json"))
	if err != nil {
		t.Fatal(err)
	}
	var rep bench.Report
	if err := json.Unmarshal(raw, &rep); err != nil {
		t.Fatal(err)
	}
	for _, s := range rep.Pipeline[:3] {
		if s.PerSecond <= 0 || s.Usage.CPU <= 0 || s.Usage.PeakRSS <= 0 {
			t.Errorf("pipeline stage without figures: %+v", s)
		}
	}
	if rep.EndToEnd <= 0 {
		t.Errorf("no end-to-end rate")
	}
	if len(rep.Freshness) != 1 {
		t.Fatalf("freshness: %+v", rep.Freshness)
	}
	for _, r := range rep.Freshness[0].Rows[:3] {
		if r.Samples == 0 || r.P50 <= 0 || r.P99 < r.P50 {
			t.Errorf("latency without samples or out of order: %+v", r)
		}
	}
	// a few hundred output records go through in one poll, so the projector's rate stays
	// blank at this size: its figure comes from BenchmarkProjector
	if len(rep.Capacity) != 4 {
		t.Fatalf("capacity: %+v, want the raw consumer and a stage, for the inputs and the outputs", rep.Capacity)
	}
	for _, s := range rep.Capacity {
		if s.Records <= 0 {
			t.Errorf("capacity stage without records: %+v", s)
		}
	}
	if proc := rep.Capacity[1]; proc.PerSecond <= 0 || proc.Baseline <= 0 {
		t.Errorf("the processor alone has no rate or no baseline: %+v", proc)
	}
	for _, f := range []string{"summary.md", "freshness.svg", "capacity.svg"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Error(err)
		}
	}
}

func tailOf(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// TestBenchClusterPhase runs the cluster phase alone, small, on the fresh three-broker cluster
// whose bootstrap list is in TELEMETRA_BENCH_CLUSTER (scripts/kafka-cluster.sh start); without
// it the test is skipped. The phase refuses a cluster that already holds its topics' records.
func TestBenchClusterPhase(t *testing.T) {
	cluster := os.Getenv("TELEMETRA_BENCH_CLUSTER")
	if cluster == "" {
		t.Skip("TELEMETRA_BENCH_CLUSTER (a fresh three-broker cluster's bootstrap list) not set")
	}
	bin := filepath.Join(t.TempDir(), "telemetra")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, "bench", "--phases", "cluster", "--cluster-brokers", cluster,
		"--cluster-events", "50000", "--cluster-channels", "10000", "--dir", dir, "--log-level", "warn").CombinedOutput()
	if err != nil {
		logs, _ := filepath.Glob(filepath.Join(dir, "logs", "*.log"))
		for _, l := range logs {
			raw, _ := os.ReadFile(l)
			t.Logf("%s:\n%s", filepath.Base(l), tailOf(string(raw), 2000))
		}
		t.Fatalf("bench: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "## 4. Three-broker cluster") || strings.Contains(string(out), "## 1. Pipeline") {
		t.Errorf("want the cluster section alone:\n%s", out)
	}
	raw, err := os.ReadFile(filepath.Join(dir, "results.json"))
	if err != nil {
		t.Fatal(err)
	}
	var rep bench.Report
	if err := json.Unmarshal(raw, &rep); err != nil {
		t.Fatal(err)
	}
	c := rep.Cluster
	if c == nil || c.PerSecond <= 0 || len(c.Instances) != 3 {
		t.Fatalf("cluster result without a rate or instances: %+v", c)
	}
	channels := 0
	for _, in := range c.Instances {
		if len(in.Partitions) == 0 || in.Usage.CPU <= 0 || in.Usage.PeakRSS <= 0 {
			t.Errorf("instance without partitions or usage: %+v", in)
		}
		channels += in.Channels
	}
	if channels != 10000 {
		t.Errorf("the instances hold %d channels, want all 10000", channels)
	}
	if c.State.Channels != 10000 || c.State.BytesPerChannel() <= 0 {
		t.Errorf("state: %+v", c.State)
	}
	if len(c.Recovery) != 2 {
		t.Fatalf("recovery rounds: %+v", c.Recovery)
	}
	for _, r := range c.Recovery {
		if r.Stalled != "" {
			// goka's readiness can hang after a rebalance cut a setup short (docs/performance.md):
			// the bench reports it rather than fail, and so does this test
			t.Logf("restarted %s: %s", r.Restart, r.Stalled)
			continue
		}
		for _, in := range r.Instances {
			if in.Seconds <= 0 || len(in.FinalPartitions) == 0 {
				t.Errorf("%s: instance without a recovery or partitions: %+v", r.Restart, in)
			}
		}
	}
}
