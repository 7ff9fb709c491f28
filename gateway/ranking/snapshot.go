package ranking

import (
	"slices"
	"sort"
	"strings"
	"time"

	pb "github.com/telemetra/telemetra/proto/telemetra/v1"
)

// Snapshot is one metric's ranking of the live channels at one moment, immutable and shared by
// every request that reads it.
type Snapshot struct {
	// Seq numbers the snapshots of an index's rankings (all metrics): a page token names the
	// snapshot its page came from.
	Seq     uint64
	Metric  pb.RankingMetric
	AsOf    time.Time
	version uint64 // of the index when built
	// all are the entries by rank; pointers into one array, so sorting moves 8 bytes an entry
	all []*Entry
	// byCategory are the entries of each category, in the same order as all.
	byCategory map[string][]*Entry
}

// newSnapshot sorts entries (the index's live figures, owned by the snapshot) by metric.
func newSnapshot(seq uint64, metric pb.RankingMetric, asOf time.Time, version uint64, entries []Entry) *Snapshot {
	// sort (value, position) pairs: 16 bytes to move and the value at hand; the channel is
	// looked up only for ties
	type key struct {
		value float64
		at    int
	}
	keys := make([]key, len(entries))
	categories := map[string]int{}
	for k := range entries {
		entries[k].Value, _ = entries[k].Figures.Value(metric)
		keys[k] = key{entries[k].Value, k}
		categories[entries[k].Figures.Category]++
	}
	slices.SortFunc(keys, func(a, b key) int {
		switch {
		case a.value > b.value:
			return -1
		case a.value < b.value:
			return 1
		}
		return strings.Compare(entries[a.at].Channel, entries[b.at].Channel)
	})
	all := make([]*Entry, len(entries))
	for k, key := range keys {
		all[k] = &entries[key.at]
	}
	s := &Snapshot{Seq: seq, Metric: metric, AsOf: asOf, version: version, all: all, byCategory: make(map[string][]*Entry, len(categories))}
	for c, n := range categories {
		s.byCategory[c] = make([]*Entry, 0, n)
	}
	for _, e := range all {
		s.byCategory[e.Figures.Category] = append(s.byCategory[e.Figures.Category], e)
	}
	return s
}

// Ranked is the ranking, of one category's channels when category is not empty, by rank.
// The slice is shared: callers must not change it.
func (s *Snapshot) Ranked(category string) []*Entry {
	if category == "" {
		return s.all
	}
	return s.byCategory[category]
}

// Cursor is where a page ended: the last entry served, and its snapshot and position.
type Cursor struct {
	Seq     uint64  `json:"s"`
	Offset  int     `json:"o"` // entries served before the next page
	Value   float64 `json:"v"`
	Channel string  `json:"c"`
}

// Page returns up to size entries of the ranking of category after cursor (nil: from the
// top), the rank of its first entry, and the cursor of the next page (nil at the end). A
// cursor of this snapshot continues at its position; one of an older snapshot continues after
// its (value, channel) in this one's order, so a page never repeats the entries ranked before
// the cursor's, whatever moved in between.
func (s *Snapshot) Page(category string, cursor *Cursor, size int) ([]*Entry, int64, *Cursor) {
	ranked := s.Ranked(category)
	from := 0
	if cursor != nil {
		if cursor.Seq == s.Seq {
			from = min(max(cursor.Offset, 0), len(ranked))
		} else {
			at := Entry{Channel: cursor.Channel, Value: cursor.Value}
			from = sort.Search(len(ranked), func(k int) bool { return before(&at, ranked[k]) })
		}
	}
	to := min(from+size, len(ranked))
	page := ranked[from:to]
	var next *Cursor
	if to < len(ranked) && len(page) > 0 {
		last := page[len(page)-1]
		next = &Cursor{Seq: s.Seq, Offset: to, Value: last.Value, Channel: last.Channel}
	}
	return page, int64(from) + 1, next
}
