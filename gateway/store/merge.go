package store

import (
	"cmp"
	"fmt"
	"slices"

	"github.com/axiomhq/hyperloglog"

	pb "github.com/telemetra/telemetra/proto/telemetra/v1"
)

// defaultTopEmotes is how many emotes a roll-up lists: as many as a processor window keeps.
const defaultTopEmotes = 10

// emoteCount is one element of window_aggregates.top_emotes (jsonb).
type emoteCount struct {
	Emote string `json:"emote"`
	Count int64  `json:"count"`
}

// mergeTopEmotes sums the windows' top-emote lists per emote and returns the n most used, by
// count descending then emote ascending (the processor's order, so ties are stable).
func mergeTopEmotes(lists [][]emoteCount, n int) []*pb.EmoteCount {
	totals := map[string]int64{}
	for _, list := range lists {
		for _, e := range list {
			totals[e.Emote] += e.Count
		}
	}
	merged := make([]*pb.EmoteCount, 0, len(totals))
	for emote, count := range totals {
		merged = append(merged, &pb.EmoteCount{Emote: emote, Count: count})
	}
	slices.SortFunc(merged, func(a, b *pb.EmoteCount) int {
		if c := cmp.Compare(b.Count, a.Count); c != 0 {
			return c
		}
		return cmp.Compare(a.Emote, b.Emote)
	})
	return merged[:min(max(n, 0), len(merged))]
}

// mergeUniqueChatters estimates the distinct chatters of several windows from the union of
// their HyperLogLog sketches (MarshalBinary form). The estimate is clamped to what the union
// must be: at least the largest window's count and at most the sum of the windows' counts.
// That keeps a single window exact (its count is exact) and covers windows without a sketch.
func mergeUniqueChatters(sketches [][]byte, largestWindow, sumOfWindows int64) (int64, error) {
	if len(sketches) <= 1 {
		// one window: its own count is exact (the processor counted its chatters' hashes)
		return largestWindow, nil
	}
	var union hyperloglog.Sketch // zero value: empty, takes the precision of the first merged
	for i, data := range sketches {
		var sketch hyperloglog.Sketch
		if err := sketch.UnmarshalBinary(data); err != nil {
			return 0, fmt.Errorf("decode chatter sketch %d of %d: %w", i+1, len(sketches), err)
		}
		if err := union.Merge(&sketch); err != nil {
			return 0, fmt.Errorf("merge chatter sketch %d of %d: %w", i+1, len(sketches), err)
		}
	}
	estimate := int64(union.Estimate())
	return max(largestWindow, min(estimate, sumOfWindows)), nil
}

// ratio is a / b, 0 when b is 0 (an average of nothing).
func ratio[A, B int64 | float64](a A, b B) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}
