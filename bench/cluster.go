package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/telemetra/telemetra/internal/kafka"
	"github.com/telemetra/telemetra/processors/table"
	"github.com/telemetra/telemetra/producer"
)

// The cluster phase's layout: three processor instances on three brokers, every topic
// replicated three times and a write acknowledged by two replicas.
const (
	clusterBrokers           = 3
	clusterInstances         = 3
	clusterReplicationFactor = 3
	clusterMinInsyncReplicas = 2
)

// The restarts of the recovery measurement.
const (
	restartTogether = "together"
	restartOneByOne = "one at a time"
)

// ClusterResult is the cluster phase: the pipeline's processing on a three-broker cluster at
// ClusterPartitions partitions and ClusterChannels channels.
type ClusterResult struct {
	Brokers           string `json:"brokers"`
	Partitions        int    `json:"partitions"`
	ReplicationFactor int    `json:"replication_factor"`
	MinInsyncReplicas int    `json:"min_insync_replicas"`
	Events            int64  `json:"events"`
	Channels          int    `json:"channels"`
	TimeStep          string `json:"time_step"` // event-time spacing of the events
	// Seconds is from the first record produced until the group had committed every input
	// record; PerSecond is Events over it.
	Seconds   float64           `json:"seconds"`
	PerSecond float64           `json:"events_per_second"`
	Producer  StageResult       `json:"producer"`
	Instances []ClusterInstance `json:"instances"`
	// MachineCPU is the CPU every process of the machine used over the same interval (from
	// /proc/stat): the brokers' share, and others' load, is what the roles did not use.
	MachineCPU time.Duration   `json:"machine_cpu"`
	State      TableState      `json:"state"`
	Recovery   []RecoveryRound `json:"recovery"`
	// WallSeconds is the whole phase, topic creation to the last restart; LoadAverage is
	// /proc/loadavg (1, 5 and 15 minutes) at its start and at its end.
	WallSeconds float64  `json:"wall_seconds"`
	LoadAverage []string `json:"load_average"`
}

// CPUPerMillion is the CPU the instances spent together per million events.
func (c *ClusterResult) CPUPerMillion() time.Duration {
	var cpu time.Duration
	for _, in := range c.Instances {
		cpu += in.Usage.CPU
	}
	if c.Events == 0 {
		return 0
	}
	return time.Duration(float64(cpu) * 1e6 / float64(c.Events))
}

// ClusterInstance is one processor instance over the load.
type ClusterInstance struct {
	Instance   string  `json:"instance"`
	Partitions []int32 `json:"partitions"` // held when the group had caught up
	Channels   int     `json:"channels"`   // the channels of those partitions
	Events     int64   `json:"events"`     // input events it processed (markers not counted)
	Usage      Usage   `json:"usage"`      // over the load: CPU, and the peak RSS since it began
	ReadyRSS   int64   `json:"ready_rss"`  // RSS once ready with an empty state, before the load
}

// CPUPerMillion is the instance's CPU per million of the events it processed.
func (in ClusterInstance) CPUPerMillion() time.Duration {
	if in.Events == 0 {
		return 0
	}
	return time.Duration(float64(in.Usage.CPU) * 1e6 / float64(in.Events))
}

// RSSPerChannel is how much the instance's peak RSS grew over its empty start, per channel
// it held.
func (in ClusterInstance) RSSPerChannel() float64 {
	if in.Channels == 0 || in.Usage.PeakRSS <= in.ReadyRSS {
		return 0
	}
	return float64(in.Usage.PeakRSS-in.ReadyRSS) / float64(in.Channels)
}

// TableState is the group table once the group caught up: the topic read from the start to
// its end, the latest value per key kept (a tombstone removes the key).
type TableState struct {
	Topic      string `json:"topic"`
	Records    int64  `json:"records"`     // records read: every version the log still holds
	Channels   int    `json:"channels"`    // channel keys with a current value
	ValueBytes int64  `json:"value_bytes"` // bytes of those current values
	KeyBytes   int64  `json:"key_bytes"`   // bytes of their keys
	OtherKeys  int    `json:"other_keys"`  // keys that are not channels ("~clock-N"), left out
	OtherBytes int64  `json:"other_bytes"` // their current values' bytes
	// DiskBytes is the topic's log segments on one replica: the brokers' log dirs summed and
	// divided by the replication factor (superseded versions included until compaction).
	DiskBytes int64 `json:"disk_bytes"`
}

