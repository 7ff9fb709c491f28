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
