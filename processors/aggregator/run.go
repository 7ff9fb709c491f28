package aggregator

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/lovoo/goka"
	"github.com/lovoo/goka/storage"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/telemetra/telemetra/internal/kafka"
	"github.com/telemetra/telemetra/processors/table"
	"github.com/telemetra/telemetra/processors/window"
)

// Config configures a processor instance.
type Config struct {
	Brokers []string
	// Generation selects the group (table.Group) and output topics (kafka.OutputsFor) unless
	// Group is set; a rebuild of the state with new window logic runs as a new generation.
	Generation int
	Group      goka.Group
	Window     window.Config
	// SweepEvery is how often markers are written, the channels loaded late are closed, and the
	// changed states are flushed and their commits released.
	SweepEvery time.Duration
	// EmitEvery is how often the provisional updates that are due and every queued emit are
	// written between flushes: the longest an emit waits in the processor.
	EmitEvery time.Duration
	// FullSweepEvery loads every channel of the assigned partitions into memory: after a
	// restart or a rebalance, this finds the channels with open windows to close.
	FullSweepEvery time.Duration
	// HotStandby keeps replicas of the other partitions' state for a fast takeover.
	HotStandby bool
	// StorageDir keeps the local copy of the table in LevelDB there; empty keeps it in memory
	// (recovered from the table topic on start).
	StorageDir string
	// ClientID distinguishes instances in broker logs.
	ClientID string
	// StartupTimeout bounds the retries of a cluster that is still starting (zero:
	// kafka.DefaultStartupTimeout; negative: fail at the first error).
	StartupTimeout time.Duration
	Now            func() time.Time
	Logger         *slog.Logger
	// Metrics default to metrics registered nowhere.
	Metrics *Metrics
	// Ready, if set, is called once, when the state is first recovered and processing has begun
	// (not again after a restart of the instance).
	Ready func()
	// FailoverGrace is how long markers wait after an input partition's leader changed
	// (leaderWatch); zero turns the watch off. telemetra process defaults it to 10 s.
	FailoverGrace time.Duration
	// RestartOnError starts an instance that goka stopped with an error again in this process
	// (after a backoff between RestartMin and RestartMax, default 1 s and 30 s) instead of
	// returning the error. Off by default: a rare loss in this path is not diagnosed yet
	// (TestAnInstanceGokaStopsIsRestartedInProcess); a supervisor restarting the process is the
	// tested way.
	RestartOnError         bool
	RestartMin, RestartMax time.Duration
}

func (c *Config) defaults() {
	if c.Group == "" {
		c.Group = table.Group(c.Generation)
	}
	if c.SweepEvery <= 0 {
		c.SweepEvery = 200 * time.Millisecond
	}
	if c.EmitEvery <= 0 {
		c.EmitEvery = 25 * time.Millisecond
	}
	if c.FullSweepEvery <= 0 {
		c.FullSweepEvery = 15 * time.Second
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Metrics == nil {
		c.Metrics = NewMetrics(nil)
	}
	if c.ClientID == "" {
		c.ClientID = "telemetra-processor"
	}
	if c.StartupTimeout == 0 {
		c.StartupTimeout = kafka.DefaultStartupTimeout
	}
	if c.RestartMin <= 0 {
		c.RestartMin = time.Second
	}
	if c.RestartMax < c.RestartMin {
		c.RestartMax = max(30*time.Second, c.RestartMin)
	}
}

// Run runs the processor until ctx is canceled. An instance that goka stops with an error (its
// consumer group lost the broker that coordinated it, a state flush failed) is started again
// in this process after a backoff, recovering its state from the table as a restarted process
// would: Sarama gives up on a group coordinator it cannot reach rather than look for the next
// one, and a lost broker must not take the processors down with it.
func Run(ctx context.Context, cfg Config) error {
	cfg.defaults()
	outputs := kafka.OutputsFor(cfg.Generation)
	startup := []kafka.AdminOption{kafka.WithStartupTimeout(max(cfg.StartupTimeout, 0)), kafka.WithLogger(cfg.Logger),
		kafka.WithPartitionsOfInputs()}
	partitions, err := ensureTopics(ctx, cfg, outputs, startup)
	if err != nil {
		return err
	}
	if ready := cfg.Ready; ready != nil {
		var once sync.Once
		cfg.Ready = func() { once.Do(ready) }
	}
	wait := restartBackoff{min: cfg.RestartMin, max: cfg.RestartMax}
	for attempt := 1; ; attempt++ {
		started := cfg.Now()
		err := runInstance(ctx, cfg, outputs, partitions)
		if ctx.Err() != nil {
			return nil
		}
		var permanent permanentError
		if errors.As(err, &permanent) {
			return permanent.err
		}
		if !cfg.RestartOnError {
			return err
		}
		if err == nil {
			err = errors.New("goka stopped the processor without an error")
		}
		delay := wait.next(cfg.Now().Sub(started))
		cfg.Logger.Warn("processor stopped; restarting it, its state recovered from the table", "group", cfg.Group,
			"err", err, "attempt", attempt, "restart_in", delay)
		cfg.Metrics.restarts.Inc()
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(delay):
		}
	}
}

