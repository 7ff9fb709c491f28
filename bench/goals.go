package bench

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/telemetra/telemetra/internal/kafka"
)

// GoalResult is one goal of issue #17 beside this run's figure: a row of the summary's first
// table, and of results.json's "goals".
type GoalResult struct {
	ID     string  `json:"id"`
	What   string  `json:"what"`
	Case   string  `json:"case,omitempty"` // which of a goal's figures, when it has several
	Goal   string  `json:"goal"`           // as printed: "≥ 300,000 events/s"
	Limit  float64 `json:"limit"`
	AtMost bool    `json:"at_most"` // the figure must stay at or below Limit; else reach it
	Unit   string  `json:"unit"`
	// Value is the figure in Unit; Source is where in the run it comes from, or, not
	// measured, why the run has none.
	Value         float64 `json:"value"`
	Source        string  `json:"source"`
	Baseline      string  `json:"baseline,omitempty"` // what the figure is compared with in the same run
	BaselineValue float64 `json:"baseline_value,omitempty"`
	Ratio         float64 `json:"ratio,omitempty"` // Value / BaselineValue
	Met           string  `json:"met"`             // metYes, metNo, metNotMeasured or metNotComparable
	Note          string  `json:"note,omitempty"`  // why a figure is not comparable
}

// The verdicts of a goal.
const (
	metYes         = "yes"
	metNo          = "no"
	metNotMeasured = "not measured"
	// the figure was taken otherwise than the goal is stated: shown, never judged
	metNotComparable = "not comparable"
)

// The units of the goals; amount prints the ones in seconds to the hundredth.
const (
	unitEvents   = "events/s"
	unitRecords  = "records/s"
	unitRequests = "req/s"
	unitCPU      = "CPU-s per 1M events"
	unitSeconds  = "s"
	unitBytes    = "bytes"
	unitMillis   = "ms"
)

// The Go benchmarks of scripts/bench.sh that goals read: a sub-benchmark per channel count is
// named benchmark + "/channels=" + count (ParseGoBench drops the -GOMAXPROCS suffix).
const (
	benchByChannels = "BenchmarkThroughputByChannels" // processors/aggregator/scale_bench_test.go
	benchRecovery   = "BenchmarkRecovery"             // processors/aggregator/scale_bench_test.go
	benchProjector  = "BenchmarkProjector"            // views/projector/bench_test.go
	benchQueries    = "BenchmarkGatewayQueries"       // gateway/bench_test.go, metrics "<slug>-req/s"
	subChannels     = "/channels="
)

// goal is one goal of issue #17: its limit, the conditions it is stated for, and where a
// run's figure for it comes from.
type goal struct {
	id   string
	what string
	// The conditions (zero: not stated): a figure taken otherwise is not comparable.
	events     int64 // events of the run
	channels   int   // channels of the run, or of the Go sub-benchmark read
	rate       int   // events/s of the freshness run
	realBroker bool  // not the embedded kfake broker
	atMost     bool  // the figure must stay at or below limit; else reach it
	limit      float64
	unit       string
	// measure returns the run's figures for the goal, one a row; a goal the run has no figure
	// for gets a figure that is not measured, so its row stays.
	measure func(*Report, goal) []figure
}