// BytesPerChannel is the current value bytes per channel.
func (t TableState) BytesPerChannel() float64 {
	if t.Channels == 0 {
		return 0
	}
	return float64(t.ValueBytes) / float64(t.Channels)
}

// DiskBytesPerChannel is the table topic's bytes on one replica per channel.
func (t TableState) DiskBytesPerChannel() float64 {
	if t.Channels == 0 {
		return 0
	}
	return float64(t.DiskBytes) / float64(t.Channels)
}

// RecoveryRound is one restart of the three instances after SIGTERM.
type RecoveryRound struct {
	Restart string `json:"restart"` // "together", or "one at a time" (each after the last was ready)
	// SettledSeconds is from the first start until every instance was ready and the group
	// stable, each instance holding partitions.
	SettledSeconds float64          `json:"settled_seconds"`
	Instances      []RecoveryResult `json:"instances"`
	// Stalled says what did not settle within recoveryTimeout ("": the round settled).
	Stalled string `json:"stalled,omitempty"`
}

// RecoveryResult is one instance's recovery in a round.
type RecoveryResult struct {
	Instance string  `json:"instance"`
	Seconds  float64 `json:"seconds"` // its telemetra_processor_state_recovery_seconds (0: never ready)
	// Partitions is the assignment its readiness came with (the last logged before "processor
	// ready"), and Channels the channels of those partitions: what Seconds recovered.
	Partitions []int32 `json:"partitions"`
	Channels   int     `json:"channels"`
	// Assignments logged up to readiness: more than one means a rebalance cut a recovery
	// short and it started again with the last.
	Assignments int `json:"assignments"`
	// Sweeps is its telemetra_processor_sweeps_total at the round's end: the sweeps (ticks,
	// markers, state flushes) begin once it is ready, so an instance never ready has none.
	Sweeps int64 `json:"sweeps"`
	// RebalancedAfterReady: the group rebalanced after the instance was ready, before the
	// round settled. The gauge is set once per start, so it does not cover the partitions
	// that came after; and goka reports ready when a rebalance aborts a setup (its states set
	// "running" on the way out), so the figure may be an aborted recovery's.
	RebalancedAfterReady bool `json:"rebalanced_after_ready"`
	// Loading is from that assignment to readiness, by the log's timestamps: the gauge less
	// the start-up and the wait for the group.
	Loading         float64 `json:"loading_seconds"`
	FinalPartitions []int32 `json:"final_partitions"` // held when the round settled
	PeakRSS         int64   `json:"peak_rss"`         // since the start, at the round's end
}

// PerHundredThousand is Seconds per 100,000 channels recovered.
func (r RecoveryResult) PerHundredThousand() float64 {
	if r.Channels == 0 {
		return 0
	}
	return r.Seconds * 100_000 / float64(r.Channels)
}

// LoadingPerHundredThousand is Loading per 100,000 channels recovered.
func (r RecoveryResult) LoadingPerHundredThousand() float64 {
	if r.Channels == 0 {
		return 0
	}
	return r.Loading * 100_000 / float64(r.Channels)
}

// clusterRun is the state of the cluster phase.
type clusterRun struct {
	env        *env
	brokers    string // comma separated, as the roles take them
	admin      *kadm.Client
	partitions int
	byPart     []int // channels per partition
	group      string
	inputs     []string
}

// instance is one processor process of the cluster phase.
type instance struct {
	name     string // of the role and its log
	clientID string
	metrics  string
	role     *role
}

