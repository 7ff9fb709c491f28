package store

import (
	"fmt"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/telemetra/telemetra/proto/telemetra/v1"
)

func metricsQuery(resolution pb.Resolution) MetricsQuery {
	return MetricsQuery{Channel: "demo", Start: minute(-48 * 60), End: minute(24 * 60), Resolution: resolution, Limit: 100}
}

func (f *fixture) metrics(q MetricsQuery) []*pb.WindowMetrics {
	f.t.Helper()
	got, err := f.store.WindowMetrics(ctx, q)
	if err != nil {
		f.t.Fatal(err)
	}
	return got
}

func starts(metrics []*pb.WindowMetrics) []string {
	out := make([]string, len(metrics))
	for k, m := range metrics {
		out[k] = m.GetWindowStart().AsTime().UTC().Format("01-02T15:04") + fmt.Sprintf("(%d)", m.GetWindows())
	}
	return out
}

func assertStarts(t *testing.T, what string, got []*pb.WindowMetrics, want ...string) {
	t.Helper()
	if g := fmt.Sprint(starts(got)); g != fmt.Sprint(want) {
		t.Errorf("%s: buckets %s, want %v", what, g, want)
	}
}

func TestWindowMetricsAtOneMinuteListEachWindowWithEveryField(t *testing.T) {
	f := newFixture(t)
	f.insert("window_aggregates",
		window("demo", 0, merge(chatters(t, 0, 4), row{
			"events": 40, "late_events": 2, "chat_messages": 20, "messages_per_chatter": 5.0, "emote_uses": 7,
			"top_emotes":    `[{"emote": "Kappa", "count": 4}, {"emote": "PogChamp", "count": 3}]`,
			"sentiment_sum": 2.5, "sentiment_scored": 10, "sentiment_positive": 6, "sentiment_negative": 2, "sentiment_neutral": 2,
			"first_time_chatters": 3, "first_time_messages": 6,
			"viewer_samples": 4, "viewer_sum": 400, "viewers_min": 90, "viewers_max": 110, "viewers_last": 105,
			"chatter_sum": 40, "chatters_max": 12, "chatters_last": 11,
			"donations": 1, "donation_cents": 500,
			"subscriptions": 2, "sub_tier1": 1, "sub_tier2": 0, "sub_tier3": 1, "subscription_cents": 2998,
			"bits_count": 1, "bits": 100, "bits_cents": 100,
			"gift_subs": 1, "gifted": 5, "gift_sub_cents": 2495,
			"transactions": 5, "revenue_cents": 6093,
			"live": true, "title": "t", "category": "c", "session_id": "1760608800",
		})),
		window("demo", 1, row{"events": 1}),
		window("demo", 2, row{"final": false}),
		window("other", 0, row{"events": 99}),
	)

	got := f.metrics(metricsQuery(pb.Resolution_RESOLUTION_UNSPECIFIED))
	assertStarts(t, "final only", got, "10-16T10:00(1)", "10-16T10:01(1)")
	want := &pb.WindowMetrics{
		Channel: "demo", WindowStart: timestamppb.New(minute(0)), WindowEnd: timestamppb.New(minute(1)),
		Resolution: pb.Resolution_RESOLUTION_ONE_MINUTE, Final: true, Version: 1, Windows: 1,
		Chat: &pb.ChatMetrics{
			Messages: 20, UniqueChatters: 4, MessagesPerChatter: 5, MessagesPerMinute: 20,
			TopEmotes:         []*pb.EmoteCount{{Emote: "Kappa", Count: 4}, {Emote: "PogChamp", Count: 3}},
			EmoteUses:         7,
			Sentiment:         &pb.SentimentStats{ScoreSum: 2.5, ScoredMessages: 10, Average: 0.25, Positive: 6, Negative: 2, Neutral: 2},
			FirstTimeChatters: 3, FirstTimeMessages: 6, FirstTimeMessagesPerMinute: 6,
		},
		Viewers: &pb.ViewerStats{Samples: 4, ViewerSum: 400, Avg: 100, Min: 90, Max: 110, Last: 105,
			ChatterSum: 40, ChattersAvg: 10, ChattersMax: 12, ChattersLast: 11},
		Transactions: &pb.TransactionStats{
			Donations:     &pb.DonationStats{Count: 1, AmountCents: 500},
			Subscriptions: &pb.SubscriptionStats{Count: 2, Tier1: 1, Tier3: 1, AmountCents: 2998},
			Bits:          &pb.BitsStats{Count: 1, Bits: 100, AmountCents: 100},
			GiftSubs:      &pb.GiftSubStats{Count: 1, Gifted: 5, AmountCents: 2495},
			RevenueCents:  6093, Transactions: 5,
		},
		Events: 40, LateEvents: 2, Live: true,
	}
	if len(got) > 0 {
		assertProto(t, "the full window", got[0], want)
	}

	q := metricsQuery(pb.Resolution_RESOLUTION_ONE_MINUTE)
	q.IncludeProvisional = true
	got = f.metrics(q)
	assertStarts(t, "with provisional", got, "10-16T10:00(1)", "10-16T10:01(1)", "10-16T10:02(1)")
	if len(got) == 3 && (!got[1].GetFinal() || got[2].GetFinal() || got[2].GetVersion() != 3) {
		t.Errorf("final flags %v %v, version %d", got[1].GetFinal(), got[2].GetFinal(), got[2].GetVersion())
	}
}

