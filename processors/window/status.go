package window

import (
	"cmp"
	"slices"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/telemetra/telemetra/processors/table"
	pb "github.com/telemetra/telemetra/proto/telemetra/v1"
	"github.com/telemetra/telemetra/schemas"
)

// A window's status (live, title, category, session, viewers) is the channel's as of the
// window's latest event, by event time. The processor reads its input topics independently:
// live, stream_meta is read alongside chat, but a replay may read all of stream_meta first. So
// the status changes are kept with their event time in the window they fall in, and a
// window's status is the previous window's with its own changes applied in status order
// (event time, then content).
// The channel's current status (ChannelState.status) follows processing order: it is what the
// channel looks like now. Applying the changes is package table's (ApplyStatusEvent,
// AdvanceStatus): the table's readers compute an open window's status the same way.

func metaStatusEvent(m schemas.StreamMeta, t time.Time) *pb.StatusEvent {
	return &pb.StatusEvent{At: timestamppb.New(t), EventType: string(m.EventType), Title: m.Title, Category: m.Category,
		RaidFrom: m.RaidFrom, RaidViewers: m.RaidViewers}
}

func viewerStatusEvent(v schemas.ViewerCount, t time.Time) *pb.StatusEvent {
	return &pb.StatusEvent{At: timestamppb.New(t), EventType: table.ViewerSampleEvent, Viewers: v.ViewerCount, Chatters: v.ChatterCount}
}

// recordStatusEvent keeps ev in the window, in status order (see statusOrder). Each status
// event sets a fixed set of fields to its own values, so of the events that set the same fields
// only the latest counts for the window's status: the others are dropped. A window thus holds a
// handful of events, however many title changes or viewer samples it sees.
func recordStatusEvent(w *pb.OpenWindow, ev *pb.StatusEvent) {
	if i := slices.IndexFunc(w.StatusEvents, func(e *pb.StatusEvent) bool { return sameFields(e, ev) }); i >= 0 {
		if statusOrder(ev, w.StatusEvents[i]) < 0 {
			return
		}
		w.StatusEvents = slices.Delete(w.StatusEvents, i, i+1)
	}
	k, _ := slices.BinarySearchFunc(w.StatusEvents, ev, statusOrder)
	w.StatusEvents = slices.Insert(w.StatusEvents, k, ev)
}

// statusOrder orders status events by event time, and events of the same millisecond from
// different topics by their content: the order they were read in must not decide a status.
func statusOrder(a, b *pb.StatusEvent) int {
	return cmp.Or(
		a.At.AsTime().Compare(b.At.AsTime()),
		cmp.Compare(a.EventType, b.EventType),
		cmp.Compare(a.Title, b.Title),
		cmp.Compare(a.Category, b.Category),
		cmp.Compare(a.RaidFrom, b.RaidFrom),
		cmp.Compare(a.RaidViewers, b.RaidViewers),
		cmp.Compare(a.Viewers, b.Viewers),
		cmp.Compare(a.Chatters, b.Chatters),
	)
}

// sameFields reports that a and b set the same status fields (see table.ApplyStatusEvent).
func sameFields(a, b *pb.StatusEvent) bool {
	return a.EventType == b.EventType && (a.Title != "") == (b.Title != "") && (a.Category != "") == (b.Category != "")
}