// goals are issue #17's goals in its order: the one place their numbers are written.
var goals = []goal{
	{id: "processor_throughput", what: "processor throughput: 1M events over 100 channels on a real broker",
		events: 1_000_000, channels: 100, realBroker: true, limit: 300_000, unit: unitEvents, measure: processorThroughput},
	{id: "processor_cpu", what: "processor CPU: 1M events over 100 channels",
		events: 1_000_000, channels: 100, atMost: true, limit: 3, unit: unitCPU, measure: processorCPU},
	{id: "processor_startup", what: "processor start-up on a fresh broker, before the first event",
		atMost: true, limit: 1, unit: unitSeconds, measure: processorStartup},
	{id: "channels_throughput", what: "throughput at 100k channels",
		channels: 100_000, limit: 200_000, unit: unitEvents, measure: channelsThroughput},
	{id: "channels_state", what: "state per channel at 100k channels",
		channels: 100_000, atMost: true, limit: 4_000, unit: unitBytes, measure: channelsState}, // 4 KB, as the docs count KB
	{id: "channels_recovery", what: "recovery of 100k channels",
		channels: 100_000, atMost: true, limit: 3, unit: unitSeconds, measure: channelsRecovery},
	{id: "projector", what: "projector alone (judged on records/s)",
		limit: 100_000, unit: unitRecords, measure: projectorAlone},
	{id: "end_to_end", what: "end to end: 1M events through producer, processor and projector",
		events: 1_000_000, limit: 250_000, unit: unitEvents, measure: endToEnd},
	{id: "freshness_provisional", what: "freshness: a provisional update at a subscriber, p99 at 10k events/s",
		rate: 10_000, atMost: true, limit: 250, unit: unitMillis, measure: freshnessProvisional},
	{id: "freshness_final", what: "freshness: a final at a subscriber after the watermark passes its window, p99",
		rate: 10_000, atMost: true, limit: 250, unit: unitMillis, measure: freshnessFinal},
	{id: "gateway_grpc", what: "gateway GetChannel over gRPC",
		limit: 30_000, unit: unitRequests, measure: gatewayQueries("grpc-GetChannel-req/s")},
	{id: "gateway_rest", what: "gateway GetChannel over REST",
		limit: 30_000, unit: unitRequests, measure: gatewayQueries("rest-GET-channel-req/s")},
}

// figure is one figure a run has for a goal.
type figure struct {
	caseName  string // which one, when a goal has several
	measured  bool
	value     float64
	source    string // where it comes from; not measured: why there is none
	baseline  string // what it is compared with in the same run ("": nothing)
	baseValue float64
	// incomparable says how the figure was taken otherwise than the goal is stated ("": as stated)
	incomparable string
}

func notMeasured(why string) figure { return figure{source: why} }

// goalResults is every goal of issue #17 beside this run's figure, in the order.
func goalResults(rep *Report) []GoalResult {
	var out []GoalResult
	for _, g := range goals {
		for _, f := range g.measure(rep, g) {
			r := GoalResult{ID: g.id, What: g.what, Case: f.caseName, Goal: g.target(), Limit: g.limit, AtMost: g.atMost,
				Unit: g.unit, Source: f.source, Met: metNotMeasured}
			if f.measured {
				r.Value = f.value
				if f.baseline != "" && f.baseValue > 0 {
					r.Baseline, r.BaselineValue, r.Ratio = f.baseline, f.baseValue, f.value/f.baseValue
				}
				switch {
				case f.incomparable != "":
					r.Met, r.Note = metNotComparable, f.incomparable
				case g.met(f.value):
					r.Met = metYes
				default:
					r.Met = metNo
				}
			}
			out = append(out, r)
		}
	}
	return out
}

func (g goal) met(v float64) bool {
	if g.atMost {
		return v <= g.limit
	}
	return v >= g.limit
}

func (g goal) target() string {
	op := "≥"
	if g.atMost {
		op = "≤"
	}
	limit := strconv.FormatFloat(g.limit, 'f', -1, 64)
	if g.limit == math.Trunc(g.limit) {
		limit = count(int64(g.limit))
	}
	return op + " " + limit + " " + g.unit
}

// conditions says how the run differs from what goal g is stated for ("": it does not).
func (g goal) conditions(rep *Report) string {
	var diff []string
	if g.realBroker && rep.Broker == brokerEmbedded {
		diff = append(diff, "on the embedded broker (kfake), not a real one")
	}
	if (g.events > 0 && rep.Events != g.events) || (g.channels > 0 && rep.Channels != g.channels) {
		diff = append(diff, fmt.Sprintf("the run had %s events over %s channels", count(rep.Events), count(int64(rep.Channels))))
	}
	return strings.Join(diff, "; ")
}

// processorStage is the processor's stage the throughput and CPU goals read: alone on the
// backlog (capacity phase) if that ran, else in the pipeline phase.
func processorStage(rep *Report) (StageResult, string, bool) {
	for _, s := range rep.Capacity {
		if s.Stage == stageProcessor && s.PerSecond > 0 {
			return s, fmt.Sprintf("capacity phase: alone on the backlog, %s events", count(s.Records)), true
		}
	}
	for _, s := range rep.Pipeline {
		if s.Stage == stageProcessor && s.PerSecond > 0 {
			return s, fmt.Sprintf("pipeline phase: %s events, producer and projector running", count(s.Records)), true
		}
	}
	return StageResult{}, "", false
}

