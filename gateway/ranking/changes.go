package ranking

import (
	"slices"
	"strings"

	pb "github.com/telemetra/telemetra/proto/telemetra/v1"
)

// Top is the first entries of a ranking, as SubscribeRankings sends them.
type Top []Entry

// Top returns at most n entries of the ranking of category, copied.
func (s *Snapshot) Top(category string, n int) Top {
	ranked := s.Ranked(category)
	out := make(Top, min(n, len(ranked)))
	for k := range out {
		out[k] = *ranked[k]
	}
	return out
}

// Equal reports whether two tops show the same: the same channels in the same order with the
// same figures.
func (t Top) Equal(o Top) bool { return slices.Equal(t, o) }

// Changes are the moves from prev to next: every channel whose rank differs, entering (previous
// rank 0) or leaving (rank 0) included, by channel.
func Changes(prev, next Top) []*pb.RankChange {
	ranks := func(t Top) map[string]int64 {
		m := make(map[string]int64, len(t))
		for k, e := range t {
			m[e.Channel] = int64(k) + 1
		}
		return m
	}
	before, after := ranks(prev), ranks(next)
	var out []*pb.RankChange
	for ch, r := range after {
		if before[ch] != r {
			out = append(out, &pb.RankChange{Channel: ch, PreviousRank: before[ch], Rank: r})
		}
	}
	for ch, r := range before {
		if _, kept := after[ch]; !kept {
			out = append(out, &pb.RankChange{Channel: ch, PreviousRank: r})
		}
	}
	slices.SortFunc(out, func(a, b *pb.RankChange) int { return strings.Compare(a.GetChannel(), b.GetChannel()) })
	return out
}
