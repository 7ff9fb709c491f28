// Package bench is `telemetra bench`: the whole pipeline, measured end to end on this machine.
// Every role runs as its own process of the telemetra binary, so CPU and peak memory are
// counted per role; a raw franz-go consumer in the same run is the baseline each stage is
// compared with. The phases:
//
//  1. pipeline: processor and projector running, the producer writes Events events
//     unthrottled; events/s per stage and end to end.
//  2. freshness: the gateway too, the producer at fixed rates in real time; the latency from
//     an event to a subscriber's provisional update, to its row in PostgreSQL, and to the
//     final window; p50/p95/p99.
//  3. capacity: each stage alone on the backlog the first two phases left, against the raw
//     consumer reading the same topics.
//  4. cluster (with ClusterBrokers, a fresh three-broker cluster): the topics at twelve
//     partitions, replication factor 3 and min ISR 2, three processor instances, ClusterEvents
//     events over ClusterChannels channels unthrottled; events/s, CPU and peak memory per
//     instance, the state per channel in the group table, and each instance's recovery
//     after the three are restarted (cluster.go).
//
// Phases selects which run; phases 2 and 3 need phase 1's roles and backlog.
//
// Replay, recovery, scale by channels and query figures are Go benchmarks; their results can
// be folded into the same summary (GoBenchResults).
package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/telemetra/telemetra/internal/pgcluster"
)

// Config configures a bench run.
type Config struct {
	Binary string // the telemetra binary whose roles are measured
	// Brokers of a fresh Kafka cluster; empty starts the embedded broker as a role.
	Brokers []string
	// DatabaseURL of PostgreSQL; empty starts a private throwaway cluster.
	DatabaseURL string
	Events      int64 // events of the pipeline phase
	Channels    int
	Seed        uint64
	// Rates of the freshness phase (events/s), each for FreshnessDuration.
	Rates             []int
	FreshnessDuration time.Duration
	// Dir receives the roles' logs, results.json, summary.md and the charts.
	Dir string
	// GoBenchResults is the output of `go test -bench` to fold into the summary ("": none).
	GoBenchResults string
	// Phases to run, of PhaseNames ("all", or none given: every phase; the cluster phase only
	// with ClusterBrokers).
	Phases []string
	// ClusterBrokers is the bootstrap list of a fresh three-broker cluster for the cluster
	// phase; empty skips the phase.
	ClusterBrokers    []string
	ClusterEvents     int64         // events of the cluster phase
	ClusterChannels   int           // channels of the cluster phase
	ClusterPartitions int           // partitions of every topic in the cluster phase
	ClusterTimeStep   time.Duration // event-time spacing of the cluster phase's events
	Logger            *slog.Logger
	Out               io.Writer // the summary table
}

// Report is everything measured.
type Report struct {
	Machine   string            `json:"machine"`
	StartedAt time.Time         `json:"started_at"`
	Broker    string            `json:"broker"`
	Events    int64             `json:"events"`
	Channels  int               `json:"channels"`
	Pipeline  []StageResult     `json:"pipeline"`
	EndToEnd  float64           `json:"end_to_end_events_per_second"`
	Freshness []FreshnessResult `json:"freshness"`
	Capacity  []StageResult     `json:"capacity"`
	Cluster   *ClusterResult    `json:"cluster,omitempty"`
	GoBench   []GoBenchResult   `json:"go_bench,omitempty"`
	Goals     []GoalResult      `json:"goals"` // issue #17's goals beside the figures above (goals.go)
}

// The phases, in the order they run.
const (
	PhasePipeline  = "pipeline"
	PhaseFreshness = "freshness"
	PhaseCapacity  = "capacity"
	PhaseCluster   = "cluster"
)

// PhaseNames are the phases Config.Phases may name.
var PhaseNames = []string{PhasePipeline, PhaseFreshness, PhaseCapacity, PhaseCluster}