// readyRecheck is how often awaitReady asks goka again.
const readyRecheck = 5 * time.Second

// awaitReady waits until goka's processor has recovered its state and runs. goka v1.1.17's
// WaitForReady takes the partition processors of the current session once and waits for each to
// run; when a rebalance stops one during its recovery (instances started together: the first
// takes every partition, then hands most over), it waits for good, and the sweeps, which flush
// the states and release the commits, never start. Asking again every recheck takes the
// partitions of the session then current.
func awaitReady(ctx context.Context, proc *goka.Processor, recheck time.Duration) error {
	for {
		attempt, cancel := context.WithTimeout(ctx, recheck)
		err := proc.WaitForReadyContext(attempt)
		cancel()
		switch {
		case err == nil:
			return nil
		case ctx.Err() != nil:
			return ctx.Err()
		case !errors.Is(err, context.DeadlineExceeded):
			return err
		}
	}
}

// permanentError marks an error that a restart would only repeat (a configuration error).
type permanentError struct{ err error }

func (e permanentError) Error() string { return e.err.Error() }

// restartBackoff doubles the delay between restarts from min to max, and starts again from min
// after an instance that ran for a while (max): a fault long ago says nothing about this one.
type restartBackoff struct {
	min, max, last time.Duration
}

func (b *restartBackoff) next(ran time.Duration) time.Duration {
	switch {
	case b.last == 0 || ran >= b.max:
		b.last = b.min
	default:
		b.last = min(2*b.last, b.max)
	}
	return b.last
}

// runInstance runs one goka processor instance of the group until ctx ends or goka stops it.
func runInstance(ctx context.Context, cfg Config, outputs kafka.Outputs, partitions int) error {
	stateClient, err := newProducerClient(cfg.Brokers, cfg.ClientID)
	if err != nil {
		return permanentError{fmt.Errorf("state writer: %w", err)}
	}
	defer stateClient.Close()
	logic, err := NewLogic(LogicConfig{
		Group: cfg.Group, Window: cfg.Window, Partitions: partitions, Outputs: outputs, Sink: kgoSink{stateClient},
		Now: cfg.Now, Logger: cfg.Logger, Metrics: cfg.Metrics,
	})
	if err != nil {
		return permanentError{err}
	}
	scfg := table.SaramaConfig(cfg.ClientID)
	guard := &visitGuard{}
	opts := []goka.ProcessorOption{
		goka.WithClientID(cfg.ClientID),
		goka.WithProducerBuilder(goka.ProducerBuilderWithConfig(table.SaramaProducerConfig(cfg.ClientID))),
		goka.WithConsumerGroupBuilder(guard.groupBuilder(goka.ConsumerGroupBuilderWithConfig(scfg))),
		goka.WithConsumerSaramaBuilder(goka.SaramaConsumerBuilderWithConfig(scfg)),
		goka.WithTopicManagerBuilder(goka.TopicManagerBuilderWithConfig(scfg, table.TopicManagerConfig())),
		goka.WithLogger(table.GokaLogger{Logger: cfg.Logger, Component: "goka"}),
		goka.WithStorageBuilder(storage.MemoryBuilder()),
		goka.WithRebalanceCallback(func(a goka.Assignment) {
			cfg.Logger.Info("partitions assigned", "group", cfg.Group, "assignment", fmt.Sprint(map[int32]int64(a)))
		}),
	}
	if cfg.StorageDir != "" {
		opts = append(opts, goka.WithStorageBuilder(storage.DefaultBuilder(cfg.StorageDir)))
	}
	if cfg.HotStandby {
		opts = append(opts, goka.WithHotStandby())
	}
	proc, err := goka.NewProcessor(cfg.Brokers, logic.Graph(), opts...)
	if err != nil {
		// it asks the brokers for the topics: a broker just lost may be why
		return fmt.Errorf("create processor %s: %w", cfg.Group, err)
	}
	logic.attach(proc)

	admin, err := kgo.NewClient(kgo.SeedBrokers(cfg.Brokers...))
	if err != nil {
		return permanentError{fmt.Errorf("admin client: %w", err)}
	}
	defer admin.Close()
	offsets := &offsetsTracker{adm: kadm.NewClient(admin), group: string(cfg.Group), topics: logic.inputs, metrics: cfg.Metrics,
		leaders: newLeaderWatch(cfg.FailoverGrace), now: cfg.Now}

	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	started := time.Now()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := awaitReady(runCtx, proc, readyRecheck); err != nil {
			return
		}
		took := time.Since(started)
		cfg.Metrics.recovery.Set(took.Seconds())
		cfg.Logger.Info("processor ready: state recovered", "group", cfg.Group, "took", took.Round(time.Millisecond))
		if cfg.Ready != nil {
			cfg.Ready()
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			emitLoop(runCtx, logic, cfg)
		}()
		sweep(runCtx, proc, guard, logic, offsets, cfg)
	}()
	cfg.Logger.Info("processor starting", "group", cfg.Group, "brokers", cfg.Brokers, "partitions", partitions,
		"window", logic.engine.Config().Size, "allowed_lateness", logic.engine.Config().AllowedLateness)
	err = proc.Run(runCtx)
	cancel()
	wg.Wait() // the sweeps of this instance end before the next one's begin
	if errors.Is(err, context.Canceled) {
		err = nil
	}
	return err
}