// rollUpWindows are ten windows 10:00-10:09 and two stragglers, one on the day before
// (23:59 UTC, which is the same local day as 10:00 UTC in the sessions' time zone, +05:30) and
// one at 11:05. Window 9 is provisional.
func rollUpWindows(t *testing.T, f *fixture) {
	topEmotes := map[int]string{
		0: `[{"emote": "Kappa", "count": 2}, {"emote": "LUL", "count": 1}]`,
		1: `[{"emote": "PogChamp", "count": 5}, {"emote": "LUL", "count": 2}]`,
		5: `[{"emote": "e00", "count": 1}, {"emote": "e01", "count": 1}, {"emote": "e02", "count": 1},
		     {"emote": "e03", "count": 1}, {"emote": "e04", "count": 1}, {"emote": "e05", "count": 1},
		     {"emote": "e06", "count": 1}, {"emote": "e07", "count": 1}, {"emote": "e08", "count": 1},
		     {"emote": "e09", "count": 1}, {"emote": "e10", "count": 1}, {"emote": "e11", "count": 1}]`,
		6: `[{"emote": "e11", "count": 2}]`,
	}
	for n := range 10 {
		r := row{
			"events": 10, "chat_messages": n + 1, "sentiment_sum": 0.5, "sentiment_scored": 2,
			"first_time_chatters": n % 2, "first_time_messages": n,
			"donations": 1, "donation_cents": 100 * (n + 1), "transactions": 1, "revenue_cents": 100 * (n + 1),
			"live": n < 9, "final": n != 9,
		}
		if n != 4 { // window 4 has no viewer samples: its zeros must not count as readings
			v := 100 + 10*n
			r = merge(r, row{"viewer_samples": 2, "viewer_sum": 2 * v, "viewers_min": v - 5, "viewers_max": v + 5,
				"viewers_last": v + 2, "chatter_sum": 2 * (10 + n), "chatters_max": 20 + n, "chatters_last": 15 + n})
		}
		if n == 2 {
			r["late_events"] = 3
		}
		if e, ok := topEmotes[n]; ok {
			r["top_emotes"] = e
		}
		switch n {
		case 0:
			r = merge(r, chatters(t, 0, 100))
		case 1:
			r = merge(r, chatters(t, 50, 150))
		}
		f.insert("window_aggregates", window("demo", n, r))
	}
	f.insert("window_aggregates", window("demo", -601, row{"events": 1}), window("demo", 65, row{"events": 2}))
}

