package window

import (
	"fmt"
	"testing"

	pb "github.com/telemetra/telemetra/proto/telemetra/v1"
)

// TestSeenChattersStayBoundedAndRememberActiveChatters: the memory of a channel's chatters is at
// most two filters whatever the number of chatters, misses few new ones, never forgets a chatter
// who keeps chatting, and forgets one who stays silent long enough.
func TestSeenChattersStayBoundedAndRememberActiveChatters(t *testing.T) {
	st := &pb.ChannelState{}
	const n = 100_000
	regular := chatterHash("regular_1")
	if !firstTime(st, regular) {
		t.Fatal("the first chatter is not new")
	}
	missed := 0
	for i := range n {
		if !firstTime(st, chatterHash(fmt.Sprintf("chatter_%d", i))) {
			missed++
		}
		if i%1000 == 999 && firstTime(st, regular) {
			t.Fatalf("the regular, chatting every 1000 chatters, is new again after %d", i+1)
		}
	}
	// about 0.07% for a full filter, less while it fills, twice for two filters
	t.Logf("%d of %d new chatters missed", missed, n)
	if rate := float64(missed) / n; rate > 0.002 {
		t.Errorf("%d of %d new chatters missed (%.3f%%)", missed, n, 100*rate)
	}
	seen := st.SeenChatters
	if size := len(seen.Current) + len(seen.Previous); size > 2*seenFilterBytes {
		t.Errorf("the memory holds %d bytes, want at most %d", size, 2*seenFilterBytes)
	}
	if seen.CurrentChatters > seenRotation {
		t.Errorf("the current filter holds %d chatters, want at most %d", seen.CurrentChatters, seenRotation)
	}
	if firstTime(st, chatterHash("chatter_99999")) {
		t.Error("the latest chatter is new again")
	}
	if !firstTime(st, chatterHash("chatter_0")) {
		t.Error("a chatter silent for 100,000 others is still known")
	}
}

// TestFirstTimeMessagesCountAWindowsNewChatters: a new chatter's later messages in the same
// window count as first-time messages; a known chatter's do not, and neither do a new chatter's
// messages in a later window.
func TestFirstTimeMessagesCountAWindowsNewChatters(t *testing.T) {
	st := &pb.ChannelState{}
	window := func() *pb.OpenWindow {
		return &pb.OpenWindow{Aggregate: &pb.WindowAggregate{Chat: &pb.ChatStats{}}}
	}
	w1, w2 := window(), window()
	for _, name := range []string{"alice", "bob", "alice", "alice"} {
		countFirstTime(st, w1, chatterHash(name))
	}
	for _, name := range []string{"alice", "carol", "bob", "carol"} {
		countFirstTime(st, w2, chatterHash(name))
	}
	for i, w := range []*pb.OpenWindow{w1, w2} {
		got := fmt.Sprintf("%d/%d", w.Aggregate.Chat.FirstTimeChatters, w.Aggregate.Chat.FirstTimeMessages)
		if want := []string{"2/4", "1/2"}[i]; got != want {
			t.Errorf("window %d: first-time chatters/messages %s, want %s", i+1, got, want)
		}
	}
}
