package store

import (
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/telemetra/telemetra/internal/projection"
	pb "github.com/telemetra/telemetra/proto/telemetra/v1"
)

// The column lists below aggregate a group of window_aggregates rows (alias w) in SQL, each
// one part of the roll-up as the table's definition says (internal/projection: the columns of
// the part in table order, each by its rule); the matching Go types scan them (targets, in the
// same order) and turn them into API messages. What SQL cannot merge (sketches, emote lists) is
// collected raw and merged in merge.go.

// chatterColumns collect what unique chatters are merged from: the largest window's count, the
// sum of the windows' counts, the sketches.
var chatterColumns = rollups(projection.PartChatters)

type chatterParts struct {
	largestWindow int64
	sumOfWindows  int64
	sketches      [][]byte
}

func (c *chatterParts) targets() []any {
	return []any{&c.largestWindow, &c.sumOfWindows, &c.sketches}
}

func (c *chatterParts) unique() (int64, error) {
	return mergeUniqueChatters(c.sketches, c.largestWindow, c.sumOfWindows)
}

// transactionColumns sum every transaction count and amount.
var transactionColumns = rollups(projection.PartTransactions)

type transactionSums struct {
	donations, donationCents                              int64
	subscriptions, tier1, tier2, tier3, subscriptionCents int64
	bitsCount, bits, bitsCents                            int64
	giftSubs, gifted, giftSubCents                        int64
	transactions, revenueCents                            int64
}

func (t *transactionSums) targets() []any {
	return []any{&t.donations, &t.donationCents,
		&t.subscriptions, &t.tier1, &t.tier2, &t.tier3, &t.subscriptionCents,
		&t.bitsCount, &t.bits, &t.bitsCents,
		&t.giftSubs, &t.gifted, &t.giftSubCents,
		&t.transactions, &t.revenueCents}
}

func (t *transactionSums) stats() *pb.TransactionStats {
	return &pb.TransactionStats{
		Donations: &pb.DonationStats{Count: t.donations, AmountCents: t.donationCents},
		Subscriptions: &pb.SubscriptionStats{Count: t.subscriptions, Tier1: t.tier1, Tier2: t.tier2,
			Tier3: t.tier3, AmountCents: t.subscriptionCents},
		Bits:         &pb.BitsStats{Count: t.bitsCount, Bits: t.bits, AmountCents: t.bitsCents},
		GiftSubs:     &pb.GiftSubStats{Count: t.giftSubs, Gifted: t.gifted, AmountCents: t.giftSubCents},
		RevenueCents: t.revenueCents,
		Transactions: t.transactions,
	}
}

// viewerColumns: sums, and min, max and last only over windows with samples, whose zeros are
// no readings.
var viewerColumns = rollups(projection.PartViewers)

type viewerSums struct {
	samples, viewerSum, min, max, last    int64
	chatterSum, chattersMax, chattersLast int64
}

func (v *viewerSums) targets() []any {
	return []any{&v.samples, &v.viewerSum, &v.min, &v.max, &v.last, &v.chatterSum, &v.chattersMax, &v.chattersLast}
}

func (v *viewerSums) stats() *pb.ViewerStats {
	return &pb.ViewerStats{
		Samples:      v.samples,
		ViewerSum:    v.viewerSum,
		Avg:          ratio(v.viewerSum, v.samples),
		Min:          v.min,
		Max:          v.max,
		Last:         v.last,
		ChatterSum:   v.chatterSum,
		ChattersAvg:  ratio(v.chatterSum, v.samples),
		ChattersMax:  v.chattersMax,
		ChattersLast: v.chattersLast,
	}
}

// chatColumns: the chat sums and the raw top-emote lists (only non-empty ones), then the
// chatters.
var chatColumns = rollups(projection.PartChat) + `,` + chatterColumns

type chatSums struct {
	messages, emoteUses                  int64
	topEmotes                            [][]emoteCount
	scoreSum                             float64
	scored, positive, negative, neutral  int64
	firstTimeChatters, firstTimeMessages int64
	chatters                             chatterParts
}

func (c *chatSums) targets() []any {
	return append([]any{&c.messages, &c.emoteUses, &c.topEmotes,
		&c.scoreSum, &c.scored, &c.positive, &c.negative, &c.neutral,
		&c.firstTimeChatters, &c.firstTimeMessages}, c.chatters.targets()...)
}

// metrics merges the chat of the windows; minutes is the length of the bucket or range.
func (c *chatSums) metrics(minutes float64, topEmotes int) (*pb.ChatMetrics, error) {
	unique, err := c.chatters.unique()
	if err != nil {
		return nil, err
	}
	return &pb.ChatMetrics{
		Messages:           c.messages,
		UniqueChatters:     unique,
		MessagesPerChatter: ratio(c.messages, unique),
		MessagesPerMinute:  ratio(float64(c.messages), minutes),
		TopEmotes:          mergeTopEmotes(c.topEmotes, topEmotes),
		EmoteUses:          c.emoteUses,
		Sentiment: &pb.SentimentStats{
			ScoreSum:       c.scoreSum,
			ScoredMessages: c.scored,
			Average:        ratio(c.scoreSum, c.scored),
			Positive:       c.positive,
			Negative:       c.negative,
			Neutral:        c.neutral,
		},
		FirstTimeChatters:          c.firstTimeChatters,
		FirstTimeMessages:          c.firstTimeMessages,
		FirstTimeMessagesPerMinute: ratio(float64(c.firstTimeMessages), minutes),
	}, nil
}

// windowTotalsColumns aggregate everything WindowMetrics and summaries report: the number of
// windows, the bucket's own fields (final, version, events, late events, live), then the parts.
var windowTotalsColumns = `
    count(*),` + rollups(projection.PartWindow) + `,` + chatColumns + `,` + viewerColumns + `,` + transactionColumns

type windowTotals struct {
	windows            int64
	final              bool
	version            int64
	events, lateEvents int64
	live               bool
	chat               chatSums
	viewers            viewerSums
	transactions       transactionSums
}

func (t *windowTotals) targets() []any {
	out := []any{&t.windows, &t.final, &t.version, &t.events, &t.lateEvents, &t.live}
	out = append(out, t.chat.targets()...)
	out = append(out, t.viewers.targets()...)
	return append(out, t.transactions.targets()...)
}

// windowMetrics is the bucket [start, end) of channel at resolution.
func (t *windowTotals) windowMetrics(channel string, start, end time.Time, resolution pb.Resolution) (*pb.WindowMetrics, error) {
	chat, err := t.chat.metrics(end.Sub(start).Minutes(), defaultTopEmotes)
	if err != nil {
		return nil, err
	}
	return &pb.WindowMetrics{
		Channel:      channel,
		WindowStart:  timestamppb.New(start),
		WindowEnd:    timestamppb.New(end),
		Resolution:   resolution,
		Final:        t.final,
		Version:      uint64(t.version),
		Windows:      t.windows,
		Chat:         chat,
		Viewers:      t.viewers.stats(),
		Transactions: t.transactions.stats(),
		Events:       t.events,
		LateEvents:   t.lateEvents,
		Live:         t.live,
	}, nil
}