// phases resolves Config.Phases: the set to run, or why not.
func (c *Config) phases() (map[string]bool, error) {
	run := map[string]bool{}
	for _, p := range c.Phases {
		switch p = strings.TrimSpace(p); {
		case p == "all":
			for _, n := range PhaseNames {
				run[n] = n != PhaseCluster || len(c.ClusterBrokers) > 0
			}
		case slices.Contains(PhaseNames, p):
			run[p] = true
		default:
			return nil, fmt.Errorf("no phase %q: the phases are all, %s", p, strings.Join(PhaseNames, ", "))
		}
	}
	switch {
	case (run[PhaseFreshness] || run[PhaseCapacity]) && !run[PhasePipeline]:
		return nil, errors.New("the freshness and capacity phases need the pipeline phase (its roles and its backlog)")
	case run[PhaseCluster] && len(c.ClusterBrokers) == 0:
		return nil, errors.New("the cluster phase needs the bootstrap list of a fresh three-broker cluster (--cluster-brokers)")
	}
	return run, nil
}

// stageProcessor is the processor's stage in the pipeline and capacity phases.
const stageProcessor = "processor"

// brokerEmbedded is Report.Broker when the run started the embedded broker.
const brokerEmbedded = "embedded (kfake, its own process)"

// StageResult is one stage (or baseline) of a phase.
type StageResult struct {
	Stage     string  `json:"stage"`
	Records   int64   `json:"records"`
	PerSecond float64 `json:"per_second"`
	Seconds   float64 `json:"seconds"`
	Usage     Usage   `json:"usage"`
	// Baseline is the raw consumer's rate on the same records (capacity phase), 0 if none.
	Baseline float64 `json:"baseline_per_second,omitempty"`
	// StartupSeconds is from the process's launch to its first input record processed
	// (the processor alone on the backlog), 0 if not timed.
	StartupSeconds float64 `json:"startup_seconds,omitempty"`
}

// CPUPerMillion is the CPU the stage spent per million records.
func (s StageResult) CPUPerMillion() time.Duration {
	if s.Records == 0 {
		return 0
	}
	return time.Duration(float64(s.Usage.CPU) * 1e6 / float64(s.Records))
}

// env is what the phases share.
type env struct {
	cfg     Config
	brokers []string
	dbURL   string
	logDir  string
	log     *slog.Logger
	roles   []*role
	admin   *kadm.Client
}

func (c *Config) defaults() {
	if c.Events <= 0 {
		c.Events = 1_000_000
	}
	if c.Channels <= 0 {
		c.Channels = 100
	}
	if c.Seed == 0 {
		c.Seed = 1
	}
	if len(c.Rates) == 0 {
		c.Rates = []int{1000, 10000}
	}
	if c.FreshnessDuration <= 0 {
		c.FreshnessDuration = 75 * time.Second
	}
	if c.Dir == "" {
		c.Dir = "artifacts/bench"
	}
	if len(c.Phases) == 0 {
		c.Phases = []string{"all"}
	}
	if c.ClusterEvents <= 0 {
		c.ClusterEvents = 1_000_000
	}
	if c.ClusterChannels <= 0 {
		c.ClusterChannels = 100_000
	}
	if c.ClusterPartitions <= 0 {
		c.ClusterPartitions = 12
	}
	if c.ClusterTimeStep <= 0 {
		c.ClusterTimeStep = time.Millisecond
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Out == nil {
		c.Out = os.Stdout
	}
}

// Run runs the phases and prints the summary.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	cfg.defaults()
	phases, err := cfg.phases()
	if err != nil {
		return nil, err
	}
	e := &env{cfg: cfg, logDir: filepath.Join(cfg.Dir, "logs"), log: cfg.Logger}
	if err := os.MkdirAll(e.logDir, 0o755); err != nil {
		return nil, err
	}
	defer e.stopAll()
	rep := &Report{Machine: machine(), StartedAt: time.Now().UTC(), Events: cfg.Events, Channels: cfg.Channels}

	if phases[PhasePipeline] {
		if err := e.singleBrokerPhases(ctx, rep, phases); err != nil {
			return nil, err
		}
	}
	if phases[PhaseCluster] {
		e.log.Info("phase cluster: three brokers, three processors", "brokers", cfg.ClusterBrokers,
			"events", cfg.ClusterEvents, "channels", cfg.ClusterChannels, "partitions", cfg.ClusterPartitions)
		if rep.Cluster, err = e.cluster(ctx); err != nil {
			return nil, fmt.Errorf("cluster phase: %w", err)
		}
	}
	if cfg.GoBenchResults != "" {
		raw, err := os.ReadFile(cfg.GoBenchResults)
		if err != nil {
			return nil, fmt.Errorf("go bench results: %w", err)
		}
		rep.GoBench = ParseGoBench(string(raw))
	}
	rep.Goals = goalResults(rep)
	if err := writeReport(cfg.Dir, rep); err != nil {
		return nil, err
	}
	if _, err := io.WriteString(cfg.Out, summary(rep)); err != nil {
		return nil, fmt.Errorf("print the summary: %w", err)
	}
	return rep, nil
}

