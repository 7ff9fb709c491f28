package store

import (
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	pb "github.com/telemetra/telemetra/proto/telemetra/v1"
)

// refreshHours runs the projector's roll-up over every window's and moment's hour.
func (f *fixture) refreshHours() {
	f.t.Helper()
	err := pgx.BeginFunc(ctx, f.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SET LOCAL search_path TO "+testSchema); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `SELECT refresh_channel_hours(array_agg(channel), array_agg(hour))
			FROM (SELECT channel, date_trunc('hour', window_start AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' AS hour FROM window_aggregates
			      UNION SELECT channel, date_trunc('hour', at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' FROM moments) AS k`)
		return err
	})
	if err != nil {
		f.t.Fatal(err)
	}
}

// rankingFixture: alpha streams Chess from minute 0 to 90 (100 viewers, 60 messages and 10
// cents a minute, Kappa 5 times, one moment), bravo Music for minutes 0..9 (500 viewers, 120
// messages and 5 cents a minute, PogChamp 20 times) plus a provisional window that must not
// count.
func rankingFixture(t *testing.T) *fixture {
	f := newFixture(t)
	for m := range 90 {
		f.insert("window_aggregates", window("alpha", m, row{"viewer_sum": int64(600), "viewer_samples": int64(6),
			"chat_messages": int64(60), "unique_chatters": int64(20), "revenue_cents": int64(10), "sentiment_sum": 1.5,
			"sentiment_scored": int64(10), "category": "Chess", "title": fmt.Sprintf("alpha %d", m), "live": true,
			"top_emotes": `[{"emote": "Kappa", "count": 5}]`}))
	}
	for m := range 10 {
		f.insert("window_aggregates", window("bravo", m, row{"viewer_sum": int64(3000), "viewer_samples": int64(6),
			"chat_messages": int64(120), "unique_chatters": int64(40), "revenue_cents": int64(5), "sentiment_sum": -2.0,
			"sentiment_scored": int64(10), "category": "Music", "title": "bravo", "live": true,
			"top_emotes": `[{"emote": "PogChamp", "count": 20}]`}))
	}
	f.insert("window_aggregates", window("bravo", 10, row{"final": false, "revenue_cents": int64(1_000_000), "category": "Music"}))
	f.insert("moments", row{"channel": "alpha", "id": "raid-1", "kind": "raid", "at": minute(30)})
	f.refreshHours()
	return f
}

func TestRankOverARange(t *testing.T) {
	f := rankingFixture(t)
	start, end := HourRange(minute(5), minute(100)) // whole hours: 10:00 .. 12:00
	if !start.Equal(base) || !end.Equal(base.Add(2*time.Hour)) {
		t.Fatalf("HourRange: %s .. %s", start, end)
	}
	for _, tc := range []struct {
		metric     pb.RankingMetric
		start, end time.Time
		category   string
		want       string
	}{
		{pb.RankingMetric_RANKING_METRIC_VIEWERS, start, end, "", "[1 bravo 500 2 alpha 100]"},
		{pb.RankingMetric_RANKING_METRIC_CHAT_RATE, start, end, "", "[1 bravo 120 2 alpha 60]"},
		{pb.RankingMetric_RANKING_METRIC_UNIQUE_CHATTERS, start, end, "", "[1 bravo 40 2 alpha 20]"},
		{pb.RankingMetric_RANKING_METRIC_REVENUE, start, end, "", "[1 alpha 900 2 bravo 50]"},
		{pb.RankingMetric_RANKING_METRIC_SENTIMENT, start, end, "", "[1 alpha 0.15 2 bravo -0.2]"},
		{pb.RankingMetric_RANKING_METRIC_MOMENTS, start, end, "", "[1 alpha 1 2 bravo 0]"},
		{pb.RankingMetric_RANKING_METRIC_VIEWERS, start, end, "Music", "[1 bravo 500]"},
		{pb.RankingMetric_RANKING_METRIC_VIEWERS, start, end, "Nothing", "[]"},
		{pb.RankingMetric_RANKING_METRIC_REVENUE, base.Add(time.Hour), end, "", "[1 alpha 300]"},
		{pb.RankingMetric_RANKING_METRIC_REVENUE, end, end.Add(time.Hour), "", "[]"},
	} {
		t.Run(fmt.Sprintf("%s %s %s", tc.metric, tc.start.Format("15:04"), tc.category), func(t *testing.T) {
			got, total, err := f.store.Rank(ctx, RankQuery{Metric: tc.metric, Start: tc.start, End: tc.end, Category: tc.category, Limit: 10})
			if err != nil {
				t.Fatal(err)
			}
			var s []string
			for _, r := range got {
				s = append(s, fmt.Sprintf("%d %s %v", r.GetRank(), r.GetChannel(), math.Round(r.GetValue()*1000)/1000))
			}
			if fmt.Sprint(s) != tc.want && !(tc.want == "[]" && len(s) == 0) || total != int64(len(got)) {
				t.Fatalf("got %v of %d, want %s", s, total, tc.want)
			}
		})
	}
	// the figures beside the value, and the category and title of the channel's last window
	got, _, err := f.store.Rank(ctx, RankQuery{Metric: pb.RankingMetric_RANKING_METRIC_REVENUE, Start: start, End: end, Limit: 1})
	if err != nil {
		t.Fatal(err)
	}
	if a := got[0]; a.GetViewers() != 100 || a.GetMessagesPerMinute() != 60 || a.GetUniqueChatters() != 20 || a.GetRevenueCents() != 900 ||
		a.GetMoments() != 1 || a.GetCategory() != "Chess" || a.GetTitle() != "alpha 89" || !a.GetLive() {
		t.Fatalf("alpha: %v", a)
	}
}

func TestRangeRankingPages(t *testing.T) {
	f := rankingFixture(t)
	start, end := HourRange(base, base.Add(2*time.Hour))
	q := RankQuery{Metric: pb.RankingMetric_RANKING_METRIC_VIEWERS, Start: start, End: end, Limit: 1}
	first, total, err := f.store.Rank(ctx, q)
	if err != nil || len(first) != 1 || first[0].GetChannel() != "bravo" || total != 2 {
		t.Fatalf("page 1: %v of %d, %v", first, total, err)
	}
	q.After = &RankCursor{Value: first[0].GetValue(), Channel: first[0].GetChannel(), Offset: 1}
	second, total, err := f.store.Rank(ctx, q)
	if err != nil || len(second) != 1 || second[0].GetChannel() != "alpha" || second[0].GetRank() != 2 || total != 2 {
		t.Fatalf("page 2: %v of %d, %v", second, total, err)
	}
	q.After = &RankCursor{Value: second[0].GetValue(), Channel: second[0].GetChannel(), Offset: 2}
	if third, _, err := f.store.Rank(ctx, q); err != nil || len(third) != 0 {
		t.Fatalf("page 3: %v, %v", third, err)
	}
}

func TestTrendingOverARange(t *testing.T) {
	f := rankingFixture(t)
	// 11:00 .. 12:00 against 10:00 .. 11:00: only alpha streams in the current hour
	emotes, categories, err := f.store.Trending(ctx, TrendingQuery{Start: base.Add(time.Hour), End: base.Add(2 * time.Hour), Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(emotes) != fmt.Sprint([]*pb.TrendingEmote{{Emote: "Kappa", Uses: 150, PreviousUses: 300, Channels: 1}}) {
		t.Fatalf("emotes %v", emotes)
	}
	if len(categories) != 1 || categories[0].GetCategory() != "Chess" || categories[0].GetViewers() != 50 ||
		categories[0].GetPreviousViewers() != 100 || categories[0].GetChannels() != 1 || categories[0].GetChatMessages() != 1800 {
		t.Fatalf("categories %v", categories)
	}
	// 10:00 .. 11:00: both; Music's 500 viewers for 10 minutes are 83.3 over the hour
	emotes, categories, err = f.store.Trending(ctx, TrendingQuery{Start: base, End: base.Add(time.Hour), Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(emotes) != 2 || emotes[0].GetEmote() != "Kappa" || emotes[0].GetUses() != 300 || emotes[1].GetEmote() != "PogChamp" || emotes[1].GetUses() != 200 {
		t.Fatalf("emotes %v", emotes)
	}
	if len(categories) != 2 || categories[0].GetCategory() != "Chess" || categories[1].GetCategory() != "Music" ||
		math.Abs(categories[1].GetViewers()-500.0/6) > 1e-9 || categories[1].GetChatMessages() != 1200 {
		t.Fatalf("categories %v", categories)
	}
	if e, c, err := f.store.Trending(ctx, TrendingQuery{Start: base, End: base.Add(time.Hour), Limit: 1}); err != nil || len(e) != 1 || len(c) != 1 {
		t.Fatalf("limit 1: %v %v %v", e, c, err)
	}
}
