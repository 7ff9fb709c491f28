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

// summary renders the report as the Markdown tables of summary.md: the goals of issue #17
// first, every one of them, then a section per phase that ran.
func summary(rep *Report) string {
	var b strings.Builder
	w := &b
	broker := ""
	if rep.Broker != "" {
		broker = "broker: " + rep.Broker + "; "
	}
	fmt.Fprintf(w, "# telemetra bench\n\n%s; %s%s\n\n", rep.Machine, broker, rep.StartedAt.Format(time.RFC3339))
	goalTable(w, goalResults(rep))
	if len(rep.Pipeline) > 0 {
		fmt.Fprintf(w, "## 1. Pipeline: %d events over %d channels, producer unthrottled, every role running\n\n", rep.Events, rep.Channels)
		fmt.Fprintln(w, "| stage | records | seconds | records/s | CPU | CPU per 1M records | peak RSS |")
		fmt.Fprintln(w, "| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
		for _, s := range rep.Pipeline {
			fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %s |\n", s.Stage, count(s.Records), secs(s.Seconds), perSec(s.PerSecond),
				cpu(s.Usage.CPU), cpuPer(s), mib(s.Usage.PeakRSS))
		}
		fmt.Fprintf(w, "\nEnd to end (first event produced → every output of the last event in PostgreSQL): **%s events/s**\n\n", perSec(rep.EndToEnd))
	}
	if len(rep.Freshness) > 0 {
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
	}
	if len(rep.Capacity) > 0 {
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
		fmt.Fprintln(w)
	}
	if rep.Cluster != nil {
		clusterSummary(w, rep.Cluster)
	}
	if len(rep.GoBench) > 0 {
		fmt.Fprintln(w, "## 5. Go benchmarks: replay, recovery, scale by channels, queries")
		fmt.Fprintln(w)
		fmt.Fprintln(w, "| benchmark | metric | value |")
		fmt.Fprintln(w, "| --- | --- | ---: |")
		for _, g := range rep.GoBench {
			fmt.Fprintf(w, "| %s | %s | %s |\n", g.Benchmark, g.Metric, strconv.FormatFloat(g.Value, 'f', -1, 64))
		}
	}
	return b.String()
}

