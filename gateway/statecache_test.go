package gateway

import (
	"fmt"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/telemetra/telemetra/processors/table"
	pb "github.com/telemetra/telemetra/proto/telemetra/v1"
)

func encodedState(t *testing.T, channel string, events int64) []byte {
	t.Helper()
	raw, err := proto.Marshal(&pb.ChannelState{Channel: channel, EventsTotal: events})
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// TestAStateIsDecodedOnceUntilItsBytesChange: readers of an unchanged value share one decoded
// state; a new value, even in a new slice with equal bytes, is compared by content.
func TestAStateIsDecodedOnceUntilItsBytesChange(t *testing.T) {
	c := newStateCache(10)
	decodes := 0
	c.decode = func(raw []byte) (*pb.ChannelState, error) {
		decodes++
		return table.DecodeState(raw)
	}
	first := encodedState(t, "demo_stream", 1)
	a, _ := c.get("demo_stream", first)
	b, _ := c.get("demo_stream", first)
	same, _ := c.get("demo_stream", append([]byte(nil), first...)) // LevelDB storage copies values
	if decodes != 1 || a != b || a != same {
		t.Fatalf("%d decodes for one value read three times", decodes)
	}
	changed, err := c.get("demo_stream", encodedState(t, "demo_stream", 2))
	if err != nil || decodes != 2 || changed.GetEventsTotal() != 2 {
		t.Fatalf("after a change: %v, %v after %d decodes", changed, err, decodes)
	}
	if _, err := c.get("demo_stream", []byte{0xff}); err == nil {
		t.Fatal("a value that does not decode gave no error")
	}
}

func TestTheStateCacheKeepsAtMostItsBound(t *testing.T) {
	c := newStateCache(3)
	for i := range 10 {
		ch := fmt.Sprintf("channel_%d", i)
		st, err := c.get(ch, encodedState(t, ch, int64(i)))
		if err != nil || st.GetChannel() != ch {
			t.Fatalf("%s: %v, %v", ch, st, err)
		}
	}
	if n := len(c.byKey); n != 3 {
		t.Fatalf("%d states kept, want 3", n)
	}
}