func TestWindowMetricsRollUps(t *testing.T) {
	f := newFixture(t)
	rollUpWindows(t, f)

	q := metricsQuery(pb.Resolution_RESOLUTION_FIVE_MINUTES)
	got := f.metrics(q)
	assertStarts(t, "5m, final only", got, "10-15T23:55(1)", "10-16T10:00(5)", "10-16T11:05(1)")
	if len(got) != 3 {
		t.FailNow()
	}
	first := got[1]
	unique := first.GetChat().GetUniqueChatters()
	if !within(unique, 150, 0.02) {
		t.Errorf("unique chatters of 100 + 100 with 50 shared: %d, want ~150", unique)
	}
	want := &pb.WindowMetrics{
		Channel: "demo", WindowStart: timestamppb.New(minute(0)), WindowEnd: timestamppb.New(minute(5)),
		Resolution: pb.Resolution_RESOLUTION_FIVE_MINUTES, Final: true, Version: 5, Windows: 5,
		Chat: &pb.ChatMetrics{
			Messages: 15, UniqueChatters: unique, MessagesPerChatter: 15 / float64(unique), MessagesPerMinute: 3,
			TopEmotes: []*pb.EmoteCount{{Emote: "PogChamp", Count: 5}, {Emote: "LUL", Count: 3}, {Emote: "Kappa", Count: 2}},
			Sentiment: &pb.SentimentStats{ScoreSum: 2.5, ScoredMessages: 10, Average: 0.25},
			// windows 0-4: 0+1+0+1+0 first-time chatters, 0+1+2+3+4 of their messages
			FirstTimeChatters: 2, FirstTimeMessages: 10, FirstTimeMessagesPerMinute: 2,
		},
		// windows 0-3 have samples: averages 100, 110, 120, 130
		Viewers: &pb.ViewerStats{Samples: 8, ViewerSum: 920, Avg: 115, Min: 95, Max: 135, Last: 132,
			ChatterSum: 92, ChattersAvg: 11.5, ChattersMax: 23, ChattersLast: 18},
		Transactions: &pb.TransactionStats{
			Donations:     &pb.DonationStats{Count: 5, AmountCents: 1500},
			Subscriptions: &pb.SubscriptionStats{}, Bits: &pb.BitsStats{}, GiftSubs: &pb.GiftSubStats{},
			RevenueCents: 1500, Transactions: 5,
		},
		Events: 50, LateEvents: 3, Live: true,
	}
	assertProto(t, "5m bucket 10:00", first, want)

	q.IncludeProvisional = true
	got = f.metrics(q)
	assertStarts(t, "5m with provisional", got, "10-15T23:55(1)", "10-16T10:00(5)", "10-16T10:05(5)", "10-16T11:05(1)")
	if len(got) == 4 {
		second := got[2]
		if second.GetFinal() || second.GetVersion() != 10 || second.GetLive() {
			t.Errorf("10:05 bucket: final %v version %d live %v; want false 10 false (window 9 is provisional, offline)",
				second.GetFinal(), second.GetVersion(), second.GetLive())
		}
		if c := second.GetChat(); c.GetMessages() != 40 || c.GetUniqueChatters() != 0 || c.GetMessagesPerChatter() != 0 {
			t.Errorf("10:05 bucket chat: %v", c)
		}
		emotes := second.GetChat().GetTopEmotes()
		if len(emotes) != 10 || emotes[0].GetEmote() != "e11" || emotes[0].GetCount() != 3 ||
			emotes[1].GetEmote() != "e00" || emotes[9].GetEmote() != "e08" {
			t.Errorf("10:05 top emotes: %v; want e11=3 then e00..e08", emotes)
		}
		if v := second.GetViewers(); v.GetMin() != 145 || v.GetMax() != 195 || v.GetLast() != 192 || v.GetAvg() != 170 {
			t.Errorf("10:05 viewers: %v", v)
		}
	}

	q = metricsQuery(pb.Resolution_RESOLUTION_ONE_HOUR)
	assertStarts(t, "1h, final only: the 10:00 hour holds a provisional window", f.metrics(q),
		"10-15T23:00(1)", "10-16T11:00(1)")
	q.IncludeProvisional = true
	got = f.metrics(q)
	assertStarts(t, "1h with provisional", got, "10-15T23:00(1)", "10-16T10:00(10)", "10-16T11:00(1)")
	if len(got) == 3 {
		h := got[1]
		if h.GetFinal() || h.GetEvents() != 100 || h.GetChat().GetMessages() != 55 ||
			h.GetChat().GetMessagesPerMinute() != 55.0/60 || h.GetTransactions().GetRevenueCents() != 5500 ||
			h.GetViewers().GetSamples() != 18 || h.GetResolution() != pb.Resolution_RESOLUTION_ONE_HOUR ||
			!h.GetWindowEnd().AsTime().Equal(minute(60)) {
			t.Errorf("1h bucket 10:00: %v", h)
		}
	}

	q = metricsQuery(pb.Resolution_RESOLUTION_FIFTEEN_MINUTES)
	q.IncludeProvisional = true
	assertStarts(t, "15m with provisional", f.metrics(q), "10-15T23:45(1)", "10-16T10:00(10)", "10-16T11:00(1)")

	q = metricsQuery(pb.Resolution_RESOLUTION_ONE_DAY)
	q.IncludeProvisional = true
	got = f.metrics(q)
	assertStarts(t, "1d with provisional (UTC days)", got, "10-15T00:00(1)", "10-16T00:00(11)")
	if len(got) == 2 && !got[1].GetWindowEnd().AsTime().Equal(time.Date(2025, 10, 17, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("day bucket ends %v", got[1].GetWindowEnd().AsTime())
	}
}

func TestWindowMetricsMergeOverlappingChatterSketches(t *testing.T) {
	for _, c := range []struct {
		name         string
		size, shared int
		hash         func(int) uint64
		want         int64
	}{
		{"100 and 100, 50 shared (sparse)", 100, 50, chatterHash, 150},
		{"5000 and 5000, 2500 shared (sparse)", 5000, 2500, chatterHash, 7500},
		{"20000 and 20000, 10000 shared (dense)", 20000, 10000, mixedChatterHash, 30000},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t)
			second := c.size - c.shared
			f.insert("window_aggregates",
				window("demo", 0, row{"chatters_sketch": sketchOf(t, 0, c.size, c.hash), "unique_chatters": c.size}),
				window("demo", 1, row{"chatters_sketch": sketchOf(t, second, second+c.size, c.hash), "unique_chatters": c.size}))
			got := f.metrics(metricsQuery(pb.Resolution_RESOLUTION_FIVE_MINUTES))
			if len(got) != 1 {
				t.Fatalf("buckets %v", starts(got))
			}
			if u := got[0].GetChat().GetUniqueChatters(); !within(u, c.want, 0.02) {
				t.Errorf("unique chatters %d, want %d within 2%%", u, c.want)
			}
		})
	}
}

