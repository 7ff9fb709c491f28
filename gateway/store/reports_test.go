package store

import (
	"errors"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/telemetra/telemetra/proto/telemetra/v1"
)

func TestStreamChanges(t *testing.T) {
	at := minute
	change := func(n int, title, category string) *pb.StreamChange {
		return &pb.StreamChange{At: timestamppb.New(at(n)), Title: title, Category: category}
	}
	for _, tc := range []struct {
		name    string
		samples []statusSample
		want    []*pb.StreamChange
	}{
		{"no windows", nil, nil},
		{"one title throughout", []statusSample{{at(0), "a", "x"}, {at(1), "a", "x"}, {at(2), "a", "x"}},
			[]*pb.StreamChange{change(0, "a", "x")}},
		{"a title change, then a category change", []statusSample{{at(0), "a", "x"}, {at(1), "b", "x"}, {at(2), "b", "y"}, {at(3), "b", "y"}},
			[]*pb.StreamChange{change(0, "a", "x"), change(1, "b", "x"), change(2, "b", "y")}},
		{"back to an earlier pair is a change", []statusSample{{at(0), "a", "x"}, {at(1), "b", "x"}, {at(2), "a", "x"}},
			[]*pb.StreamChange{change(0, "a", "x"), change(1, "b", "x"), change(2, "a", "x")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := streamChanges(tc.samples)
			if len(got) != len(tc.want) {
				t.Fatalf("changes %v, want %v", got, tc.want)
			}
			for k := range got {
				assertProto(t, "change", got[k], tc.want[k])
			}
		})
	}
}

func TestStreamReport(t *testing.T) {
	f := newFixture(t)
	started, ended := minute(0), minute(3).Add(30*time.Second)
	id := sessionID(started)
	f.insert("stream_sessions",
		row{"channel": "demo", "session_id": id, "started_at": started, "ended_at": ended, "title": "b",
			"category": "y", "peak_viewers": 160, "viewer_sum": 500, "viewer_samples": 4, "chat_messages": 450},
		row{"channel": "demo", "session_id": sessionID(minute(-60)), "started_at": minute(-60), "ended_at": minute(-30)},
	)
	f.insert("window_aggregates",
		window("demo", 0, merge(chatters(t, 0, 100), row{"session_id": id, "title": "a", "category": "x",
			"chat_messages": 300, "top_emotes": `[{"emote": "Kappa", "count": 5}, {"emote": "LUL", "count": 2}]`,
			"sentiment_sum": 1.5, "sentiment_scored": 3, "sentiment_positive": 2, "sentiment_neutral": 1,
			"first_time_chatters": 100, "first_time_messages": 240,
			"viewer_samples": 2, "viewer_sum": 200, "viewers_min": 90, "viewers_max": 110, "viewers_last": 95,
			"donations": 1, "donation_cents": 1000, "transactions": 1, "revenue_cents": 1000})),
		window("demo", 1, merge(chatters(t, 50, 150), row{"session_id": id, "title": "b", "category": "x",
			"chat_messages": 150, "top_emotes": `[{"emote": "LUL", "count": 4}]`,
			"viewer_samples": 2, "viewer_sum": 300, "viewers_min": 140, "viewers_max": 160, "viewers_last": 150,
			"subscriptions": 3, "sub_tier1": 2, "sub_tier3": 1, "subscription_cents": 3497, "transactions": 3, "revenue_cents": 3497})),
		// no viewer samples: no hours watched, no viewer reading; not final yet
		window("demo", 2, row{"session_id": id, "title": "b", "category": "y", "final": false,
			"bits_count": 2, "bits": 500, "bits_cents": 500, "transactions": 2, "revenue_cents": 500}),
		window("demo", 3, row{"session_id": id, "title": "b", "category": "y",
			"gift_subs": 1, "gifted": 5, "gift_sub_cents": 2495, "transactions": 1, "revenue_cents": 2495}),
		// the earlier session's window, and the same id on another channel
		window("demo", -60, row{"session_id": sessionID(minute(-60)), "chat_messages": 1000, "viewer_samples": 1, "viewer_sum": 9999, "viewers_max": 9999}),
		window("other", 0, row{"session_id": id, "chat_messages": 1000, "viewer_samples": 1, "viewer_sum": 9999, "viewers_max": 9999}),
	)
	f.insert("moments",
		moment("demo", "hype-early", "hype", minute(-1), nil), // before the start
		moment("demo", "chat_spike-2", "chat_spike", minute(2), nil),
		moment("demo", "chat_spike-0", "chat_spike", started, nil),
		moment("demo", "raid-end", "raid", ended, row{"raid_from": "friend", "raid_viewers": int64(40)}),
		moment("demo", "hype-late", "hype", ended.Add(time.Second), nil), // after the end
		moment("other", "hype-1", "hype", minute(1), nil),
	)

	got, err := f.store.StreamReport(ctx, ReportQuery{Channel: "demo", Session: id, TopEmotes: 1, MaxMoments: 10, Now: minute(99)})
	if err != nil {
		t.Fatal(err)
	}
	unique := got.GetChat().GetUniqueChatters()
	if !within(unique, 150, 0.02) {
		t.Errorf("unique chatters %d, want ~150", unique)
	}
	if got.GetSession().GetUniqueChatters() != unique {
		t.Errorf("the session's unique chatters %d, the report's %d", got.GetSession().GetUniqueChatters(), unique)
	}
	var momentIDs []string
	for _, m := range got.GetMoments() {
		momentIDs = append(momentIDs, m.GetId())
	}
	if want := []string{"chat_spike-0", "chat_spike-2", "raid-end"}; len(momentIDs) != 3 || momentIDs[0] != want[0] || momentIDs[1] != want[1] || momentIDs[2] != want[2] {
		t.Errorf("moments %v, want %v (oldest first, within the session's span)", momentIDs, want)
	}
	if r := got.GetMoments()[2].GetRaid(); r.GetFromChannel() != "friend" || r.GetViewers() != 40 {
		t.Errorf("the raid moment's raid: %v", r)
	}
	transactions := &pb.TransactionStats{
		Donations:     &pb.DonationStats{Count: 1, AmountCents: 1000},
		Subscriptions: &pb.SubscriptionStats{Count: 3, Tier1: 2, Tier3: 1, AmountCents: 3497},
		Bits:          &pb.BitsStats{Count: 2, Bits: 500, AmountCents: 500},
		GiftSubs:      &pb.GiftSubStats{Count: 1, Gifted: 5, AmountCents: 2495},
		RevenueCents:  7492, Transactions: 7,
	}
	duration := 3*time.Minute + 30*time.Second
	got.Moments = nil // checked above
	assertProto(t, "report", got, &pb.StreamReport{
		Name: "channels/demo/sessions/" + id + "/report",
		Session: &pb.StreamSession{
			Name: "channels/demo/sessions/" + id, Channel: "demo", StartedAt: timestamppb.New(started),
			EndedAt: timestamppb.New(ended), Duration: durationpb.New(duration), Title: "b", Category: "y",
			PeakViewers: 160, AvgViewers: 125, ChatMessages: 450, UniqueChatters: unique,
			Transactions: transactions,
		},
		Windows:     4,
		AvgViewers:  125, // 500 viewers over 4 samples
		PeakViewers: 160,
		// 100 and 150 average viewers for a minute each
		HoursWatched: 100.0/60 + 150.0/60,
		Chat: &pb.ChatMetrics{
			Messages: 450, UniqueChatters: unique, MessagesPerChatter: 450 / float64(unique),
			MessagesPerMinute: 450 / duration.Minutes(),
			TopEmotes:         []*pb.EmoteCount{{Emote: "LUL", Count: 6}}, // 2 + 4, over Kappa's 5
			Sentiment:         &pb.SentimentStats{ScoreSum: 1.5, ScoredMessages: 3, Average: 0.5, Positive: 2, Neutral: 1},
			FirstTimeChatters: 100, FirstTimeMessages: 240, FirstTimeMessagesPerMinute: 240 / duration.Minutes(),
		},
		Transactions: transactions,
		Changes: []*pb.StreamChange{
			{At: timestamppb.New(minute(0)), Title: "a", Category: "x"},
			{At: timestamppb.New(minute(1)), Title: "b", Category: "x"},
			{At: timestamppb.New(minute(2)), Title: "b", Category: "y"},
		},
	})

	if _, err := f.store.StreamReport(ctx, ReportQuery{Channel: "demo", Session: "123", MaxMoments: 10}); !errors.Is(err, ErrSessionNotFound) {
		t.Errorf("an unknown session: %v, want ErrSessionNotFound", err)
	}
	if _, err := f.store.StreamReport(ctx, ReportQuery{Channel: "other", Session: id, MaxMoments: 10}); !errors.Is(err, ErrSessionNotFound) {
		t.Errorf("a session id of another channel's windows but without a session row: %v, want ErrSessionNotFound", err)
	}
}

