package window

import (
	"slices"

	"github.com/telemetra/telemetra/processors/table"
	pb "github.com/telemetra/telemetra/proto/telemetra/v1"
)

// First-time chatters: a channel's state remembers the chatters it has had in two Bloom filters
// (ChannelState.seen_chatters, whose comment in records.proto is the layout's definition). The
// memory is bounded: at most 2 × seenFilterBytes per channel, whatever the channel's history.
const (
	// seenFilterBytes is the size of a new filter: 32,768 bits.
	seenFilterBytes = 4096
	// seenFilterHashes is the number of bits a name sets in a filter.
	seenFilterHashes = 7
	// seenRotation is how many chatters a filter takes before it becomes the previous one: at
	// 16 bits per name, a full filter says "known" of an unknown name about 0.07% of the time.
	seenRotation = 2048
	// seenExactMax is how many chatters the current memory keeps as exact hashes before it
	// becomes a filter: 512 hashes of 8 bytes take the filter's bytes, so a channel with few
	// chatters never carries a 4 KB filter that is mostly zeros.
	seenExactMax = seenFilterBytes / 8
)

// firstTime reports whether the chatter with hash h is new to the channel, and makes it known.
// A chatter known only to the previous filter is added to the current one again, so a chatter
// who keeps chatting is never forgotten.
func firstTime(st *pb.ChannelState, h uint64) bool {
	seen := st.SeenChatters
	if seen == nil {
		seen = &pb.SeenChatters{}
		st.SeenChatters = seen
	}
	k, exact := slices.BinarySearch(seen.CurrentHashes, h)
	if exact || filterHas(seen.Current, h) {
		return false
	}
	known := filterHas(seen.Previous, h)
	if seen.CurrentChatters >= seenRotation {
		seen.Previous, seen.Current, seen.CurrentChatters = seen.Current, nil, 0
		k = 0
	}
	seen.CurrentChatters++
	switch {
	case len(seen.Current) > 0:
		filterAdd(seen.Current, h)
	case len(seen.CurrentHashes) < seenExactMax:
		seen.CurrentHashes = slices.Insert(seen.CurrentHashes, k, h)
	default: // the exact memory is full: it becomes the filter
		seen.Current = make([]byte, seenFilterBytes)
		for _, held := range seen.CurrentHashes {
			filterAdd(seen.Current, held)
		}
		filterAdd(seen.Current, h)
		seen.CurrentHashes = nil
	}
	return !known
}

// filterBits are the bits of a filter that name hash h sets: double hashing of its mixed hash
// (low and high halves, the step made odd) over the filter's size, which a state carries with
// its bytes.
func filterBits(filter []byte, h uint64) [seenFilterHashes]uint64 {
	m := table.Mix64(h)
	h1, h2 := m&0xffffffff, m>>32|1
	n := uint64(len(filter)) * 8
	var bits [seenFilterHashes]uint64
	for i := range bits {
		bits[i] = (h1 + uint64(i)*h2) % n
	}
	return bits
}

func filterHas(filter []byte, h uint64) bool {
	if len(filter) == 0 {
		return false
	}
	for _, b := range filterBits(filter, h) {
		if filter[b/8]&(1<<(b%8)) == 0 {
			return false
		}
	}
	return true
}

func filterAdd(filter []byte, h uint64) {
	for _, b := range filterBits(filter, h) {
		filter[b/8] |= 1 << (b % 8)
	}
}

// countFirstTime counts a chat message of the chatter with hash h in window w if the chatter is
// new to the channel, or already one of w's first-time chatters.
func countFirstTime(st *pb.ChannelState, w *pb.OpenWindow, h uint64) {
	chat := w.Aggregate.Chat
	k, found := slices.BinarySearch(w.FirstTimeChatterHashes, h)
	switch {
	case found:
	case firstTime(st, h):
		w.FirstTimeChatterHashes = slices.Insert(w.FirstTimeChatterHashes, k, h)
		chat.FirstTimeChatters++
	default:
		return
	}
	chat.FirstTimeMessages++
}