// cluster is the cluster phase. It creates the topics, starts the three instances, writes
// ClusterEvents events and follows the group to the last commit, reads the group table, and
// then restarts the instances twice to time their recovery.
func (e *env) cluster(ctx context.Context) (*ClusterResult, error) {
	cfg := e.cfg
	began := time.Now()
	res := &ClusterResult{
		Brokers: strings.Join(cfg.ClusterBrokers, ","), Partitions: cfg.ClusterPartitions,
		ReplicationFactor: clusterReplicationFactor, MinInsyncReplicas: clusterMinInsyncReplicas,
		Events: cfg.ClusterEvents, Channels: cfg.ClusterChannels, TimeStep: cfg.ClusterTimeStep.String(),
		LoadAverage: []string{loadAverage()},
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(cfg.ClusterBrokers...))
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	c := &clusterRun{env: e, brokers: res.Brokers, admin: kadm.NewClient(cl), partitions: cfg.ClusterPartitions,
		group: string(table.DefaultGroup), inputs: kafka.InputTopics()}
	c.byPart = channelsByPartition(producer.GeneratedChannels(cfg.ClusterChannels), c.partitions)

	if err := c.createTopics(ctx); err != nil {
		return nil, err
	}
	insts := make([]*instance, clusterInstances)
	for i := range insts {
		if insts[i], err = c.startInstance(i+1, ""); err != nil {
			return nil, err
		}
	}
	if _, err := c.waitSettled(ctx, insts, 3*time.Minute); err != nil {
		return nil, fmt.Errorf("three instances, empty state: %w", err)
	}
	readyRSS := make([]int64, len(insts))
	for i, in := range insts {
		readyRSS[i] = in.role.rss()
		in.role.beginPhase() // the peak is reset to this resident set
	}
	if err := c.load(ctx, res, insts, readyRSS); err != nil {
		return nil, err
	}
	var held map[string][]int32
	if err := retry(ctx, time.Minute, func() (err error) {
		held, err = c.assignment(ctx)
		return err
	}); err != nil {
		return nil, err
	}
	for i, in := range insts {
		res.Instances[i].Partitions = held[in.clientID]
		res.Instances[i].Channels = c.channelsOf(held[in.clientID])
	}
	e.log.Info("cluster: reading the group table", "topic", table.Name(1))
	if res.State, err = c.tableState(ctx); err != nil {
		return nil, fmt.Errorf("group table: %w", err)
	}
	for _, restart := range []string{restartTogether, restartOneByOne} {
		round, next, err := c.recover(ctx, insts, restart)
		if err != nil {
			return nil, fmt.Errorf("recovery, restarted %s: %w", restart, err)
		}
		res.Recovery = append(res.Recovery, round)
		insts = next
	}
	c.stop(insts)
	res.WallSeconds = time.Since(began).Seconds()
	res.LoadAverage = append(res.LoadAverage, loadAverage())
	return res, nil
}

// createTopics creates every topic through the binary's `topics create`, then checks that the
// cluster is fresh and the topics are laid out as asked.
func (c *clusterRun) createTopics(ctx context.Context) error {
	e := c.env
	if err := retry(ctx, time.Minute, func() error {
		bs, err := c.admin.ListBrokers(ctx)
		if err == nil && len(bs) < clusterBrokers {
			err = fmt.Errorf("%d brokers, want %d", len(bs), clusterBrokers)
		}
		return err
	}); err != nil {
		return fmt.Errorf("cluster %s: %w", c.brokers, err)
	}
	r, err := e.start("cluster-topics", "topics", "create", "--brokers", c.brokers, "--partitions", strconv.Itoa(c.partitions),
		"--replication-factor", strconv.Itoa(clusterReplicationFactor), "--min-insync-replicas", strconv.Itoa(clusterMinInsyncReplicas))
	if err != nil {
		return err
	}
	if err := r.wait(ctx); err != nil {
		return fmt.Errorf("topics create: %w (see %s/cluster-topics.log)", err, e.logDir)
	}
	topics := append(slices.Clone(c.inputs), string(table.Name(1)))
	details, err := c.admin.ListTopics(ctx, topics...)
	if err != nil {
		return err
	}
	for _, name := range topics {
		d, ok := details[name]
		switch {
		case !ok || d.Err != nil:
			return fmt.Errorf("topic %s missing after topics create", name)
		case len(d.Partitions) != c.partitions:
			return fmt.Errorf("topic %s has %d partitions, not %d: the cluster is not fresh", name, len(d.Partitions), c.partitions)
		case d.Partitions.NumReplicas() != clusterReplicationFactor:
			return fmt.Errorf("topic %s has %d replicas, not %d", name, d.Partitions.NumReplicas(), clusterReplicationFactor)
		}
	}
	n, err := endOffsets(ctx, c.admin, topics...)
	if err != nil {
		return err
	}
	if n > 0 {
		return fmt.Errorf("the inputs or the group table already hold %d records: the cluster phase needs a fresh cluster", n)
	}
	return nil
}

