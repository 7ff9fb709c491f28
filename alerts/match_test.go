package alerts

import (
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/telemetra/telemetra/proto/telemetra/v1"
)

func TestMatches(t *testing.T) {
	chatSpike := &pb.Moment{Channel: "demo", Kind: pb.MomentKind_MOMENT_KIND_CHAT_SPIKE, ZScore: 4.2}
	viewerDrop := &pb.Moment{Channel: "demo", Kind: pb.MomentKind_MOMENT_KIND_VIEWER_DROP, ZScore: -3.5}
	raid := &pb.Moment{Channel: "gaming", Kind: pb.MomentKind_MOMENT_KIND_RAID, Value: 800, Raid: &pb.RaidInfo{Viewers: 800}}
	raidWithoutInfo := &pb.Moment{Channel: "gaming", Kind: pb.MomentKind_MOMENT_KIND_RAID, Value: 300}
	for _, tc := range []struct {
		name string
		sub  Subscription
		m    *pb.Moment
		want bool
	}{
		{"no filter matches everything", Subscription{}, chatSpike, true},
		{"channel matches", Subscription{Channel: "demo"}, chatSpike, true},
		{"other channel", Subscription{Channel: "gaming"}, chatSpike, false},
		{"kind listed", Subscription{Kinds: []string{"raid", "chat_spike"}}, chatSpike, true},
		{"kind not listed", Subscription{Kinds: []string{"raid"}}, chatSpike, false},
		{"raid above the threshold", Subscription{MinRaidViewers: 500}, raid, true},
		{"raid at the threshold is not more than it", Subscription{MinRaidViewers: 800}, raid, false},
		{"raid size from the value when RaidInfo is missing", Subscription{MinRaidViewers: 500}, raidWithoutInfo, false},
		{"raid threshold does not filter other kinds", Subscription{MinRaidViewers: 500}, chatSpike, true},
		{"z-score above the threshold", Subscription{MinAbsZScore: 4}, chatSpike, true},
		{"z-score below the threshold", Subscription{MinAbsZScore: 5}, chatSpike, false},
		{"a drop's z-score counts by its magnitude", Subscription{MinAbsZScore: 3}, viewerDrop, true},
		{"z-score threshold does not filter raids", Subscription{MinAbsZScore: 5}, raid, true},
		{"every filter at once", Subscription{Channel: "gaming", Kinds: []string{"raid"}, MinRaidViewers: 500, MinAbsZScore: 9}, raid, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Matches(tc.sub, tc.m); got != tc.want {
				t.Errorf("Matches(%+v, %v) = %v, want %v", tc.sub, tc.m, got, tc.want)
			}
		})
	}
}

func TestTooOld(t *testing.T) {
	now := time.Date(2025, 10, 16, 12, 0, 0, 0, time.UTC)
	at := func(d time.Duration) *pb.Moment { return &pb.Moment{At: timestamppb.New(now.Add(-d))} }
	for _, tc := range []struct {
		name   string
		m      *pb.Moment
		maxAge time.Duration
		want   bool
	}{
		{"fresh", at(time.Minute), 15 * time.Minute, false},
		{"at the limit", at(15 * time.Minute), 15 * time.Minute, false},
		{"older", at(16 * time.Minute), 15 * time.Minute, true},
		{"from yesterday", at(24 * time.Hour), 15 * time.Minute, true},
		{"ahead of the clock", at(-time.Minute), 15 * time.Minute, false},
		{"no limit", at(24 * time.Hour), 0, false},
		{"no time", &pb.Moment{}, 15 * time.Minute, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := TooOld(tc.m, now, tc.maxAge); got != tc.want {
				t.Errorf("TooOld = %v, want %v", got, tc.want)
			}
		})
	}
}
