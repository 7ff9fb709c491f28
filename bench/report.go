package bench

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// GoBenchResult is one metric of one `go test -bench` result line.
type GoBenchResult struct {
	Benchmark string  `json:"benchmark"`
	Metric    string  `json:"metric"`
	Value     float64 `json:"value"`
}

// ParseGoBench reads the custom metrics of `go test -bench` output (ns/op and the memory
// columns are left out: each of these benchmarks is one timed run with its own figures).
func ParseGoBench(out string) []GoBenchResult {
	var res []GoBenchResult
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") {
			continue
		}
		if _, err := strconv.Atoi(f[1]); err != nil {
			continue
		}
		name := f[0]
		if i := strings.LastIndexByte(name, '-'); i > 0 {
			if _, err := strconv.Atoi(name[i+1:]); err == nil {
				name = name[:i] // the GOMAXPROCS suffix
			}
		}
		for i := 2; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				break
			}
			switch f[i+1] {
			case "ns/op", "B/op", "allocs/op":
				continue
			}
			res = append(res, GoBenchResult{Benchmark: name, Metric: f[i+1], Value: v})
		}
	}
	return res
}

// summary renders the report as the Markdown tables of summary.md.
func summary(rep *Report) string {
	var b strings.Builder
	w := &b
	fmt.Fprintf(w, "# telemetra bench\n\n%s; broker: %s; %s\n\n", rep.Machine, rep.Broker, rep.StartedAt.Format(time.RFC3339))
	fmt.Fprintf(w, "## 1. Pipeline: %d events over %d channels, producer unthrottled, every role running\n\n", rep.Events, rep.Channels)
	fmt.Fprintln(w, "| stage | records | seconds | records/s | CPU | CPU per 1M records | peak RSS |")
	fmt.Fprintln(w, "| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
	for _, s := range rep.Pipeline {
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %s |\n", s.Stage, count(s.Records), secs(s.Seconds), perSec(s.PerSecond),
			cpu(s.Usage.CPU), cpuPer(s), mib(s.Usage.PeakRSS))
	}
	fmt.Fprintf(w, "\nEnd to end (first event produced → every output of the last event in PostgreSQL): **%s events/s**\n\n", perSec(rep.EndToEnd))

	fmt.Fprintln(w, "## 2. Freshness at fixed rates (real time; gateway subscriber and PostgreSQL poller)")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| rate (events/s) | from the window's latest event to the | samples | p50 | p95 | p99 |")
	fmt.Fprintln(w, "| ---: | --- | ---: | ---: | ---: | ---: |")
	for _, f := range rep.Freshness {
		for _, r := range f.Rows {
			fmt.Fprintf(w, "| %s | %s | %d | %s | %s | %s |\n", count(int64(f.Rate)), r.Name, r.Samples, ms(r.P50), ms(r.P95), ms(r.P99))
		}
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| rate (events/s) | role | CPU | cores busy | peak RSS |")
	fmt.Fprintln(w, "| ---: | --- | ---: | ---: | ---: |")
	for _, f := range rep.Freshness {
		for _, name := range sortedKeys(f.Usage) {
			u := f.Usage[name]
			fmt.Fprintf(w, "| %s | %s | %s | %.2f | %s |\n", count(int64(f.Rate)), name, cpu(u.CPU),
				u.CPU.Seconds()/max(f.Seconds, 1), mib(u.PeakRSS))
		}
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "## 3. Each stage alone on the backlog, against a raw consumer of the same topics")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| stage | records | records/s | raw consumer records/s | ratio | CPU per 1M records | peak RSS |")
	fmt.Fprintln(w, "| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
	for _, s := range rep.Capacity {
		ratio, base := "", ""
		if s.Baseline > 0 {
			ratio = fmt.Sprintf("%.2f", s.PerSecond/s.Baseline)
			base = perSec(s.Baseline)
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %s |\n", s.Stage, count(s.Records), perSec(s.PerSecond), base, ratio, cpuPer(s), mib(s.Usage.PeakRSS))
	}
	if len(rep.GoBench) > 0 {
		fmt.Fprintln(w)
		fmt.Fprintln(w, "## 4. Go benchmarks: replay, recovery, scale by channels, queries")
		fmt.Fprintln(w)
		fmt.Fprintln(w, "| benchmark | metric | value |")
		fmt.Fprintln(w, "| --- | --- | ---: |")
		for _, g := range rep.GoBench {
			fmt.Fprintf(w, "| %s | %s | %s |\n", g.Benchmark, g.Metric, strconv.FormatFloat(g.Value, 'f', -1, 64))
		}
	}
	return b.String()
}

func sortedKeys(m map[string]Usage) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func count(n int64) string {
	s := strconv.FormatInt(n, 10)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

func perSec(v float64) string {
	if v == 0 {
		return ""
	}
	return count(int64(v + 0.5))
}

func secs(v float64) string {
	if v == 0 {
		return ""
	}
	return fmt.Sprintf("%.1f", v)
}

func cpu(d time.Duration) string { return fmt.Sprintf("%.1f s", d.Seconds()) }

func cpuPer(s StageResult) string {
	if s.Records == 0 {
		return ""
	}
	return fmt.Sprintf("%.2f s", s.CPUPerMillion().Seconds())
}

func mib(b int64) string {
	if b == 0 {
		return ""
	}
	return fmt.Sprintf("%.0f MiB", float64(b)/(1<<20))
}

func ms(d time.Duration) string {
	return fmt.Sprintf("%.0f ms", float64(d)/float64(time.Millisecond))
}