// singleBrokerPhases are phases 1 to 3, on Brokers (or the embedded broker) and PostgreSQL.
func (e *env) singleBrokerPhases(ctx context.Context, rep *Report, phases map[string]bool) error {
	cfg := e.cfg
	// their broker and PostgreSQL would only load the machine under the cluster phase
	defer func() {
		e.stopAll()
		e.roles = nil
	}()
	if err := e.startBroker(ctx, rep); err != nil {
		return err
	}
	adminClient, err := kgo.NewClient(kgo.SeedBrokers(e.brokers...))
	if err != nil {
		return err
	}
	defer adminClient.Close()
	e.admin = kadm.NewClient(adminClient)
	if err := e.startDatabase(ctx); err != nil {
		return err
	}

	e.log.Info("phase 1/3: pipeline throughput", "events", cfg.Events, "channels", cfg.Channels)
	p, err := e.pipeline(ctx, rep)
	if err != nil {
		return fmt.Errorf("pipeline phase: %w", err)
	}
	if phases[PhaseFreshness] {
		e.log.Info("phase 2/3: freshness at fixed rates", "rates", cfg.Rates, "each", cfg.FreshnessDuration)
		if err := e.freshness(ctx, rep, p); err != nil {
			return fmt.Errorf("freshness phase: %w", err)
		}
	}
	p.stop()
	if phases[PhaseCapacity] {
		e.log.Info("phase 3/3: each stage alone against the raw consumer")
		if err := e.capacity(ctx, rep); err != nil {
			return fmt.Errorf("capacity phase: %w", err)
		}
	}
	return nil
}

func (e *env) start(name string, args ...string) (*role, error) {
	r, err := startRole(e.cfg.Binary, name, e.logDir, args...)
	if err != nil {
		return nil, err
	}
	e.roles = append(e.roles, r)
	return r, nil
}

func (e *env) stopAll() {
	for i := len(e.roles) - 1; i >= 0; i-- {
		_ = e.roles[i].stop(30 * time.Second)
	}
}

func (e *env) startBroker(ctx context.Context, rep *Report) error {
	if len(e.cfg.Brokers) > 0 {
		e.brokers = e.cfg.Brokers
		rep.Broker = "external: " + strings.Join(e.brokers, ",")
	} else {
		addr, err := freeAddr()
		if err != nil {
			return err
		}
		if _, err := e.start("broker", "broker", "--addr", addr, "--log-level", "warn"); err != nil {
			return err
		}
		e.brokers = []string{addr}
		rep.Broker = brokerEmbedded
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(e.brokers...))
	if err != nil {
		return err
	}
	defer cl.Close()
	return retry(ctx, 60*time.Second, func() error {
		_, err := kadm.NewClient(cl).ListBrokers(ctx)
		return err
	})
}

