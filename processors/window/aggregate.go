package window

import (
	"hash/fnv"
	"slices"
	"time"

	"github.com/telemetra/telemetra/processors/sentiment"
	"github.com/telemetra/telemetra/processors/table"
	pb "github.com/telemetra/telemetra/proto/telemetra/v1"
	"github.com/telemetra/telemetra/schemas"
)

func newTransactionStats() *pb.TransactionStats {
	return &pb.TransactionStats{
		Donations: &pb.DonationStats{}, Subscriptions: &pb.SubscriptionStats{},
		Bits: &pb.BitsStats{}, GiftSubs: &pb.GiftSubStats{},
	}
}

func addChat(st *pb.ChannelState, w *pb.OpenWindow, m schemas.ChatMessage) {
	chat := w.Aggregate.Chat
	chat.Messages++
	h := chatterHash(m.Username)
	if k, found := slices.BinarySearch(w.ChatterHashes, h); !found {
		w.ChatterHashes = slices.Insert(w.ChatterHashes, k, h)
	}
	countFirstTime(st, w, h)
	for _, e := range m.Emotes {
		countEmote(w, e)
		chat.EmoteUses++
	}
	score := sentiment.Analyze(m.Message)
	s := chat.Sentiment
	s.ScoreSum += score.Compound
	s.ScoredMessages++
	switch score.Class {
	case sentiment.Positive:
		s.Positive++
	case sentiment.Negative:
		s.Negative++
	default:
		s.Neutral++
	}
}

// countEmote adds one use of an emote; a window sees a few dozen distinct emotes at most.
func countEmote(w *pb.OpenWindow, emote string) {
	for _, c := range w.Emotes {
		if c.Emote == emote {
			c.Count++
			return
		}
	}
	w.Emotes = append(w.Emotes, &pb.EmoteCount{Emote: emote, Count: 1})
}

// chatterHash identifies a chatter by name within a channel.
func chatterHash(username string) uint64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(username))
	return h.Sum64()
}

func addViewers(w *pb.OpenWindow, v schemas.ViewerCount) {
	s := w.Aggregate.Viewers
	s.Samples++
	s.ViewerSum += v.ViewerCount
	s.ChatterSum += v.ChatterCount
	if s.Samples == 1 || v.ViewerCount < s.Min {
		s.Min = v.ViewerCount
	}
	s.Max = max(s.Max, v.ViewerCount)
	s.ChattersMax = max(s.ChattersMax, v.ChatterCount)
	// last in partition order, which is the producer's order for a channel
	s.Last, s.ChattersLast = v.ViewerCount, v.ChatterCount
}

func addTransaction(agg *pb.WindowAggregate, t schemas.Transaction) {
	s := agg.Transactions
	cents := t.AmountCents()
	s.Transactions++
	s.RevenueCents += cents
	switch t.TransactionType {
	case schemas.TransactionDonation:
		s.Donations.Count++
		s.Donations.AmountCents += cents
	case schemas.TransactionSubscription:
		s.Subscriptions.Count++
		s.Subscriptions.AmountCents += cents
		switch t.Tier {
		case 2:
			s.Subscriptions.Tier2++
		case 3:
			s.Subscriptions.Tier3++
		default: // the seed's shape has no tier: a plain sub is tier 1
			s.Subscriptions.Tier1++
		}
	case schemas.TransactionBits:
		s.Bits.Count++
		s.Bits.Bits += t.Bits
		s.Bits.AmountCents += cents
	case schemas.TransactionGiftSub:
		s.GiftSubs.Count++
		s.GiftSubs.Gifted += int64(max(t.GiftCount, 1))
		s.GiftSubs.AmountCents += cents
	}
}

// applyMeta updates the channel's current status from a lifecycle event (change is the event
// as a StatusEvent); a raid is a moment at once.
func (e *Engine) applyMeta(st *pb.ChannelState, m schemas.StreamMeta, change *pb.StatusEvent, now time.Time, res *Result) {
	status := currentStatus(st)
	table.ApplyStatusEvent(status, change)
	if m.EventType == schemas.RaidIncoming {
		t := change.At.AsTime()
		start := t.Truncate(e.cfg.Size)
		res.Moments = append(res.Moments, raidMoment(st.Channel, status.LastRaid, start, start.Add(e.cfg.Size), now))
	}
}
