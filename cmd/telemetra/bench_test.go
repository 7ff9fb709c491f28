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