// clusterSummary is section 4, the cluster phase.
func clusterSummary(w *strings.Builder, c *ClusterResult) {
	fmt.Fprintf(w, "## 4. Three-broker cluster: %s events over %s channels, %d partitions, RF %d, min ISR %d, three processors\n\n",
		count(c.Events), count(int64(c.Channels)), c.Partitions, c.ReplicationFactor, c.MinInsyncReplicas)
	fmt.Fprintf(w, "Brokers %s; events %s apart in event time; phase wall time %s s; load average (1/5/15 min) %s.\n\n",
		c.Brokers, c.TimeStep, secs(c.WallSeconds), strings.Join(c.LoadAverage, " → "))
	fmt.Fprintln(w, "| stage | events | seconds | events/s | CPU | CPU per 1M events | peak RSS |")
	fmt.Fprintln(w, "| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
	p := c.Producer
	fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %s |\n", p.Stage, count(p.Records), secs(p.Seconds), perSec(p.PerSecond), cpu(p.Usage.CPU), cpuPer(p), mib(p.Usage.PeakRSS))
	var cpuSum time.Duration
	for _, in := range c.Instances {
		cpuSum += in.Usage.CPU
	}
	fmt.Fprintf(w, "| 3 processors (first record produced → every input committed) | %s | %s | %s | %s | %.2f s | |\n",
		count(c.Events), secs(c.Seconds), perSec(c.PerSecond), cpu(cpuSum), c.CPUPerMillion().Seconds())
	if c.MachineCPU > 0 && c.Seconds > 0 {
		fmt.Fprintf(w, "| the whole machine over the same interval (/proc/stat: brokers, others' load) | | | | %s (%.2f cores busy) | | |\n",
			cpu(c.MachineCPU), c.MachineCPU.Seconds()/c.Seconds)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| instance | partitions | channels | events processed | CPU | CPU per 1M events | RSS ready (empty) | peak RSS | peak RSS growth per channel |")
	fmt.Fprintln(w, "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
	for _, in := range c.Instances {
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %.2f s | %s | %s | %s |\n", in.Instance, partitionList(in.Partitions), count(int64(in.Channels)),
			count(in.Events), cpu(in.Usage.CPU), in.CPUPerMillion().Seconds(), mib(in.ReadyRSS), mib(in.Usage.PeakRSS), bytesOf(in.RSSPerChannel()))
	}
	st := c.State
	fmt.Fprintf(w, "\nState per channel: **%s bytes** (%s: the latest value of each of %s channel keys, %s bytes, read to the end once the group caught up; %s records read; %d ~clock keys left out). Table topic on disk: %s per replica, %s bytes per channel.\n\n",
		bytesOf(st.BytesPerChannel()), st.Topic, count(int64(st.Channels)), count(st.ValueBytes), count(st.Records), st.OtherKeys,
		mib(st.DiskBytes), bytesOf(st.DiskBytesPerChannel()))
	fmt.Fprintln(w, "Recovery: the instances stopped (SIGTERM) and started again. The gauge is telemetra_processor_state_recovery_seconds (start → ready); assigned → ready is from the log.")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| restart | instance | recovery (gauge) | partitions recovered | channels | s per 100k channels | assigned → ready | its s per 100k channels | partitions once settled | peak RSS | note |")
	fmt.Fprintln(w, "| --- | --- | ---: | --- | ---: | ---: | ---: | ---: | --- | ---: | --- |")
	for _, r := range c.Recovery {
		for _, in := range r.Instances {
			if in.Seconds <= 0 {
				fmt.Fprintf(w, "| %s | %s | **not ready** | %s (held) | %s | | | | %s | %s | %s |\n", r.Restart, in.Instance, partitionList(in.Partitions),
					count(int64(in.Channels)), partitionList(in.FinalPartitions), mib(in.PeakRSS), recoveryNote(in))
				continue
			}
			fmt.Fprintf(w, "| %s | %s | %.2f s | %s | %s | %.2f s | %.2f s | %.2f s | %s | %s | %s |\n", r.Restart, in.Instance, in.Seconds, partitionList(in.Partitions),
				count(int64(in.Channels)), in.PerHundredThousand(), in.Loading, in.LoadingPerHundredThousand(), partitionList(in.FinalPartitions), mib(in.PeakRSS), recoveryNote(in))
		}
	}
	fmt.Fprintln(w)
	for _, r := range c.Recovery {
		if r.Stalled != "" {
			fmt.Fprintf(w, "Restarted %s: **stalled**, %s.\n", r.Restart, r.Stalled)
			continue
		}
		fmt.Fprintf(w, "Restarted %s: the group settled (every instance ready, the group stable) %s s after the first start.\n", r.Restart, secs(r.SettledSeconds))
	}
	fmt.Fprintln(w)
}

// recoveryNote says what a recovery row's gauge may not cover.
func recoveryNote(r RecoveryResult) string {
	var notes []string
	if r.Seconds <= 0 {
		return fmt.Sprintf("never ready: %d assignments logged, %d sweeps (they begin once ready)", r.Assignments, r.Sweeps)
	}
	if r.Assignments > 1 {
		notes = append(notes, fmt.Sprintf("%d assignments before ready", r.Assignments))
	}
	if r.RebalancedAfterReady {
		notes = append(notes, "rebalanced after ready: the gauge does not cover the partitions once settled")
	}
	return strings.Join(notes, "; ")
}

// partitionList is partitions as "0-3" or "0,4,8".
func partitionList(ps []int32) string {
	var parts []string
	for i := 0; i < len(ps); {
		j := i
		for j+1 < len(ps) && ps[j+1] == ps[j]+1 {
			j++
		}
		if j > i+1 {
			parts = append(parts, fmt.Sprintf("%d–%d", ps[i], ps[j]))
		} else {
			for k := i; k <= j; k++ {
				parts = append(parts, strconv.Itoa(int(ps[k])))
			}
		}
		i = j + 1
	}
	if len(parts) == 0 {
		return "–"
	}
	return strings.Join(parts, ",")
}

func bytesOf(v float64) string {
	if v == 0 {
		return ""
	}
	return count(int64(v + 0.5))
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