// ensureTopics creates the topics the processor needs that are missing (goka's table topic
// too, so instances starting together do not race to create it) and returns the partition
// count that they all share. Topics with different counts fail it: goka would only find out at
// the first rebalance, in a message that does not say which topics.
func ensureTopics(ctx context.Context, cfg Config, outputs kafka.Outputs, opts []kafka.AdminOption) (int, error) {
	tableSpec := table.TopicSpec(cfg.Group, kafka.DefaultPartitions) // the count of the inputs, by the option
	if err := kafka.EnsureTopics(ctx, cfg.Brokers, append(append(kafka.AllTopics(), outputs.Specs()...), tableSpec), opts...); err != nil {
		return 0, err
	}
	joined := append(append(kafka.InputTopics(), outputs.Written()...), tableSpec.Name)
	n, err := kafka.CheckCopartitioned(ctx, cfg.Brokers, joined, opts...)
	if err != nil {
		return 0, fmt.Errorf("processor %s refuses to start: %w", cfg.Group, err)
	}
	return n, nil
}

// writeBound is how long a write of emits, markers or states may go on after the instance
// began to stop, as the final flush of a stopped partition is bounded (writeBack.watch).
const writeBound = 30 * time.Second

// writeContext is the context of a write that began before ctx ended. A stop does not cancel
// it: a write canceled half-way would fail the partition's later writes (writeOrder), its final
// flush among them, and turn a clean stop into inputs read again. It ends bound after ctx does.
// While ctx lives a write takes as long as Kafka takes: a loaded cluster held a batch for over
// 30 s (three brokers and three processors on two cores), and giving up then stopped the
// processor for nothing.
func writeContext(ctx context.Context, bound time.Duration) (context.Context, context.CancelFunc) {
	write, cancel := context.WithCancel(context.WithoutCancel(ctx))
	stopWatching := context.AfterFunc(ctx, func() {
		t := time.AfterFunc(bound, cancel)
		context.AfterFunc(write, func() { t.Stop() })
	})
	return write, func() {
		stopWatching()
		cancel()
	}
}

// emitLoop writes the due provisional updates and the queued emits every EmitEvery, until ctx
// ends. A failed write fails the partition's next flush (writeOrder), which stops goka.
func emitLoop(ctx context.Context, logic *Logic, cfg Config) {
	ticker := time.NewTicker(cfg.EmitEvery)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
		write, cancel := writeContext(ctx, writeBound)
		err := logic.emitDue(write, cfg.Now())
		cancel()
		if err != nil {
			cfg.Logger.Error("writing emits failed", "err", err)
		}
	}
}

// sweep runs the ticks (provisional updates, closes of channels loaded late), writes the
// markers due and flushes the changed states periodically, until ctx ends. A failed flush
// releases its deferred commits with the error, which stops goka (and so the processor): the
// restart recovers the states from before it.
func sweep(ctx context.Context, proc *goka.Processor, guard *visitGuard, logic *Logic, offsets *offsetsTracker, cfg Config) {
	ticker := time.NewTicker(cfg.SweepEvery)
	defer ticker.Stop()
	var lastFull time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
		ends, committed, err := offsets.list(ctx)
		if err != nil {
			// without end offsets no input counts as read to its end: markers wait
			cfg.Logger.Debug("offset listing failed; markers wait", "err", err)
		}
		now := cfg.Now()
		kind := "due"
		if now.Sub(lastFull) >= cfg.FullSweepEvery {
			kind = "full"
			// bring channels not touched since the assignment into memory (visits only load)
			if err := guard.visit(ctx, proc, tickVisitor); err != nil {
				// a rebalance or shutdown aborts a visit; the next sweep tries again
				cfg.Logger.Debug("sweep aborted", "err", err)
				kind += "_aborted"
			} else {
				lastFull = now
			}
		}
		write, cancel := writeContext(ctx, writeBound)
		err = logic.sweep(write, now, ends, committed)
		cancel()
		if err != nil {
			// the deferred commits were released with the error: goka stops the processor, and
			// the inputs are redelivered to the restarted one
			cfg.Logger.Error("state flush failed", "err", err)
		}
		cfg.Metrics.sweeps.WithLabelValues(kind).Inc()
	}
}