func TestSessionWindows(t *testing.T) {
	f := newFixture(t)
	id := sessionID(minute(3))
	f.insert("window_aggregates",
		window("demo", 2, row{"session_id": "earlier", "chat_messages": 1000}),
		window("demo", 3, row{"session_id": id, "chat_messages": 1}),
		window("demo", 4, row{"session_id": id, "chat_messages": 2}),
		window("demo", 5, row{"session_id": id, "chat_messages": 4, "final": false}),
		window("demo", 6, row{"session_id": "later", "chat_messages": 1000}),
	)
	start, end, found, err := f.store.SessionSpan(ctx, "demo", id, pb.Resolution_RESOLUTION_FIVE_MINUTES)
	if err != nil || !found || !start.Equal(minute(0)) || !end.Equal(minute(6)) {
		t.Fatalf("span at 5 minutes: %v %v %v %v; want from the 10:00 bucket to 10:06", start, end, found, err)
	}
	q := MetricsQuery{Channel: "demo", Session: id, Start: start, End: end, Resolution: pb.Resolution_RESOLUTION_FIVE_MINUTES, IncludeProvisional: true, Limit: 10}
	var messages []int64
	err = f.store.EachWindowMetric(ctx, q, func(m *pb.WindowMetrics) error {
		messages = append(messages, m.GetChat().GetMessages())
		return nil
	})
	if err != nil || len(messages) != 2 || messages[0] != 3 || messages[1] != 4 {
		t.Errorf("the session's 5-minute buckets' messages %v (%v), want [3 4]: its windows only", messages, err)
	}
	if _, _, found, err := f.store.SessionSpan(ctx, "demo", "none", pb.Resolution_RESOLUTION_ONE_MINUTE); found || err != nil {
		t.Errorf("span of no session: found %v, %v", found, err)
	}
	stop := errors.New("stop")
	if err := f.store.EachWindowMetric(ctx, q, func(*pb.WindowMetrics) error { return stop }); !errors.Is(err, stop) {
		t.Errorf("an error of fn: %v, want it returned", err)
	}
}