func TestWindowMetricsPagesWithoutOverlap(t *testing.T) {
	f := newFixture(t)
	for n := range 15 {
		f.insert("window_aggregates", window("demo", n, row{"events": n}))
	}
	for _, c := range []struct {
		resolution pb.Resolution
		limit      int
		pages      [][]string
	}{
		{pb.Resolution_RESOLUTION_ONE_MINUTE, 6, [][]string{
			{"10-16T10:00(1)", "10-16T10:01(1)", "10-16T10:02(1)", "10-16T10:03(1)", "10-16T10:04(1)", "10-16T10:05(1)"},
			{"10-16T10:06(1)", "10-16T10:07(1)", "10-16T10:08(1)", "10-16T10:09(1)", "10-16T10:10(1)", "10-16T10:11(1)"},
			{"10-16T10:12(1)", "10-16T10:13(1)", "10-16T10:14(1)"},
		}},
		{pb.Resolution_RESOLUTION_FIVE_MINUTES, 2, [][]string{
			{"10-16T10:00(5)", "10-16T10:05(5)"},
			{"10-16T10:10(5)"},
		}},
	} {
		q := metricsQuery(c.resolution)
		q.Limit = c.limit
		for page, want := range c.pages {
			got := f.metrics(q)
			assertStarts(t, fmt.Sprintf("%v page %d", c.resolution, page+1), got, want...)
			if len(got) == 0 {
				break
			}
			q.After = got[len(got)-1].GetWindowStart().AsTime()
		}
		if rest := f.metrics(q); len(rest) != 0 {
			t.Errorf("%v: after the last page: %v", c.resolution, starts(rest))
		}
	}
}

func TestWindowMetricsRangeSelectsWholeBucketsByTheirStart(t *testing.T) {
	f := newFixture(t)
	for n := range 15 {
		f.insert("window_aggregates", window("demo", n, nil))
	}
	q := metricsQuery(pb.Resolution_RESOLUTION_FIVE_MINUTES)
	q.Start, q.End = minute(3), minute(7) // the 10:00 bucket starts before Start; 10:05 is whole
	assertStarts(t, "5m over [10:03, 10:07)", f.metrics(q), "10-16T10:05(5)")
	q = metricsQuery(pb.Resolution_RESOLUTION_ONE_MINUTE)
	q.Start, q.End = minute(3), minute(7)
	assertStarts(t, "1m over [10:03, 10:07)", f.metrics(q),
		"10-16T10:03(1)", "10-16T10:04(1)", "10-16T10:05(1)", "10-16T10:06(1)")
}

func TestWindowMetricsRefusesBadQueries(t *testing.T) {
	f := newFixture(t)
	q := metricsQuery(pb.Resolution_RESOLUTION_ONE_MINUTE)
	q.Limit = 0
	if _, err := f.store.WindowMetrics(ctx, q); err == nil {
		t.Error("limit 0 accepted")
	}
	q = metricsQuery(pb.Resolution(42))
	if _, err := f.store.WindowMetrics(ctx, q); err == nil {
		t.Error("resolution 42 accepted")
	}
}
