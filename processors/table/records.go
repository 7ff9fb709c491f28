package table

import (
	"cmp"
	"slices"
	"strconv"

	"github.com/axiomhq/hyperloglog"
	"google.golang.org/protobuf/proto"

	pb "github.com/telemetra/telemetra/proto/telemetra/v1"
	"github.com/telemetra/telemetra/schemas"
)

// How a state's open windows read as records. An open window keeps what it accumulated
// (chatter hashes, emote counts, status events); the fields of a record computed from those are
// derived here, both by the window engine when it emits a record and by the table's readers when
// they show an open window live (Preview), so the two always agree.

// ViewerSampleEvent is the StatusEvent type of a viewer sample; the other status events carry
// the stream_meta event type (schemas.StreamEventType).
const ViewerSampleEvent = "viewers"

// Preview returns the newest open window of a state as a provisional record would show it now,
// without changing the state (for live reads of the group table), or nil if none is open. A
// window with late events only is no activity to show.
func Preview(st *pb.ChannelState, topEmotes int) *pb.WindowAggregate {
	n := len(st.GetOpenWindows())
	for n > 0 && st.OpenWindows[n-1].Aggregate.Events == 0 {
		n--
	}
	if n == 0 {
		return nil
	}
	status := StatusBefore(st)
	for _, w := range st.OpenWindows {
		status = AdvanceStatus(status, w)
	}
	w := st.OpenWindows[n-1]
	agg := proto.Clone(w.Aggregate).(*pb.WindowAggregate)
	agg.Status = status
	agg.Final = false
	agg.Version = max(w.EmittedVersion, agg.Version)
	Derive(agg, w, topEmotes)
	return agg
}

// StatusBefore is the status the oldest open window starts from: the last closed window's.
func StatusBefore(st *pb.ChannelState) *pb.StreamStatus {
	if s := st.GetLastFinal().GetStatus(); s != nil {
		return proto.Clone(s).(*pb.StreamStatus)
	}
	return &pb.StreamStatus{}
}

// AdvanceStatus returns the status after window w: s with w's status events applied, in the
// window's status order (a copy of s if there are any).
func AdvanceStatus(s *pb.StreamStatus, w *pb.OpenWindow) *pb.StreamStatus {
	if len(w.StatusEvents) == 0 {
		return s
	}
	s = proto.Clone(s).(*pb.StreamStatus)
	for _, ev := range w.StatusEvents {
		ApplyStatusEvent(s, ev)
	}
	return s
}

// ApplyStatusEvent changes s as ev says.
func ApplyStatusEvent(s *pb.StreamStatus, ev *pb.StatusEvent) {
	s.LastEventTime = ev.At
	if ev.EventType == ViewerSampleEvent {
		s.Viewers, s.Chatters = ev.Viewers, ev.Chatters
		return
	}
	if ev.Title != "" {
		s.Title = ev.Title
	}
	if ev.Category != "" {
		s.Category = ev.Category
	}
	switch schemas.StreamEventType(ev.EventType) {
	case schemas.StreamStart:
		s.Live = true
		s.StartedAt = ev.At
		s.EndedAt = nil
		s.SessionId = strconv.FormatInt(ev.At.AsTime().Unix(), 10)
	case schemas.StreamEnd:
		s.Live = false
		s.EndedAt = ev.At
	case schemas.RaidIncoming:
		s.LastRaid = &pb.RaidInfo{FromChannel: ev.RaidFrom, Viewers: ev.RaidViewers, At: ev.At}
	}
}

// Derive fills the fields of window w's record agg that are computed from the accumulated ones,
// with the topN most used emotes.
func Derive(agg *pb.WindowAggregate, w *pb.OpenWindow, topN int) {
	chat := agg.Chat
	chat.UniqueChatters = int64(len(w.ChatterHashes))
	chat.MessagesPerChatter = 0
	if chat.UniqueChatters > 0 {
		chat.MessagesPerChatter = float64(chat.Messages) / float64(chat.UniqueChatters)
	}
	chat.TopEmotes = topEmotes(w.Emotes, topN)
	chat.ChattersSketch = sketch(w.ChatterHashes)
	if s := chat.Sentiment; s.ScoredMessages > 0 {
		s.Average = s.ScoreSum / float64(s.ScoredMessages)
	}
	if v := agg.Viewers; v.Samples > 0 {
		v.Avg = float64(v.ViewerSum) / float64(v.Samples)
		v.ChattersAvg = float64(v.ChatterSum) / float64(v.Samples)
	}
}

// topEmotes lists the n most used emotes, ties broken by name so the order is stable.
func topEmotes(counts []*pb.EmoteCount, n int) []*pb.EmoteCount {
	if len(counts) == 0 {
		return nil
	}
	all := make([]*pb.EmoteCount, 0, len(counts))
	for _, c := range counts {
		all = append(all, &pb.EmoteCount{Emote: c.Emote, Count: c.Count})
	}
	slices.SortFunc(all, func(a, b *pb.EmoteCount) int {
		if c := cmp.Compare(b.Count, a.Count); c != 0 {
			return c
		}
		return cmp.Compare(a.Emote, b.Emote)
	})
	return all[:min(n, len(all))]
}

// Mix64 is MurmurHash3's finalizer. HyperLogLog and the first-time-chatter filters
// (processors/window) need uniformly spread hashes, and FNV-1a of similar short names is not:
// without it, 10,000 distinct names filled only ~900 of the 16,384 registers and large sketches
// estimated ~10x too low.
func Mix64(h uint64) uint64 {
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	h ^= h >> 33
	return h
}

// sketch builds the HyperLogLog sketch (precision 14, sparse while small) of the window's
// chatters, so roll-ups over many windows can merge unique chatters.
func sketch(hashes []uint64) []byte {
	if len(hashes) == 0 {
		return nil
	}
	s := hyperloglog.New14()
	for _, h := range hashes {
		s.InsertHash(Mix64(h))
	}
	b, err := s.MarshalBinary()
	if err != nil { // cannot happen for an in-memory sketch; an empty sketch is the safe answer
		return nil
	}
	return b
}
