package store

import (
	"fmt"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/telemetra/telemetra/proto/telemetra/v1"
)

func moment(channel, id, kind string, at time.Time, extra row) row {
	r := row{"channel": channel, "id": id, "kind": kind, "at": at}
	for c, v := range extra {
		r[c] = v
	}
	return r
}

func momentKeys(moments []*pb.Moment) []string {
	out := make([]string, len(moments))
	for k, m := range moments {
		out[k] = m.GetChannel() + "/" + m.GetId()
	}
	return out
}

func TestMoments(t *testing.T) {
	f := newFixture(t)
	emitted := base.Add(3 * time.Minute)
	f.insert("moments",
		moment("demo", "chat_spike-1760608800", "chat_spike", minute(1), row{
			"window_start": minute(0), "window_end": minute(1), "value": 412.0, "baseline_mean": 100.0,
			"baseline_stddev": 50.0, "z_score": 6.24, "description": "Chat spike: 412 msg/min (z=6.2)", "emitted_at": emitted}),
		moment("other", "chat_spike-1760608800", "chat_spike", minute(1), nil),
		moment("demo", "raid-1760608830", "raid", minute(0).Add(30*time.Second), row{
			"window_start": minute(0), "window_end": minute(1), "value": 250.0, "description": "Raid from friend",
			"raid_from": "friend", "raid_viewers": 250}),
		moment("demo", "hype-1760608920", "hype", minute(2), nil),
		moment("demo", "viewer_drop-1760608920", "viewer_drop", minute(2), nil),
		moment("demo", "viewer_spike-1760614800", "viewer_spike", minute(100), nil), // after End
	)
	list := func(q MomentsQuery) []*pb.Moment {
		t.Helper()
		if q.Limit == 0 {
			q.Limit = 100
		}
		q.Start, q.End = minute(0), minute(60)
		got, err := f.store.Moments(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	check := func(what string, got []*pb.Moment, want ...string) {
		t.Helper()
		if fmt.Sprint(momentKeys(got)) != fmt.Sprint(want) {
			t.Errorf("%s: %v, want %v", what, momentKeys(got), want)
		}
	}

	all := list(MomentsQuery{})
	check("all channels, newest first, then channel and id", all,
		"demo/hype-1760608920", "demo/viewer_drop-1760608920",
		"demo/chat_spike-1760608800", "other/chat_spike-1760608800", "demo/raid-1760608830")
	check("one channel", list(MomentsQuery{Channel: "demo"}),
		"demo/hype-1760608920", "demo/viewer_drop-1760608920", "demo/chat_spike-1760608800", "demo/raid-1760608830")
	check("kinds", list(MomentsQuery{Kinds: []pb.MomentKind{pb.MomentKind_MOMENT_KIND_RAID, pb.MomentKind_MOMENT_KIND_CHAT_SPIKE}}),
		"demo/chat_spike-1760608800", "other/chat_spike-1760608800", "demo/raid-1760608830")
	check("kinds of one channel", list(MomentsQuery{Channel: "other", Kinds: []pb.MomentKind{pb.MomentKind_MOMENT_KIND_RAID}}))

	var paged []*pb.Moment
	q := MomentsQuery{Limit: 2}
	for range 4 {
		page := list(q)
		if len(page) > 2 {
			t.Fatalf("page of %d", len(page))
		}
		if len(page) == 0 {
			break
		}
		paged = append(paged, page...)
		last := page[len(page)-1]
		q.Cursor = &MomentCursor{At: last.GetAt().AsTime(), Channel: last.GetChannel(), ID: last.GetId()}
	}
	check("pages joined", paged, momentKeys(all)...)

	byKey := map[string]*pb.Moment{}
	for _, m := range all {
		byKey[m.GetChannel()+"/"+m.GetId()] = m
	}
	assertProto(t, "chat spike", byKey["demo/chat_spike-1760608800"], &pb.Moment{
		Id: "chat_spike-1760608800", Channel: "demo", Kind: pb.MomentKind_MOMENT_KIND_CHAT_SPIKE,
		At: timestamppb.New(minute(1)), WindowStart: timestamppb.New(minute(0)), WindowEnd: timestamppb.New(minute(1)),
		Value: 412, BaselineMean: 100, BaselineStddev: 50, ZScore: 6.24,
		Description: "Chat spike: 412 msg/min (z=6.2)", EmittedAt: timestamppb.New(emitted),
	})
	raidAt := timestamppb.New(minute(0).Add(30 * time.Second))
	assertProto(t, "raid", byKey["demo/raid-1760608830"], &pb.Moment{
		Id: "raid-1760608830", Channel: "demo", Kind: pb.MomentKind_MOMENT_KIND_RAID, At: raidAt,
		WindowStart: timestamppb.New(minute(0)), WindowEnd: timestamppb.New(minute(1)), Value: 250,
		Description: "Raid from friend", Raid: &pb.RaidInfo{FromChannel: "friend", Viewers: 250, At: raidAt},
	})
	if _, err := f.store.Moments(ctx, MomentsQuery{Start: minute(0), End: minute(60)}); err == nil {
		t.Error("limit 0 accepted")
	}
}