const noProcessorStage = "the pipeline and capacity phases did not run, or gave the processor no rate"

func processorThroughput(rep *Report, g goal) []figure {
	s, source, ok := processorStage(rep)
	if !ok {
		return []figure{notMeasured(noProcessorStage)}
	}
	f := figure{measured: true, value: s.PerSecond, source: source, incomparable: g.conditions(rep)}
	if s.Baseline > 0 {
		f.baseline, f.baseValue = "raw franz-go consumer of the same topics", s.Baseline
	}
	return []figure{f}
}

func processorCPU(rep *Report, g goal) []figure {
	s, source, ok := processorStage(rep)
	if !ok || s.Usage.CPU <= 0 {
		return []figure{notMeasured(noProcessorStage)}
	}
	f := figure{measured: true, value: s.CPUPerMillion().Seconds(), source: source, incomparable: g.conditions(rep)}
	if s.Baseline > 0 { // alone on the backlog: the raw consumer read the same inputs before it
		raw := rawConsumerStage(kafka.InputTopics())
		for _, b := range rep.Capacity {
			if b.Stage == raw && b.Records > 0 && b.Usage.CPU > 0 {
				f.baseline, f.baseValue = "raw franz-go consumer of the same topics", b.CPUPerMillion().Seconds()
				break
			}
		}
	}
	return []figure{f}
}

// processorStartup is the capacity phase's start-up of a processor of a new generation: a new
// group and state table, but on a broker and topics that are warm, so a lower bound of a start
// on a fresh broker, never judged against the goal.
func processorStartup(rep *Report, _ goal) []figure {
	for _, s := range rep.Capacity {
		if s.Stage == stageProcessor && s.StartupSeconds > 0 {
			return []figure{{measured: true, value: s.StartupSeconds,
				source:       "capacity phase: process launched → first input record processed (polled every 50 ms)",
				incomparable: "a new group on a warm broker with its topics: a lower bound of a start on a fresh broker"}}
		}
	}
	return []figure{notMeasured("the capacity phase did not run, or timed no processor start-up")}
}

func subBenchmark(benchmark string, channels int) string {
	return benchmark + subChannels + strconv.Itoa(channels)
}

// goBench is metric of the Go benchmark named name, or why the run has none.
func goBench(rep *Report, name, metric string) figure {
	for _, r := range rep.GoBench {
		if r.Benchmark == name && r.Metric == metric {
			return figure{measured: true, value: r.Value, source: name + ", " + metric}
		}
	}
	if len(rep.GoBench) == 0 {
		return notMeasured("no Go benchmark results in this run")
	}
	return notMeasured(name + " " + metric + " is not in the Go benchmark results (skipped or failed)")
}

// withFewestChannels sets f's baseline to metric of benchmark's sub-benchmark with the fewest
// channels below channels, if the run has one.
func withFewestChannels(f figure, rep *Report, benchmark, metric string, channels int) figure {
	if !f.measured {
		return f
	}
	fewest := channels
	for _, r := range rep.GoBench {
		sub, ok := strings.CutPrefix(r.Benchmark, benchmark+subChannels)
		if !ok || r.Metric != metric {
			continue
		}
		if n, err := strconv.Atoi(sub); err == nil && n < fewest {
			fewest, f.baseline, f.baseValue = n, r.Benchmark, r.Value
		}
	}
	return f
}

func channelsThroughput(rep *Report, g goal) []figure {
	f := goBench(rep, subBenchmark(benchByChannels, g.channels), "events/s")
	return []figure{withFewestChannels(f, rep, benchByChannels, "events/s", g.channels)}
}

// channelsState is the Go benchmark's newest table record per channel and, if it ran, the
// cluster phase's current value per channel key.
func channelsState(rep *Report, g goal) []figure {
	bench := goBench(rep, subBenchmark(benchByChannels, g.channels), "bytes/channel")
	bench.caseName = "Go benchmark, a few events per channel"
	cluster := notMeasured("the cluster phase did not run")
	cluster.caseName = "cluster phase"
	if c := rep.Cluster; c != nil && c.State.Channels > 0 {
		cluster.measured, cluster.value = true, c.State.BytesPerChannel()
		cluster.source = fmt.Sprintf("cluster phase: %s, the current value of each of %s channel keys", c.State.Topic, count(int64(c.State.Channels)))
		if c.Channels != g.channels {
			cluster.incomparable = fmt.Sprintf("the phase had %s channels", count(int64(c.Channels)))
		}
	}
	return []figure{bench, cluster}
}

