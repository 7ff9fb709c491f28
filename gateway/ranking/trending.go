package ranking

import (
	"math/bits"
	"slices"
	"strings"
	"time"

	pb "github.com/telemetra/telemetra/proto/telemetra/v1"
)

// trendBuckets sum the final windows of the last span across channels, one bucket per window
// start: what ListTrending's "now" needs (this period and the one before it) without keeping
// any channel's windows. Channel counts are sets of channel ordinals (bitsets, 12.5 kB per
// emote and bucket at 100,000 channels), so a channel using an emote in many windows counts
// once.
type trendBuckets struct {
	span    time.Duration
	newest  time.Time // the latest window end added
	buckets map[time.Time]*trendBucket
}

type trendBucket struct {
	emotes     map[string]*emoteSum
	categories map[string]*categorySum
}

type emoteSum struct {
	uses     int64
	channels bitset
}

type categorySum struct {
	viewerMinutes float64 // average viewers times the window's minutes, summed over windows
	messages      int64
	channels      bitset
}

func newTrendBuckets(span time.Duration) *trendBuckets {
	return &trendBuckets{span: span, buckets: map[time.Time]*trendBucket{}}
}

// add counts one final window of the channel with ordinal ch.
func (t *trendBuckets) add(ch int, a *pb.WindowAggregate) {
	start, end := a.GetWindowStart().AsTime(), a.GetWindowEnd().AsTime()
	if end.After(t.newest) {
		t.newest = end
		for s := range t.buckets {
			if s.Before(t.newest.Add(-t.span)) {
				delete(t.buckets, s)
			}
		}
	}
	if start.Before(t.newest.Add(-t.span)) {
		return
	}
	b := t.buckets[start]
	if b == nil {
		b = &trendBucket{emotes: map[string]*emoteSum{}, categories: map[string]*categorySum{}}
		t.buckets[start] = b
	}
	for _, e := range a.GetChat().GetTopEmotes() {
		s := b.emotes[e.GetEmote()]
		if s == nil {
			s = &emoteSum{}
			b.emotes[e.GetEmote()] = s
		}
		s.uses += e.GetCount()
		s.channels.set(ch)
	}
	if cat := a.GetStatus().GetCategory(); cat != "" {
		s := b.categories[cat]
		if s == nil {
			s = &categorySum{}
			b.categories[cat] = s
		}
		s.viewerMinutes += a.GetViewers().GetAvg() * end.Sub(start).Minutes()
		s.messages += a.GetChat().GetMessages()
		s.channels.set(ch)
	}
}

// Trending is what ListTrending returns.
type Trending struct {
	Start, End time.Time
	Emotes     []*pb.TrendingEmote
	Categories []*pb.TrendingCategory
}

// Trending sums the final windows that start in the period before the newest window's end,
// against the period before that, at most limit emotes and limit categories.
func (x *Index) Trending(period time.Duration, limit int) Trending {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.trending.trending(period, limit)
}

func (t *trendBuckets) trending(period time.Duration, limit int) Trending {
	end := t.newest
	start := end.Add(-period)
	out := Trending{Start: start, End: end}
	if end.IsZero() {
		return out
	}
	emotes := map[string]*pb.TrendingEmote{}
	emoteChannels := map[string]*bitset{}
	categories := map[string]*pb.TrendingCategory{}
	categoryChannels := map[string]*bitset{}
	for s, b := range t.buckets {
		current := !s.Before(start) && s.Before(end)
		previous := !s.Before(start.Add(-period)) && s.Before(start)
		if !current && !previous {
			continue
		}
		for name, e := range b.emotes {
			te := emotes[name]
			if te == nil {
				te = &pb.TrendingEmote{Emote: name}
				emotes[name], emoteChannels[name] = te, &bitset{}
			}
			if current {
				te.Uses += e.uses
				emoteChannels[name].or(e.channels)
			} else {
				te.PreviousUses += e.uses
			}
		}
		for name, c := range b.categories {
			tc := categories[name]
			if tc == nil {
				tc = &pb.TrendingCategory{Category: name}
				categories[name], categoryChannels[name] = tc, &bitset{}
			}
			if current {
				tc.Viewers += c.viewerMinutes / period.Minutes()
				tc.ChatMessages += c.messages
				categoryChannels[name].or(c.channels)
			} else {
				tc.PreviousViewers += c.viewerMinutes / period.Minutes()
			}
		}
	}
	for name, e := range emotes {
		if e.Uses > 0 {
			e.Channels = emoteChannels[name].count()
			out.Emotes = append(out.Emotes, e)
		}
	}
	for name, c := range categories {
		if c.Channels = categoryChannels[name].count(); c.Channels > 0 {
			out.Categories = append(out.Categories, c)
		}
	}
	SortTrending(out.Emotes, out.Categories)
	out.Emotes = out.Emotes[:min(limit, len(out.Emotes))]
	out.Categories = out.Categories[:min(limit, len(out.Categories))]
	return out
}

// SortTrending orders emotes by uses descending then name, and categories by viewers
// descending then name: ListTrending's order, over now and over a range.
func SortTrending(emotes []*pb.TrendingEmote, categories []*pb.TrendingCategory) {
	slices.SortFunc(emotes, func(a, b *pb.TrendingEmote) int {
		if a.GetUses() != b.GetUses() {
			if a.GetUses() > b.GetUses() {
				return -1
			}
			return 1
		}
		return strings.Compare(a.GetEmote(), b.GetEmote())
	})
	slices.SortFunc(categories, func(a, b *pb.TrendingCategory) int {
		if a.GetViewers() != b.GetViewers() {
			if a.GetViewers() > b.GetViewers() {
				return -1
			}
			return 1
		}
		return strings.Compare(a.GetCategory(), b.GetCategory())
	})
}

// bitset is a set of small non-negative integers.
type bitset []uint64

func (b *bitset) set(i int) {
	w := i / 64
	if w >= len(*b) {
		*b = append(*b, make([]uint64, w+1-len(*b))...)
	}
	(*b)[w] |= 1 << (i % 64)
}

func (b *bitset) or(o bitset) {
	if len(o) > len(*b) {
		*b = append(*b, make([]uint64, len(o)-len(*b))...)
	}
	for k, w := range o {
		(*b)[k] |= w
	}
}

func (b *bitset) count() int64 {
	n := 0
	for _, w := range *b {
		n += bits.OnesCount64(w)
	}
	return int64(n)
}
