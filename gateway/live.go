package gateway

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/lovoo/goka"
	"github.com/lovoo/goka/codec"
	"github.com/lovoo/goka/storage"

	"github.com/telemetra/telemetra/internal/kafka"
	"github.com/telemetra/telemetra/processors/table"
	pb "github.com/telemetra/telemetra/proto/telemetra/v1"
)

// LiveStates is what the live reads need from the processor's state.
type LiveStates interface {
	// Get returns a channel's state, nil if the channel is unknown. The state may be shared
	// with other readers (stateCache): it must not be changed.
	Get(channel string) (*pb.ChannelState, error)
	// Channels lists the channels the view holds, sorted, without decoding their states: a
	// listing decodes only the states it serves.
	Channels() ([]string, error)
	// Recovered reports whether the view has caught up with the table once.
	Recovered() bool
}

// View is a goka View of the processor's group table: every gateway holds the whole table in
// memory and follows its changes (the processor flushes states every 200 ms).
type View struct {
	view   *goka.View
	states *stateCache
	newest *newestUpdate // the newest state's update time, for the pipeline's health
	// mu keeps Recovered from reading the goka View while it closes: goka's close and its
	// Recovered touch the same field unguarded (a data race the health poller met at shutdown).
	mu        sync.RWMutex
	stopping  bool
	recovered bool // once true, goka is not asked again
}

// NewView connects a view of generation's group table. opts configure the start-up calls into
// internal/kafka (e.g. kafka.WithStartupTimeout); they log to logger unless opts say otherwise.
func NewView(ctx context.Context, brokers []string, generation int, clientID string, logger *slog.Logger, opts ...kafka.AdminOption) (*View, error) {
	topic := table.Name(generation)
	opts = append([]kafka.AdminOption{kafka.WithLogger(logger), kafka.WithPartitionsOfInputs()}, opts...)
	// the gateway may start before the processors created the topics
	if err := kafka.EnsureTopics(ctx, brokers, append(kafka.AllTopics(), kafka.OutputsFor(generation).Specs()...), opts...); err != nil {
		return nil, err
	}
	partitions, err := kafka.PartitionCount(ctx, brokers, kafka.TopicChat, opts...)
	if err != nil {
		return nil, err
	}
	// the gateway may start before any processor did
	if err := kafka.EnsureTopics(ctx, brokers, []kafka.TopicSpec{table.TopicSpec(table.Group(generation), int32(partitions))}, opts...); err != nil {
		return nil, err
	}
	scfg := table.SaramaConfig(clientID)
	updates := &newestUpdate{}
	// values stay bytes in the view: Get decodes them through the cache
	v, err := goka.NewView(brokers, topic, new(codec.Bytes),
		goka.WithViewCallback(updates.viewCallback),
		goka.WithViewStorageBuilder(storage.MemoryBuilder()),
		goka.WithViewConsumerSaramaBuilder(goka.SaramaConsumerBuilderWithConfig(scfg)),
		goka.WithViewTopicManagerBuilder(goka.TopicManagerBuilderWithConfig(scfg, table.TopicManagerConfig())),
		goka.WithViewAutoReconnect(),
		goka.WithViewLogger(table.GokaLogger{Logger: logger, Component: "goka-view"}),
	)
	if err != nil {
		return nil, fmt.Errorf("view of %s: %w", topic, err)
	}
	return &View{view: v, states: newStateCache(cachedStates), newest: updates}, nil
}

// cachedStates bounds the decoded states a gateway keeps (stateCache): a few kilobytes each.
const cachedStates = 20_000

// Run follows the table until ctx ends.
func (v *View) Run(ctx context.Context) error {
	viewCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	go func() {
		select {
		case <-ctx.Done():
		case <-viewCtx.Done():
		}
		v.mu.Lock()
		v.stopping = true
		v.mu.Unlock()
		cancel() // goka closes the view only now, with Recovered kept away from it
	}()
	return v.view.Run(viewCtx)
}

// Recovered reports whether the view has read the table up to its end once.
func (v *View) Recovered() bool {
	v.mu.RLock()
	if v.recovered || v.stopping {
		defer v.mu.RUnlock()
		return v.recovered
	}
	v.mu.RUnlock()
	v.mu.Lock()
	defer v.mu.Unlock()
	if !v.stopping && !v.recovered {
		v.recovered = v.view.Recovered()
	}
	return v.recovered
}

// NewestUpdate is the update time of the newest channel state the view holds; zero before
// the first.
func (v *View) NewestUpdate() time.Time { return v.newest.newest() }

// Get returns a channel's state or nil.
func (v *View) Get(channel string) (*pb.ChannelState, error) {
	val, err := v.view.Get(channel)
	if err != nil || val == nil {
		return nil, err
	}
	return v.states.get(channel, val.([]byte))
}

// Channels lists the channels in the view, sorted. goka's iterator decodes a value only when
// asked for it, so this reads keys only.
func (v *View) Channels() ([]string, error) {
	it, err := v.view.Iterator()
	if err != nil {
		return nil, err
	}
	defer it.Release()
	var names []string
	for it.Next() {
		if table.IsClockKey(it.Key()) {
			continue // a partition's arrival clock, not a channel
		}
		names = append(names, it.Key())
	}
	slices.Sort(names)
	return names, nil
}