func channelsRecovery(rep *Report, g goal) []figure {
	f := goBench(rep, subBenchmark(benchRecovery, g.channels), "recovery-s")
	return []figure{withFewestChannels(f, rep, benchRecovery, "recovery-s", g.channels)}
}

// projectorAlone is BenchmarkProjector's two cases: it counts the records it read, and over 5
// channels most of them are versions of a window that collapse into fewer rows.
func projectorAlone(rep *Report, _ goal) []figure {
	var out []figure
	for _, channels := range []int{5, 10_000} {
		f := goBench(rep, subBenchmark(benchProjector, channels), unitRecords)
		f.caseName = count(int64(channels)) + " channels"
		out = append(out, f)
	}
	return out
}

func endToEnd(rep *Report, g goal) []figure {
	if len(rep.Pipeline) == 0 || rep.EndToEnd <= 0 {
		return []figure{notMeasured("the pipeline phase did not run")}
	}
	return []figure{{measured: true, value: rep.EndToEnd, incomparable: g.conditions(rep),
		source: "pipeline phase: first event produced → every output of the last event in PostgreSQL"}}
}

// latencyP99 is the p99 of row at rate in ms, with the lowest other rate's as its baseline.
func latencyP99(rep *Report, rate int, row string) figure {
	f := notMeasured(fmt.Sprintf("no freshness run at %s events/s", count(int64(rate))))
	lowest := rate
	for _, fr := range rep.Freshness {
		for _, r := range fr.Rows {
			if r.Name != row || r.Samples == 0 {
				continue
			}
			switch {
			case fr.Rate == rate:
				f.measured, f.value = true, toMS(r.P99)
				f.source = fmt.Sprintf("freshness phase: %q, %d samples", row, r.Samples)
			case fr.Rate < lowest:
				lowest, f.baseValue = fr.Rate, toMS(r.P99)
				f.baseline = fmt.Sprintf("the same at %s events/s", count(int64(fr.Rate)))
			}
		}
	}
	return f
}

func freshnessProvisional(rep *Report, g goal) []figure {
	return []figure{latencyP99(rep, g.rate, latSubscriber)}
}

func freshnessFinal(rep *Report, g goal) []figure {
	return []figure{latencyP99(rep, g.rate, latFinalClosed)}
}

func gatewayQueries(metric string) func(*Report, goal) []figure {
	return func(rep *Report, _ goal) []figure {
		return []figure{goBench(rep, benchQueries, metric)}
	}
}

// goalTable is the summary's first section.
func goalTable(w *strings.Builder, results []GoalResult) {
	fmt.Fprintln(w, "## Goals (issue #17)")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| what | goal | measured in this run | baseline in the same run (ratio) | met? |")
	fmt.Fprintln(w, "| --- | --- | --- | --- | --- |")
	for _, r := range results {
		what := r.What
		if r.Case != "" {
			what += ": " + r.Case
		}
		measured, base, met := "– ("+r.Source+")", "", r.Met
		if r.Met != metNotMeasured {
			measured = amount(r.Value, r.Unit) + " (" + r.Source + ")"
		}
		if r.Baseline != "" {
			base = fmt.Sprintf("%s: %s (%.2f)", r.Baseline, amount(r.BaselineValue, r.Unit), r.Ratio)
		}
		if r.Note != "" {
			met += ": " + r.Note
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s |\n", what, r.Goal, measured, base, met)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Not measured: this run has no figure for the goal (its phase did not run, its Go benchmark was skipped or failed). "+
		"Not comparable: the figure was taken otherwise than the goal is stated; it is shown, not judged.")
	fmt.Fprintln(w)
}

// amount is v in unit as the goals table prints it: seconds to the hundredth, the rest whole.
func amount(v float64, unit string) string {
	if unit == unitSeconds || unit == unitCPU {
		return strconv.FormatFloat(v, 'f', 2, 64) + " " + unit
	}
	return count(int64(math.Round(v))) + " " + unit
}
