package projector

import (
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/telemetra/telemetra/internal/kafka"
	"github.com/telemetra/telemetra/internal/pgtest"
	pb "github.com/telemetra/telemetra/proto/telemetra/v1"
)

// TestEachColumnHoldsItsField writes records whose every field has a value of its own and reads
// the rows back whole: each column holds the field it is named after, not a neighbour's (the
// upserts pair columns with fields by name, built from internal/projection).
func TestEachColumnHoldsItsField(t *testing.T) {
	cfg := Config{DatabaseURL: pgtest.Database(t), Logger: quiet}
	cfg.defaults()
	pool := newPool(t, cfg)
	started := t0.Add(-time.Hour)
	ts := timestamppb.New
	agg := &pb.WindowAggregate{
		Channel: "demo_stream", WindowStart: ts(t0), WindowEnd: ts(t0.Add(time.Minute)),
		Final: true, Version: 7, Events: 8, LateEvents: 9,
		EmittedAt: ts(t0.Add(62 * time.Second)), FirstEventTime: ts(t0.Add(5 * time.Second)), LastEventTime: ts(t0.Add(55 * time.Second)),
		Chat: &pb.ChatStats{Messages: 10, UniqueChatters: 11, MessagesPerChatter: 1.5, EmoteUses: 12,
			TopEmotes: []*pb.EmoteCount{{Emote: "PogChamp", Count: 13}}, ChattersSketch: []byte{1, 2},
			Sentiment:         &pb.SentimentStats{ScoreSum: 2.5, ScoredMessages: 14, Positive: 15, Negative: 16, Neutral: 17},
			FirstTimeChatters: 43, FirstTimeMessages: 44},
		Viewers: &pb.ViewerStats{Samples: 18, ViewerSum: 19, Min: 20, Max: 21, Last: 22, ChatterSum: 23, ChattersMax: 24, ChattersLast: 25},
		Transactions: &pb.TransactionStats{
			Donations:     &pb.DonationStats{Count: 26, AmountCents: 27},
			Subscriptions: &pb.SubscriptionStats{Count: 28, Tier1: 29, Tier2: 30, Tier3: 31, AmountCents: 32},
			Bits:          &pb.BitsStats{Count: 33, Bits: 34, AmountCents: 35},
			GiftSubs:      &pb.GiftSubStats{Count: 36, Gifted: 37, AmountCents: 38},
			Transactions:  39, RevenueCents: 40,
		},
		Status: &pb.StreamStatus{Live: true, Title: "any%", Category: "Speedrun", StartedAt: ts(started),
			Viewers: 41, Chatters: 42, SessionId: fmt.Sprint(started.Unix())},
	}
	raid := &pb.Moment{Channel: "demo_stream", Id: "raid-1", Kind: pb.MomentKind_MOMENT_KIND_RAID, At: ts(t0.Add(10 * time.Second)),
		WindowStart: ts(t0), WindowEnd: ts(t0.Add(time.Minute)), Value: 3.5, BaselineMean: 1.25, BaselineStddev: 0.5, ZScore: 4.5,
		Description: "raid from friend", EmittedAt: ts(t0.Add(11 * time.Second)), Raid: &pb.RaidInfo{FromChannel: "friend", Viewers: 250}}
	spike := &pb.Moment{Channel: "demo_stream", Id: "chat_spike-1", Kind: pb.MomentKind_MOMENT_KIND_CHAT_SPIKE, At: ts(t0.Add(20 * time.Second))}
	if err := write(ctx, pool, cfg, decoded(t, cfg, record(kafka.TopicAggregates, 0, agg),
		record(kafka.TopicMoments, 0, raid), record(kafka.TopicMoments, 1, spike))); err != nil {
		t.Fatal(err)
	}

	at := func(d time.Duration) string { return t0.Add(d).UTC().Format("2006-01-02T15:04:05+00:00") }
	startedAt := started.UTC().Format("2006-01-02T15:04:05+00:00")
	checkRows(t, pool, "window_aggregates", "channel, window_start", "projected_at", map[string]any{
		"channel": "demo_stream", "window_start": at(0), "window_end": at(time.Minute), "final": true, "version": 7,
		"events": 8, "late_events": 9,
		"chat_messages": 10, "unique_chatters": 11, "messages_per_chatter": 1.5, "emote_uses": 12,
		"top_emotes": []any{map[string]any{"emote": "PogChamp", "count": 13}}, "chatters_sketch": `\x0102`,
		"sentiment_sum": 2.5, "sentiment_scored": 14, "sentiment_positive": 15, "sentiment_negative": 16, "sentiment_neutral": 17,
		"viewer_samples": 18, "viewer_sum": 19, "viewers_min": 20, "viewers_max": 21, "viewers_last": 22,
		"chatter_sum": 23, "chatters_max": 24, "chatters_last": 25,
		"donations": 26, "donation_cents": 27, "subscriptions": 28, "sub_tier1": 29, "sub_tier2": 30, "sub_tier3": 31,
		"subscription_cents": 32, "bits_count": 33, "bits": 34, "bits_cents": 35, "gift_subs": 36, "gifted": 37,
		"gift_sub_cents": 38, "transactions": 39, "revenue_cents": 40,
		"live": true, "title": "any%", "category": "Speedrun", "session_id": fmt.Sprint(started.Unix()),
		"first_event_time": at(5 * time.Second), "last_event_time": at(55 * time.Second), "emitted_at": at(62 * time.Second),
		"first_time_chatters": 43, "first_time_messages": 44, "session_ended_at": nil, // live: TestASessionKeepsItsEnd... sets it
	})
	checkRows(t, pool, "channels", "channel", "updated_at", map[string]any{
		"channel": "demo_stream", "live": true, "title": "any%", "category": "Speedrun", "started_at": startedAt,
		"ended_at": nil, "viewers": 41, "chatters": 42, "last_seen": at(55 * time.Second),
	})
	checkRows(t, pool, "moments", "channel, id", "projected_at", map[string]any{
		"channel": "demo_stream", "id": "chat_spike-1", "kind": "chat_spike", "at": at(20 * time.Second),
		"window_start": nil, "window_end": nil, "value": 0, "baseline_mean": 0, "baseline_stddev": 0, "z_score": 0,
		"description": "", "raid_from": nil, "raid_viewers": nil, "emitted_at": nil,
	}, map[string]any{
		"channel": "demo_stream", "id": "raid-1", "kind": "raid", "at": at(10 * time.Second),
		"window_start": at(0), "window_end": at(time.Minute), "value": 3.5, "baseline_mean": 1.25, "baseline_stddev": 0.5,
		"z_score": 4.5, "description": "raid from friend", "raid_from": "friend", "raid_viewers": 250, "emitted_at": at(11 * time.Second),
	})
	checkRows(t, pool, "stream_sessions", "channel, session_id", "updated_at", map[string]any{
		"channel": "demo_stream", "session_id": fmt.Sprint(started.Unix()), "started_at": startedAt, "ended_at": nil,
		"title": "any%", "category": "Speedrun", "peak_viewers": 21, "viewer_sum": 19, "viewer_samples": 18,
		"peak_chatters": 24, "chat_messages": 10, "transactions": 39, "revenue_cents": 40, "moments": 2,
	})
	checkRows(t, pool, "projector_offsets", "consumer, topic, partition", "updated_at", map[string]any{
		"consumer": cfg.Consumer, "topic": kafka.TopicAggregates, "partition": 0, "next_offset": 1,
	}, map[string]any{
		"consumer": cfg.Consumer, "topic": kafka.TopicMoments, "partition": 0, "next_offset": 2,
	})
}