// startInstance starts processor instance n; suffix tells a restart's log from the first's.
func (c *clusterRun) startInstance(n int, suffix string) (*instance, error) {
	metrics, err := freeAddr()
	if err != nil {
		return nil, err
	}
	in := &instance{name: fmt.Sprintf("cluster-processor-%d%s", n, suffix), clientID: fmt.Sprintf("telemetra-bench-cluster-%d", n), metrics: metrics}
	// info in JSON: the log says which partitions each readiness came with
	in.role, err = c.env.start(in.name, "process", "--brokers", c.brokers, "--client-id", in.clientID,
		"--metrics-addr", metrics, "--log-level", "info", "--log-format", "json")
	return in, err
}

// recoverySeconds is an instance's telemetra_processor_state_recovery_seconds, 0 before it is
// ready.
func (in *instance) recoverySeconds(ctx context.Context) (float64, error) {
	text, err := scrape(ctx, in.metrics)
	if err != nil {
		return 0, err
	}
	return sumMetric(text, "telemetra_processor_state_recovery_seconds"), nil
}

// waitReady waits until in reports its state recovered.
func (c *clusterRun) waitReady(ctx context.Context, in *instance, timeout time.Duration) error {
	return retry(ctx, timeout, func() error {
		if in.role.exited() {
			return fmt.Errorf("%s exited (see %s/%s.log)", in.name, c.env.logDir, in.name)
		}
		s, err := in.recoverySeconds(ctx)
		if err == nil && s <= 0 {
			err = fmt.Errorf("%s is not ready yet", in.name)
		}
		return err
	})
}

// waitSettled waits until every instance is ready and the group is stable with exactly these
// instances as members, each holding partitions and all partitions held, twice in a row; it
// returns the partitions each client id holds.
func (c *clusterRun) waitSettled(ctx context.Context, insts []*instance, timeout time.Duration) (map[string][]int32, error) {
	var held map[string][]int32
	seen := 0
	err := retry(ctx, timeout, func() error {
		for _, in := range insts {
			if err := c.waitReady(ctx, in, 0); err != nil {
				seen = 0
				return err
			}
		}
		got, err := c.assignment(ctx)
		if err == nil {
			err = settled(got, insts, c.partitions)
		}
		if err != nil {
			seen = 0
			return err
		}
		if seen++; seen < 2 || !sameAssignment(got, held) {
			held, seen = got, 1
			return errors.New("the group's assignment is to be confirmed")
		}
		return nil
	})
	return held, err
}

// settled checks an assignment: every instance holds partitions, no one else does, and every
// partition is held.
func settled(held map[string][]int32, insts []*instance, partitions int) error {
	total := 0
	for _, in := range insts {
		if len(held[in.clientID]) == 0 {
			return fmt.Errorf("%s holds no partition yet", in.name)
		}
		total += len(held[in.clientID])
	}
	if len(held) != len(insts) || total != partitions {
		return fmt.Errorf("the group is not settled: %v", held)
	}
	return nil
}

func sameAssignment(a, b map[string][]int32) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if !slices.Equal(v, b[k]) {
			return false
		}
	}
	return true
}

// assignment is the partitions of the inputs each member of the group holds, by client id,
// while the group is stable.
func (c *clusterRun) assignment(ctx context.Context) (map[string][]int32, error) {
	groups, err := c.admin.DescribeGroups(ctx, c.group)
	if err != nil {
		return nil, err
	}
	g, ok := groups[c.group]
	switch {
	case !ok:
		return nil, fmt.Errorf("group %s not described", c.group)
	case g.Err != nil:
		return nil, fmt.Errorf("group %s: %w", c.group, g.Err)
	case g.State != "Stable":
		return nil, fmt.Errorf("group %s is %s", c.group, g.State)
	}
	held := map[string][]int32{}
	for _, m := range g.Members {
		a, ok := m.Assigned.AsConsumer()
		if !ok {
			return nil, fmt.Errorf("member %s of %s: not a consumer assignment", m.ClientID, c.group)
		}
		if _, twice := held[m.ClientID]; twice {
			return nil, fmt.Errorf("client %s is two members of %s: an earlier instance has not left yet", m.ClientID, c.group)
		}
		held[m.ClientID] = nil // a member holding nothing is one too
		for _, t := range a.Topics {
			if t.Topic == c.inputs[0] { // the inputs are copartitioned: one stands for all
				held[m.ClientID] = append(held[m.ClientID], t.Partitions...)
			}
		}
		slices.Sort(held[m.ClientID])
	}
	return held, nil
}

