package store

import (
	"fmt"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/telemetra/telemetra/proto/telemetra/v1"
)

func sessionID(startedAt time.Time) string { return fmt.Sprint(startedAt.Unix()) }

func TestSessions(t *testing.T) {
	f := newFixture(t)
	ended, live := minute(-60), minute(0) // 09:00-09:30, and 10:00 until now
	f.insert("stream_sessions",
		row{"channel": "demo", "session_id": sessionID(ended), "started_at": ended, "ended_at": minute(-30),
			"title": "morning", "category": "Just Chatting", "peak_viewers": 300, "viewer_sum": 3000,
			"viewer_samples": 12, "peak_chatters": 40, "chat_messages": 500, "transactions": 3,
			"revenue_cents": 1599, "moments": 2},
		row{"channel": "demo", "session_id": sessionID(live), "started_at": live, "title": "now",
			"viewer_sum": 100, "viewer_samples": 1, "peak_viewers": 100, "transactions": 1, "revenue_cents": 499},
		// ended before the range
		row{"channel": "demo", "session_id": sessionID(minute(-180)), "started_at": minute(-180), "ended_at": minute(-121)},
		// starts at the range's end
		row{"channel": "demo", "session_id": sessionID(minute(30)), "started_at": minute(30)},
		row{"channel": "other", "session_id": sessionID(live), "started_at": live},
	)
	f.insert("window_aggregates",
		window("demo", -60, merge(chatters(t, 0, 100), row{"session_id": sessionID(ended),
			"donations": 1, "donation_cents": 500, "subscriptions": 1, "sub_tier2": 1, "subscription_cents": 999,
			"transactions": 2, "revenue_cents": 1499})),
		window("demo", -59, merge(chatters(t, 50, 150), row{"session_id": sessionID(ended),
			"bits_count": 1, "bits": 100, "bits_cents": 100, "transactions": 1, "revenue_cents": 100})),
		window("demo", 0, merge(chatters(t, 0, 10), row{"session_id": sessionID(live),
			"gift_subs": 1, "gifted": 1, "gift_sub_cents": 499, "transactions": 1, "revenue_cents": 499})),
		// the same session id on another channel must not count
		window("other", 0, merge(chatters(t, 1000, 2000), row{"session_id": sessionID(live), "donations": 7})),
	)
	q := SessionsQuery{Channel: "demo", Start: minute(-90), End: minute(30), Limit: 10, Now: minute(20)}
	got, err := f.store.Sessions(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("sessions %v, want the live one then the ended one", got)
	}
	assertProto(t, "live session", got[0], &pb.StreamSession{
		Name: "channels/demo/sessions/" + sessionID(live), Channel: "demo", StartedAt: timestamppb.New(live),
		Live: true, Duration: durationpb.New(20 * time.Minute), Title: "now", PeakViewers: 100, AvgViewers: 100,
		UniqueChatters: 10, RevenueCents: 499,
		Transactions: &pb.TransactionStats{
			Donations: &pb.DonationStats{}, Subscriptions: &pb.SubscriptionStats{}, Bits: &pb.BitsStats{},
			GiftSubs:     &pb.GiftSubStats{Count: 1, Gifted: 1, AmountCents: 499},
			RevenueCents: 499, Transactions: 1,
		},
	})
	past := got[1]
	unique := past.GetUniqueChatters()
	if !within(unique, 150, 0.02) {
		t.Errorf("unique chatters of the ended session %d, want ~150", unique)
	}
	assertProto(t, "ended session", past, &pb.StreamSession{
		Name: "channels/demo/sessions/" + sessionID(ended), Channel: "demo", StartedAt: timestamppb.New(ended),
		EndedAt: timestamppb.New(minute(-30)), Duration: durationpb.New(30 * time.Minute),
		Title: "morning", Category: "Just Chatting", PeakViewers: 300, AvgViewers: 250, PeakChatters: 40,
		ChatMessages: 500, UniqueChatters: unique, RevenueCents: 1599, Moments: 2,
		Transactions: &pb.TransactionStats{
			Donations:     &pb.DonationStats{Count: 1, AmountCents: 500},
			Subscriptions: &pb.SubscriptionStats{Count: 1, Tier2: 1, AmountCents: 999},
			Bits:          &pb.BitsStats{Count: 1, Bits: 100, AmountCents: 100},
			GiftSubs:      &pb.GiftSubStats{},
			RevenueCents:  1599, Transactions: 3,
		},
	})

	// pages of one
	q.Limit = 1
	var names []string
	for range 3 {
		page, err := f.store.Sessions(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		names = append(names, page[0].GetName())
		q.Cursor = &SessionCursor{StartedAt: page[0].GetStartedAt().AsTime(), SessionID: sessionID(page[0].GetStartedAt().AsTime())}
	}
	want := []string{got[0].GetName(), got[1].GetName()}
	if fmt.Sprint(names) != fmt.Sprint(want) {
		t.Errorf("paged sessions %v, want %v", names, want)
	}

	// a session that ended exactly at Start was still live then
	q = SessionsQuery{Channel: "demo", Start: minute(-121), End: minute(-120), Limit: 10, Now: minute(20)}
	if got, err := f.store.Sessions(ctx, q); err != nil || len(got) != 1 || got[0].GetName() != "channels/demo/sessions/"+sessionID(minute(-180)) {
		t.Errorf("sessions live at %v: %v, %v", minute(-121), got, err)
	}
}