// checkRows compares the rows of table in key order, as JSON without the stamp column, with
// want, naming every column that differs.
func checkRows(t *testing.T, pool *pgxpool.Pool, table, key, stamp string, want ...map[string]any) {
	t.Helper()
	conn, err := pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	// timestamps as JSON text in UTC, whatever the server's zone
	if _, err := conn.Exec(ctx, "SET TimeZone = 'UTC'"); err != nil {
		t.Fatal(err)
	}
	rows, err := conn.Query(ctx, "SELECT to_jsonb(t) - $1::text FROM "+table+" t ORDER BY "+key, stamp)
	if err != nil {
		t.Fatal(err)
	}
	var got []map[string]any
	for rows.Next() {
		var r map[string]any
		if err := rows.Scan(&r); err != nil {
			t.Fatal(err)
		}
		got = append(got, r)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("%s: %d rows, want %d: %v", table, len(got), len(want), got)
	}
	for k := range want {
		w := asJSON(t, want[k])
		var differ []string
		for c := range union(got[k], w) {
			g, inGot := got[k][c]
			v, inWant := w[c]
			switch {
			case !inWant:
				differ = append(differ, fmt.Sprintf("%s = %v, not expected", c, g))
			case !inGot:
				differ = append(differ, fmt.Sprintf("%s missing, want %v", c, v))
			case !reflect.DeepEqual(g, v):
				differ = append(differ, fmt.Sprintf("%s = %v, want %v", c, g, v))
			}
		}
		sort.Strings(differ)
		for _, d := range differ {
			t.Errorf("%s row %d: %s", table, k, d)
		}
	}
}

// asJSON is m as it comes back from JSON (numbers as float64).
func asJSON(t *testing.T, m map[string]any) map[string]any {
	t.Helper()
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func union(a, b map[string]any) map[string]struct{} {
	out := map[string]struct{}{}
	for k := range a {
		out[k] = struct{}{}
	}
	for k := range b {
		out[k] = struct{}{}
	}
	return out
}
