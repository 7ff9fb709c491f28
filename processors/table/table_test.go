package table

import (
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/telemetra/telemetra/proto/telemetra/v1"
	"github.com/telemetra/telemetra/schemas"
)

// TestEachGenerationHasAGroupAndTableOfItsOwn: generation 1 (and the unset 0) keep the names
// deployed tables have; later generations get a suffix.
func TestEachGenerationHasAGroupAndTableOfItsOwn(t *testing.T) {
	for _, c := range []struct {
		generation  int
		group, name string
	}{
		{0, "telemetra-windows", "telemetra-windows-table"},
		{1, "telemetra-windows", "telemetra-windows-table"},
		{2, "telemetra-windows-g2", "telemetra-windows-g2-table"},
	} {
		if got := string(Group(c.generation)); got != c.group {
			t.Errorf("Group(%d) = %q, want %q", c.generation, got, c.group)
		}
		if got := string(Name(c.generation)); got != c.name {
			t.Errorf("Name(%d) = %q, want %q", c.generation, got, c.name)
		}
	}
	spec := TopicSpec(Group(2), 6)
	if spec.Name != "telemetra-windows-g2-table" || spec.Partitions != 6 || !spec.Compacted {
		t.Fatalf("TopicSpec = %+v, want the compacted table topic with 6 partitions", spec)
	}
}

func TestTheCodecRoundTripsAChannelState(t *testing.T) {
	st := &pb.ChannelState{
		Channel: "brave_otter", EventsTotal: 42, NextVersion: 7,
		Watermark: timestamppb.New(time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)),
		Status:    &pb.StreamStatus{Live: true, Title: "speedrun"},
		OpenWindows: []*pb.OpenWindow{{
			Aggregate: &pb.WindowAggregate{Channel: "brave_otter", Events: 3}, ChatterHashes: []uint64{1, 2},
		}},
	}
	data, err := Codec{}.Encode(st)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Codec{}.Decode(data)
	if err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(got.(*pb.ChannelState), st) {
		t.Fatalf("decoded %v, want %v", got, st)
	}
}

func TestTheCodecRefusesWhatIsNoChannelState(t *testing.T) {
	if _, err := (Codec{}).Encode(&pb.PartitionClock{}); err == nil {
		t.Error("encoded a PartitionClock as a channel state")
	}
	if _, err := (Codec{}).Decode([]byte{0xff, 0xff}); err == nil {
		t.Error("decoded garbage")
	}
}

// TestClockKeysCannotBeChannels: the reserved keys are recognised, and none is a channel name
// the event schemas accept, nor is a valid channel name a clock key.
func TestClockKeysCannotBeChannels(t *testing.T) {
	for n := range 100 {
		key := ClockKey(n)
		if !IsClockKey(key) {
			t.Fatalf("IsClockKey(%q) = false", key)
		}
		if schemas.CheckChannel(key) == "" {
			t.Fatalf("clock key %q is a valid channel name", key)
		}
	}
	if got := ClockKey(3); got != "~clock-3" {
		t.Fatalf("ClockKey(3) = %q: deployed tables hold ~clock-N keys", got)
	}
	for _, channel := range []string{"brave_otter", "clock_1", "123"} {
		if IsClockKey(channel) {
			t.Errorf("IsClockKey(%q) = true for a channel", channel)
		}
	}
}

// TestAPreviewIsTheNewestActiveWindowWithTheStatusOfAllOpenOnes: a window with only late events
// is no activity to show, but its status events count; the state is left as it was.
func TestAPreviewIsTheNewestActiveWindowWithTheStatusOfAllOpenOnes(t *testing.T) {
	t0 := time.Date(2025, 10, 16, 10, 0, 0, 0, time.UTC)
	window := func(start time.Time, events int64, version uint64, status ...*pb.StatusEvent) *pb.OpenWindow {
		return &pb.OpenWindow{
			Aggregate: &pb.WindowAggregate{
				Channel: "demo_stream", WindowStart: timestamppb.New(start), WindowEnd: timestamppb.New(start.Add(time.Minute)),
				Events: events, Chat: &pb.ChatStats{Messages: events, Sentiment: &pb.SentimentStats{}}, Viewers: &pb.ViewerStats{},
			},
			EmittedVersion: version, ChatterHashes: []uint64{1, 2}, StatusEvents: status,
			Emotes: []*pb.EmoteCount{{Emote: "Kappa", Count: 1}, {Emote: "PogChamp", Count: 3}},
		}
	}
	start := &pb.StatusEvent{At: timestamppb.New(t0), EventType: string(schemas.StreamStart), Title: "speedrun"}
	sample := &pb.StatusEvent{At: timestamppb.New(t0.Add(90 * time.Second)), EventType: ViewerSampleEvent, Viewers: 120}
	st := &pb.ChannelState{Channel: "demo_stream", OpenWindows: []*pb.OpenWindow{
		window(t0, 4, 7, start),
		window(t0.Add(time.Minute), 0, 0, sample), // late events only
	}}
	before := proto.Clone(st)

	p := Preview(st, 1)
	if p == nil || !p.WindowStart.AsTime().Equal(t0) || p.Final || p.Version != 7 {
		t.Fatalf("preview %v, want the 10:00 window, provisional, version 7", p)
	}
	if s := p.Status; !s.Live || s.Title != "speedrun" || s.Viewers != 120 {
		t.Fatalf("status %v, want live, titled and with both windows' changes", s)
	}
	if c := p.Chat; c.UniqueChatters != 2 || c.MessagesPerChatter != 2 || len(c.TopEmotes) != 1 || c.TopEmotes[0].Emote != "PogChamp" {
		t.Fatalf("derived chat %v", c)
	}
	if !proto.Equal(st, before) {
		t.Fatal("Preview changed the state")
	}
	if Preview(&pb.ChannelState{OpenWindows: st.OpenWindows[1:]}, 1) != nil {
		t.Fatal("a preview of a window with late events only")
	}
}