// channelsOf is how many channels the partitions hold.
func (c *clusterRun) channelsOf(partitions []int32) int {
	n := 0
	for _, p := range partitions {
		if int(p) < len(c.byPart) {
			n += c.byPart[p]
		}
	}
	return n
}

// channelsByPartition counts the channels of each partition, as the producer and goka
// partition them.
func channelsByPartition(channels []string, partitions int) []int {
	out := make([]int, partitions)
	for _, ch := range channels {
		out[kafka.PartitionForKey([]byte(ch), partitions)]++
	}
	return out
}

// load writes ClusterEvents events unthrottled and follows the group until it has committed
// every input record.
func (c *clusterRun) load(ctx context.Context, res *ClusterResult, insts []*instance, readyRSS []int64) error {
	e, cfg := c.env, c.env.cfg
	prodMetrics, err := freeAddr()
	if err != nil {
		return err
	}
	start := time.Now().UTC().Add(-48 * time.Hour).Truncate(time.Hour)
	prodRole, err := e.start("cluster-producer", "produce", "--brokers", c.brokers, "--channel-count", strconv.Itoa(cfg.ClusterChannels),
		"--count", strconv.FormatInt(cfg.ClusterEvents, 10), "--unthrottled", "--seed", strconv.FormatUint(cfg.Seed, 10),
		"--start-time", start.Format(time.RFC3339), "--time-step", cfg.ClusterTimeStep.String(),
		"--metrics-addr", prodMetrics, "--log-level", "warn")
	if err != nil {
		return err
	}
	var prod progress
	var done time.Time
	var cpuAtFirst time.Duration
	processed := make([]int64, len(insts))
	deadline := time.Now().Add(30 * time.Minute)
	nextLog, nextCheck := time.Now(), time.Now()
	for done.IsZero() {
		if time.Now().After(deadline) {
			return fmt.Errorf("not caught up after 30 minutes: produced %d, processed %d of %d", prod.value, sum(processed), cfg.ClusterEvents)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		now := time.Now()
		if text, err := scrape(ctx, prodMetrics); err == nil {
			prod.observe(int64(sumMetric(text, "telemetra_producer_events_total")), cfg.ClusterEvents, now)
			if !prod.first.IsZero() && cpuAtFirst == 0 {
				cpuAtFirst = machineCPU()
			}
		}
		for i, in := range insts {
			if in.role.exited() {
				return fmt.Errorf("%s exited under load (see %s/%s.log)", in.name, e.logDir, in.name)
			}
			if text, err := scrape(ctx, in.metrics); err == nil {
				processed[i] = int64(sumMetric(text, "telemetra_processor_events_total") -
					sumMetric(text, "telemetra_processor_events_total", `outcome="marker"`))
			}
		}
		// every record acknowledged once the producer exited: from then on the group's commits
		// reaching the inputs' ends is the end of the run
		if prodRole.exited() {
			if prod.done.IsZero() {
				if err := prodRole.wait(ctx); err != nil {
					return err
				}
				prod.observe(cfg.ClusterEvents, cfg.ClusterEvents, now)
			}
			if now.After(nextCheck) {
				caughtUp, err := groupCaughtUp(ctx, c.admin, c.group, c.inputs)
				if err != nil {
					return err
				}
				if caughtUp {
					done = time.Now()
					res.MachineCPU = machineCPU() - cpuAtFirst
				}
				nextCheck = now.Add(200 * time.Millisecond)
			}
		}
		if now.After(nextLog) {
			e.log.Info("cluster", "produced", prod.value, "processed", sum(processed), "of", cfg.ClusterEvents)
			nextLog = now.Add(5 * time.Second)
		}
	}
	if prod.first.IsZero() {
		return errors.New("the producer's metrics never showed a record")
	}
	res.Seconds = done.Sub(prod.first).Seconds()
	res.PerSecond = float64(cfg.ClusterEvents) / res.Seconds
	res.Producer = StageResult{Stage: "producer (unthrottled)", Records: cfg.ClusterEvents, PerSecond: prod.rate(),
		Seconds: prod.done.Sub(prod.first).Seconds(), Usage: prodRole.usage()}
	for i, in := range insts {
		res.Instances = append(res.Instances, ClusterInstance{Instance: in.clientID, Events: processed[i],
			Usage: in.role.usage(), ReadyRSS: readyRSS[i]})
	}
	return nil
}

func sum(v []int64) int64 {
	var s int64
	for _, x := range v {
		s += x
	}
	return s
}

// tableState reads the group table from the start to the end offsets it had when the read
// began and sizes the latest value of every key.
func (c *clusterRun) tableState(ctx context.Context) (TableState, error) {
	topic := string(table.Name(1))
	st := TableState{Topic: topic}
	ends, err := c.admin.ListEndOffsets(ctx, topic)
	if err != nil {
		return st, err
	}
	remaining := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) {
		if o.Err == nil && o.Offset > 0 {
			remaining[o.Partition] = o.Offset
		}
	})
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.env.cfg.ClusterBrokers...), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		return st, err
	}
	defer cl.Close()
	readCtx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	values := map[string]int{}
	for len(remaining) > 0 {
		fetches := cl.PollFetches(readCtx)
		if err := readCtx.Err(); err != nil {
			return st, fmt.Errorf("%d partitions not read to their end: %w", len(remaining), err)
		}
		if errs := fetches.Errors(); len(errs) > 0 {
			return st, fmt.Errorf("fetch %s/%d: %w", errs[0].Topic, errs[0].Partition, errs[0].Err)
		}
		fetches.EachRecord(func(r *kgo.Record) {
			end, ok := remaining[r.Partition]
			if !ok || r.Offset >= end {
				return // written after the read began
			}
			st.Records++
			if r.Value == nil {
				delete(values, string(r.Key))
			} else {
				values[string(r.Key)] = len(r.Value)
			}
			if r.Offset+1 >= end {
				delete(remaining, r.Partition)
			}
		})
	}
	for k, n := range values {
		if strings.HasPrefix(k, "~") {
			st.OtherKeys++
			st.OtherBytes += int64(n)
			continue
		}
		st.Channels++
		st.ValueBytes += int64(n)
		st.KeyBytes += int64(len(k))
	}
	dirs, err := c.admin.DescribeAllLogDirs(ctx, nil)
	if err != nil {
		return st, fmt.Errorf("log dirs: %w", err)
	}
	var disk int64
	dirs.Each(func(d kadm.DescribedLogDir) {
		for p := range d.Topics[topic] {
			disk += d.Topics[topic][p].Size
		}
	})
	st.DiskBytes = disk / clusterReplicationFactor
	return st, nil
}