func (e *env) startDatabase(ctx context.Context) error {
	if e.cfg.DatabaseURL != "" {
		e.dbURL = e.cfg.DatabaseURL
		return nil
	}
	cluster, err := pgcluster.Start(ctx, "telemetra")
	if err != nil {
		return fmt.Errorf("start a private PostgreSQL (or set DATABASE_URL): %w", err)
	}
	e.roles = append(e.roles, &role{name: "postgres-cluster", done: closedChan(), stopFunc: cluster.Stop})
	e.dbURL = cluster.URL("telemetra")
	e.log.Info("private PostgreSQL started", "url", e.dbURL)
	return nil
}

func closedChan() chan struct{} {
	c := make(chan struct{})
	close(c)
	return c
}

// endOffsets sums the end offsets of topics.
func (e *env) endOffsets(ctx context.Context, topics ...string) (int64, error) {
	return endOffsets(ctx, e.admin, topics...)
}

// groupCaughtUp reports whether group has committed every input of topics up to its end.
func (e *env) groupCaughtUp(ctx context.Context, group string, topics []string) (bool, error) {
	return groupCaughtUp(ctx, e.admin, group, topics)
}

// endOffsets sums the end offsets of topics on the cluster admin talks to.
func endOffsets(ctx context.Context, admin *kadm.Client, topics ...string) (int64, error) {
	ends, err := admin.ListEndOffsets(ctx, topics...)
	if err != nil {
		return 0, err
	}
	var sum int64
	var firstErr error
	ends.Each(func(o kadm.ListedOffset) {
		if o.Err != nil && firstErr == nil {
			firstErr = fmt.Errorf("end offset of %s/%d: %w", o.Topic, o.Partition, o.Err)
		}
		sum += o.Offset
	})
	return sum, firstErr
}

// groupCaughtUp reports whether group has committed every input of topics up to its end on
// the cluster admin talks to.
func groupCaughtUp(ctx context.Context, admin *kadm.Client, group string, topics []string) (bool, error) {
	ends, err := admin.ListEndOffsets(ctx, topics...)
	if err != nil {
		return false, err
	}
	committed, err := admin.FetchOffsets(ctx, group)
	if err != nil {
		return false, err
	}
	caughtUp := true
	ends.Each(func(o kadm.ListedOffset) {
		if o.Offset == 0 {
			return
		}
		c, ok := committed.Lookup(o.Topic, o.Partition)
		if !ok || c.At < o.Offset {
			caughtUp = false
		}
	})
	return caughtUp, nil
}

// retry calls f until it succeeds or timeout passes.
func retry(ctx context.Context, timeout time.Duration, f func() error) error {
	deadline := time.Now().Add(timeout)
	for {
		err := f()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return errors.Join(ctx.Err(), err)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func machine() string {
	model := ""
	if raw, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(raw), "\n") {
			if v, ok := strings.CutPrefix(line, "model name"); ok {
				model = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
				break
			}
		}
	}
	mem := ""
	if raw, err := os.ReadFile("/proc/meminfo"); err == nil {
		if f := strings.Fields(strings.SplitN(string(raw), "\n", 2)[0]); len(f) >= 2 {
			var kb int64
			if _, err := fmt.Sscan(f[1], &kb); err == nil {
				mem = fmt.Sprintf(", %.0f GiB", float64(kb)/(1<<20))
			}
		}
	}
	return fmt.Sprintf("%d cores (%s)%s, %s/%s, %s", runtime.NumCPU(), model, mem, runtime.GOOS, runtime.GOARCH, runtime.Version())
}

func writeReport(dir string, rep *Report) error {
	raw, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "results.json"), raw, 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "summary.md"), []byte(summary(rep)), 0o644); err != nil {
		return err
	}
	return writeCharts(dir, rep)
}
