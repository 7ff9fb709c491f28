package gateway

import (
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/telemetra/telemetra/processors/table"
	pb "github.com/telemetra/telemetra/proto/telemetra/v1"
)

// metricsFromAggregate presents one processor window as API metrics.
func metricsFromAggregate(a *pb.WindowAggregate) *pb.WindowMetrics {
	if a == nil {
		return nil
	}
	c := a.GetChat()
	var perMinute, firstTimePerMinute float64
	if minutes := a.GetWindowEnd().AsTime().Sub(a.GetWindowStart().AsTime()).Minutes(); minutes > 0 {
		perMinute = float64(c.GetMessages()) / minutes
		firstTimePerMinute = float64(c.GetFirstTimeMessages()) / minutes
	}
	return &pb.WindowMetrics{
		Channel: a.GetChannel(), WindowStart: a.GetWindowStart(), WindowEnd: a.GetWindowEnd(),
		Resolution: pb.Resolution_RESOLUTION_ONE_MINUTE, Final: a.GetFinal(), Version: a.GetVersion(), Windows: 1,
		Chat: &pb.ChatMetrics{
			Messages: c.GetMessages(), UniqueChatters: c.GetUniqueChatters(), MessagesPerChatter: c.GetMessagesPerChatter(),
			MessagesPerMinute: perMinute, TopEmotes: c.GetTopEmotes(), EmoteUses: c.GetEmoteUses(), Sentiment: c.GetSentiment(),
			FirstTimeChatters: c.GetFirstTimeChatters(), FirstTimeMessages: c.GetFirstTimeMessages(),
			FirstTimeMessagesPerMinute: firstTimePerMinute,
		},
		Viewers: a.GetViewers(), Transactions: a.GetTransactions(),
		Events: a.GetEvents(), LateEvents: a.GetLateEvents(), Live: a.GetStatus().GetLive(),
	}
}

// channelFromState presents a channel's processor state as its live view at now.
func channelFromState(st *pb.ChannelState, now time.Time, topEmotes int) *pb.Channel {
	ch := &pb.Channel{
		Name: "channels/" + st.GetChannel(), ChannelId: st.GetChannel(), DisplayName: st.GetChannel(),
		Status: st.GetStatus(), Watermark: st.GetWatermark(), UpdateTime: st.GetLastEventProcessingTime(),
		EventsTotal: st.GetEventsTotal(), LateEventsTotal: st.GetLateTotal(),
		CurrentWindow:   metricsFromAggregate(table.Preview(st, topEmotes)),
		LastFinalWindow: metricsFromAggregate(st.GetLastFinal()),
	}
	if ch.Status == nil {
		ch.Status = &pb.StreamStatus{}
	}
	if u := st.GetLastEventProcessingTime(); u != nil {
		ch.Staleness = durationpb.New(max(now.Sub(u.AsTime()), 0))
	}
	return ch
}

// statusChange says why a channel's status moved from prev to next, or false if it did not in a
// way subscribers are told about (viewer counts change with every sample).
func statusChange(prev, next *pb.StreamStatus) (pb.StatusChangeReason, bool) {
	switch {
	case prev == nil:
		return 0, false
	case !prev.GetLive() && next.GetLive():
		return pb.StatusChangeReason_STATUS_CHANGE_REASON_STREAM_START, true
	case prev.GetLive() && !next.GetLive():
		return pb.StatusChangeReason_STATUS_CHANGE_REASON_STREAM_END, true
	case !proto.Equal(prev.GetLastRaid(), next.GetLastRaid()) && next.GetLastRaid() != nil:
		return pb.StatusChangeReason_STATUS_CHANGE_REASON_RAID_INCOMING, true
	case prev.GetTitle() != next.GetTitle() || prev.GetCategory() != next.GetCategory():
		return pb.StatusChangeReason_STATUS_CHANGE_REASON_TITLE_CHANGE, true
	}
	return 0, false
}