// stop sends every instance SIGTERM at once and waits for all.
func (c *clusterRun) stop(insts []*instance) {
	var wg sync.WaitGroup
	for _, in := range insts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := in.role.stop(60 * time.Second); err != nil {
				c.env.log.Warn("cluster: stop", "instance", in.name, "err", err)
			}
		}()
	}
	wg.Wait()
}

// recoveryTimeout bounds a restart: an instance not ready by then is reported as stalled.
const recoveryTimeout = 3 * time.Minute

// recover stops the instances (SIGTERM) and starts them again, all at once (together) or each
// once the one before is ready (one at a time), and reads each one's recovery. An instance
// that is not ready within recoveryTimeout does not fail the phase: the round reports it.
func (c *clusterRun) recover(ctx context.Context, insts []*instance, restart string) (RecoveryRound, []*instance, error) {
	round := RecoveryRound{Restart: restart}
	suffix := "-restart"
	if restart == restartOneByOne {
		suffix = "-one-by-one"
	}
	c.env.log.Info("cluster: recovery", "restart", restart)
	c.stop(insts)
	next := make([]*instance, len(insts))
	began := time.Now()
	var stalled error
	for i := range next {
		var err error
		if next[i], err = c.startInstance(i+1, suffix); err != nil {
			return round, nil, err
		}
		if restart == restartOneByOne && stalled == nil {
			stalled = c.waitReady(ctx, next[i], recoveryTimeout)
		}
	}
	var held map[string][]int32
	if stalled == nil {
		held, stalled = c.waitSettled(ctx, next, recoveryTimeout)
	}
	if ctx.Err() != nil {
		return round, nil, ctx.Err()
	}
	if stalled != nil {
		round.Stalled = fmt.Sprintf("not settled %s after the first start: %v", time.Since(began).Round(time.Second), stalled)
		c.env.log.Warn("cluster: recovery stalled", "restart", restart, "err", stalled)
		held, _ = c.assignment(ctx) // what the group holds, if it is stable
	} else {
		round.SettledSeconds = time.Since(began).Seconds()
	}
	for _, in := range next {
		text, err := scrape(ctx, in.metrics)
		if err != nil {
			return round, nil, fmt.Errorf("%s: %w", in.name, err)
		}
		raw, err := os.ReadFile(filepath.Join(c.env.logDir, in.name+".log"))
		if err != nil {
			return round, nil, err
		}
		r := RecoveryResult{Instance: in.clientID, Seconds: sumMetric(text, "telemetra_processor_state_recovery_seconds"),
			FinalPartitions: held[in.clientID], PeakRSS: in.role.usage().PeakRSS,
			Sweeps: int64(sumMetric(text, "telemetra_processor_sweeps_total"))}
		rd := readiness(parseProcessorLog(string(raw)))
		r.Partitions, r.Assignments, r.RebalancedAfterReady, r.Loading = rd.partitions, rd.assignments, rd.rebalancedAfter, rd.loading.Seconds()
		r.Channels = c.channelsOf(r.Partitions)
		round.Instances = append(round.Instances, r)
	}
	return round, next, nil
}

