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
	if size := len(seen.Current) + len(seen.Previous) + 8*len(seen.CurrentHashes); size > 2*seenFilterBytes {
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

// TestAFewChattersAreKeptExactlyThenInAFilter: up to 512 chatters the memory is their sorted
// hashes (8 bytes each, not a 4 KB filter), and knows each exactly; the 513th turns it into
// the filter, which still knows every one of them.
func TestAFewChattersAreKeptExactlyThenInAFilter(t *testing.T) {
	st := &pb.ChannelState{}
	name := func(i int) uint64 { return chatterHash(fmt.Sprintf("viewer_%d", i)) }
	for i := range seenExactMax {
		if !firstTime(st, name(i)) {
			t.Fatalf("chatter %d is not new", i)
		}
		if firstTime(st, name(i)) || (i > 0 && firstTime(st, name(i/2))) {
			t.Fatalf("after %d chatters, a known one is new again", i+1)
		}
	}
	seen := st.SeenChatters
	if len(seen.Current) != 0 || len(seen.CurrentHashes) != seenExactMax || seen.CurrentChatters != seenExactMax {
		t.Fatalf("after %d chatters: filter of %d bytes, %d hashes, count %d; want no filter, %d hashes",
			seenExactMax, len(seen.Current), len(seen.CurrentHashes), seen.CurrentChatters, seenExactMax)
	}
	if !strictlyIncreasing(seen.CurrentHashes) {
		t.Fatal("the hashes are not sorted, each once")
	}
	if !firstTime(st, name(seenExactMax)) {
		t.Fatal("the 513th chatter is not new")
	}
	if len(seen.Current) != seenFilterBytes || len(seen.CurrentHashes) != 0 || seen.CurrentChatters != seenExactMax+1 {
		t.Fatalf("after the 513th chatter: filter of %d bytes, %d hashes, count %d; want a filter only",
			len(seen.Current), len(seen.CurrentHashes), seen.CurrentChatters)
	}
	for i := range seenExactMax + 1 {
		if firstTime(st, name(i)) {
			t.Fatalf("chatter %d is new again once the memory is a filter", i)
		}
	}
}

func strictlyIncreasing(hs []uint64) bool {
	for i := 1; i < len(hs); i++ {
		if hs[i-1] >= hs[i] {
			return false
		}
	}
	return true
}
