package store

import (
	"testing"

	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/telemetra/telemetra/proto/telemetra/v1"
)

func TestSummarize(t *testing.T) {
	f := newFixture(t)
	f.insert("window_aggregates",
		window("demo", 0, merge(chatters(t, 0, 100), row{"chat_messages": 300, "emote_uses": 7,
			"top_emotes":    `[{"emote": "Kappa", "count": 5}, {"emote": "LUL", "count": 2}]`,
			"sentiment_sum": 1.5, "sentiment_scored": 3, "sentiment_positive": 2, "sentiment_neutral": 1,
			"first_time_chatters": 100, "first_time_messages": 240,
			"viewer_samples": 2, "viewer_sum": 200, "viewers_min": 90, "viewers_max": 110, "viewers_last": 95,
			"chatter_sum": 20, "chatters_max": 11, "chatters_last": 9,
			"donations": 1, "donation_cents": 1000, "transactions": 1, "revenue_cents": 1000})),
		window("demo", 1, merge(chatters(t, 50, 150), row{"chat_messages": 150, "emote_uses": 7,
			"top_emotes":    `[{"emote": "LUL", "count": 4}, {"emote": "PogChamp", "count": 3}]`,
			"sentiment_sum": -0.5, "sentiment_scored": 1, "sentiment_negative": 1,
			"first_time_chatters": 50, "first_time_messages": 60,
			"viewer_samples": 2, "viewer_sum": 300, "viewers_min": 140, "viewers_max": 160, "viewers_last": 150,
			"chatter_sum": 30, "chatters_max": 16, "chatters_last": 15,
			"subscriptions": 3, "sub_tier1": 2, "sub_tier3": 1, "subscription_cents": 3497, "transactions": 3, "revenue_cents": 3497})),
		window("demo", 2, row{"top_emotes": `[{"emote": "Kappa", "count": 1}, {"emote": "Aaa", "count": 3}]`,
			"bits_count": 2, "bits": 500, "bits_cents": 500, "gift_subs": 1, "gifted": 5, "gift_sub_cents": 2495,
			"transactions": 3, "revenue_cents": 2995}),
		window("demo", 3, row{"final": false, "chat_messages": 1000, "first_time_messages": 1000, "top_emotes": `[{"emote": "Zzz", "count": 100}]`}),
		window("demo", -1, row{"chat_messages": 1000}),
		window("demo", 60, row{"chat_messages": 1000}),
		window("other", 0, row{"chat_messages": 1000}),
	)
	f.insert("moments",
		moment("demo", "chat_spike-1", "chat_spike", minute(1), nil),
		moment("demo", "chat_spike-2", "chat_spike", minute(30), nil),
		moment("demo", "raid-1", "raid", minute(59), nil),
		moment("demo", "hype-1", "hype", minute(60), nil), // at End: outside
		moment("other", "hype-1", "hype", minute(5), nil),
	)

	got, err := f.store.Summarize(ctx, SummaryQuery{Channel: "demo", Start: minute(0), End: minute(60), TopEmotes: 3})
	if err != nil {
		t.Fatal(err)
	}
	unique := got.GetChat().GetUniqueChatters()
	if !within(unique, 150, 0.02) {
		t.Errorf("unique chatters %d, want ~150", unique)
	}
	assertProto(t, "summary", got, &pb.SummarizeChannelResponse{
		Name: "channels/demo", StartTime: timestamppb.New(minute(0)), EndTime: timestamppb.New(minute(60)),
		Windows: 3,
		Chat: &pb.ChatMetrics{
			Messages: 450, UniqueChatters: unique, MessagesPerChatter: 450 / float64(unique), MessagesPerMinute: 7.5,
			// Kappa and LUL tie at 6, Aaa and PogChamp at 3: names break ties
			TopEmotes: []*pb.EmoteCount{{Emote: "Kappa", Count: 6}, {Emote: "LUL", Count: 6}, {Emote: "Aaa", Count: 3}},
			EmoteUses: 14,
			Sentiment: &pb.SentimentStats{ScoreSum: 1, ScoredMessages: 4, Average: 0.25, Positive: 2, Negative: 1, Neutral: 1},
			// per minute over the whole hour
			FirstTimeChatters: 150, FirstTimeMessages: 300, FirstTimeMessagesPerMinute: 5,
		},
		Viewers: &pb.ViewerStats{Samples: 4, ViewerSum: 500, Avg: 125, Min: 90, Max: 160, Last: 150,
			ChatterSum: 50, ChattersAvg: 12.5, ChattersMax: 16, ChattersLast: 15},
		Transactions: &pb.TransactionStats{
			Donations:     &pb.DonationStats{Count: 1, AmountCents: 1000},
			Subscriptions: &pb.SubscriptionStats{Count: 3, Tier1: 2, Tier3: 1, AmountCents: 3497},
			Bits:          &pb.BitsStats{Count: 2, Bits: 500, AmountCents: 500},
			GiftSubs:      &pb.GiftSubStats{Count: 1, Gifted: 5, AmountCents: 2495},
			RevenueCents:  7492, Transactions: 7,
		},
		Moments: []*pb.MomentKindCount{
			{Kind: pb.MomentKind_MOMENT_KIND_CHAT_SPIKE, Count: 2},
			{Kind: pb.MomentKind_MOMENT_KIND_RAID, Count: 1},
		},
	})

	got, err = f.store.Summarize(ctx, SummaryQuery{Channel: "demo", Start: minute(0), End: minute(60)})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(got.GetChat().GetTopEmotes()); n != 4 {
		t.Errorf("default limit: %d top emotes, want all 4", n)
	}

	empty, err := f.store.Summarize(ctx, SummaryQuery{Channel: "nobody", Start: minute(0), End: minute(60)})
	if err != nil {
		t.Fatal(err)
	}
	if empty.GetWindows() != 0 || empty.GetChat().GetMessages() != 0 || len(empty.GetMoments()) != 0 ||
		empty.GetViewers() == nil || empty.GetTransactions().GetDonations() == nil {
		t.Errorf("summary of an unknown channel: %v", empty)
	}
}