// procLogEvent is a line of a processor's log that the recovery reads.
type procLogEvent struct {
	at         time.Time
	ready      bool    // "processor ready: state recovered"
	partitions []int32 // "partitions assigned"
}

// parseProcessorLog picks the assignments and readiness out of a processor's JSON log.
func parseProcessorLog(text string) []procLogEvent {
	var out []procLogEvent
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(make([]byte, 0, 64*1024), 4<<20)
	for sc.Scan() {
		var line struct {
			Time       time.Time `json:"time"`
			Msg        string    `json:"msg"`
			Assignment string    `json:"assignment"`
		}
		if json.Unmarshal(sc.Bytes(), &line) != nil {
			continue
		}
		switch line.Msg {
		case "processor ready: state recovered":
			out = append(out, procLogEvent{at: line.Time, ready: true})
		case "partitions assigned":
			out = append(out, procLogEvent{at: line.Time, partitions: parseAssignment(line.Assignment)})
		}
	}
	return out
}

// parseAssignment reads goka's assignment as the processor logs it: "map[0:-1 3:-1]"
// (partition:offset).
func parseAssignment(s string) []int32 {
	s = strings.TrimSuffix(strings.TrimPrefix(s, "map["), "]")
	var out []int32
	for _, f := range strings.Fields(s) {
		p, _, _ := strings.Cut(f, ":")
		if n, err := strconv.ParseInt(p, 10, 32); err == nil {
			out = append(out, int32(n))
		}
	}
	slices.Sort(out)
	return out
}

// ready is what the last readiness in a processor's log covered; without one, the last
// assignment and how many were logged.
type ready struct {
	partitions      []int32       // the assignment logged last before it
	assignments     int           // assignments logged since the previous readiness (or the start)
	rebalancedAfter bool          // another assignment was logged after it
	loading         time.Duration // from that assignment to the readiness
}

func readiness(events []procLogEvent) ready {
	var r ready
	last := -1
	for i, ev := range events {
		if ev.ready {
			last = i
		}
	}
	if last < 0 { // not ready: what it was assigned, and how often
		for _, ev := range events {
			r.partitions = ev.partitions
			r.assignments++
		}
		return r
	}
	for i := last - 1; i >= 0 && !events[i].ready; i-- {
		if r.assignments == 0 {
			r.partitions = events[i].partitions
			r.loading = events[last].at.Sub(events[i].at)
		}
		r.assignments++
	}
	for _, ev := range events[last+1:] {
		if !ev.ready {
			r.rebalancedAfter = true
		}
	}
	return r
}

// machineCPU is the CPU time every core of the machine spent busy (not idle, not waiting for
// I/O) since boot, from /proc/stat.
func machineCPU() time.Duration {
	raw, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(raw), "\n")
	f := strings.Fields(line)
	if len(f) < 6 || f[0] != "cpu" {
		return 0
	}
	var busy int64
	for i, v := range f[1:] {
		if i == 3 || i == 4 { // idle, iowait
			continue
		}
		if i >= 8 { // guest and guest_nice are in user and nice already
			break
		}
		n, _ := strconv.ParseInt(v, 10, 64)
		busy += n
	}
	return time.Duration(busy) * time.Second / clockTicks
}

// loadAverage is /proc/loadavg's 1, 5 and 15 minute averages.
func loadAverage() string {
	raw, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(raw))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}
