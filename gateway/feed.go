package gateway

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/proto"

	"github.com/telemetra/telemetra/gateway/hub"
	"github.com/telemetra/telemetra/gateway/ranking"
	"github.com/telemetra/telemetra/internal/kafka"
	pb "github.com/telemetra/telemetra/proto/telemetra/v1"
)

// feed is the gateway's one Kafka consumer: it reads the processors' outputs from their end and
// publishes them to the hub, which fans them out to every subscriber, and to the live ranking
// index.
type feed struct {
	hub     *hub.Hub
	index   *ranking.Index
	outputs kafka.Outputs
	logger  *slog.Logger
	// status is each channel's last status seen, to tell subscribers what changed
	status map[string]*pb.StreamStatus
}

func newFeed(h *hub.Hub, index *ranking.Index, generation int, logger *slog.Logger) *feed {
	return &feed{hub: h, index: index, outputs: kafka.OutputsFor(generation), logger: logger, status: map[string]*pb.StreamStatus{}}
}

// run consumes until ctx ends. Subscribers see what happens from their subscription on (plus the
// snapshot they ask for), so the feed starts at the end and keeps no offsets.
func (f *feed) run(ctx context.Context, brokers []string, clientID string) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ClientID(clientID),
		kgo.ConsumeTopics(f.outputs.Aggregates, f.outputs.Moments), kgo.ConsumeResetOffset(kgo.NewOffset().AtEnd()))
	if err != nil {
		return fmt.Errorf("feed client: %w", err)
	}
	defer cl.Close()
	for {
		fetches := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return nil
		}
		fetches.EachError(func(topic string, p int32, err error) {
			f.logger.Warn("feed fetch failed; retrying", "topic", topic, "partition", p, "err", err)
		})
		fetches.EachRecord(f.publish)
	}
}

func (f *feed) publish(r *kgo.Record) {
	switch r.Topic {
	case f.outputs.Aggregates:
		a := new(pb.WindowAggregate)
		if err := proto.Unmarshal(r.Value, a); err != nil {
			f.logger.Error("undecodable aggregate skipped", "partition", r.Partition, "offset", r.Offset, "err", err)
			return
		}
		f.index.ApplyWindow(a)
		for _, ev := range f.windowEvents(a) {
			f.hub.Publish(ev)
		}
	case f.outputs.Moments:
		m := new(pb.Moment)
		if err := proto.Unmarshal(r.Value, m); err != nil {
			f.logger.Error("undecodable moment skipped", "partition", r.Partition, "offset", r.Offset, "err", err)
			return
		}
		f.index.ApplyMoment(m)
		f.hub.Publish(momentEvent(m))
	}
}

// windowEvents turns a window record into its window event, preceded by a status change if
// the channel's status changed.
func (f *feed) windowEvents(a *pb.WindowAggregate) []hub.Event {
	var out []hub.Event
	if next := a.GetStatus(); next != nil {
		prev, seen := f.status[a.GetChannel()]
		// records of an older window may arrive after newer ones (a final after a provisional of
		// the next window): only a newer status counts
		if !seen || !next.GetLastEventTime().AsTime().Before(prev.GetLastEventTime().AsTime()) {
			if reason, changed := statusChange(prev, next); changed {
				out = append(out, statusEvent(a.GetChannel(), next, reason))
			}
			f.status[a.GetChannel()] = next
		}
	}
	return append(out, windowEvent(a))
}

func windowEvent(a *pb.WindowAggregate) hub.Event {
	kind := hub.KindProvisional
	if a.GetFinal() {
		kind = hub.KindFinal
	}
	return hub.Event{
		Channel: a.GetChannel(), Kind: kind,
		Payload:     &pb.ChannelEvent{Channel: a.GetChannel(), Event: &pb.ChannelEvent_Window{Window: metricsFromAggregate(a)}},
		CoalesceKey: a.GetChannel() + "@" + a.GetWindowStart().AsTime().String(),
	}
}

func momentEvent(m *pb.Moment) hub.Event {
	return hub.Event{Channel: m.GetChannel(), Kind: hub.KindMoment,
		Payload: &pb.ChannelEvent{Channel: m.GetChannel(), Event: &pb.ChannelEvent_Moment{Moment: m}}}
}

func statusEvent(channel string, st *pb.StreamStatus, reason pb.StatusChangeReason) hub.Event {
	return hub.Event{Channel: channel, Kind: hub.KindStatus,
		Payload: &pb.ChannelEvent{Channel: channel, Event: &pb.ChannelEvent_Status{Status: &pb.StatusChange{Status: st, Reason: reason}}}}
}
