package ranking

import (
	"sync"
	"time"

	pb "github.com/telemetra/telemetra/proto/telemetra/v1"
)

// RecentSpan is how far back a channel's moments and revenue count in its "now" figures: the
// hour before the channel's latest event (event time, so a replayed or delayed channel counts
// its own last hour, not the wall clock's). One minute's revenue is mostly nothing: money comes
// a few times an hour per channel.
const RecentSpan = time.Hour

// Index holds every channel's latest figures. Updates come from the gateway's feed (windows,
// moments) and once from the live view (Seed); each applies only what is newer than what the
// index holds, so the feed and the seed may interleave in any order and a record delivered
// twice counts once.
type Index struct {
	mu       sync.Mutex
	channels map[string]*channelFigures
	order    []*channelFigures // by ordinal: the trending buckets' channel sets index into it
	version  uint64            // bumped by every change; a snapshot remembers the one it read
	trending *trendBuckets
}

// channelFigures is one channel's state in the index.
type channelFigures struct {
	name      string
	ordinal   int
	fig       Figures
	statusAt  time.Time       // last_event_time of the status applied
	lastFinal time.Time       // window_start of the last final window applied
	moments   []moment        // of the last RecentSpan before latest, oldest first
	revenue   []windowRevenue // final windows of the last RecentSpan before latest, oldest first
	latest    time.Time       // latest event time seen (status or moment)
}

// windowRevenue is a final window's revenue.
type windowRevenue struct {
	start time.Time
	cents int64
}

type moment struct {
	id string
	at time.Time
}

// NewIndex returns an empty index whose trending buckets cover trendSpan of windows (the
// current period and the one before it).
func NewIndex(trendSpan time.Duration) *Index {
	return &Index{channels: map[string]*channelFigures{}, trending: newTrendBuckets(trendSpan)}
}

// Version changes whenever the figures do.
func (x *Index) Version() uint64 {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.version
}

// Len is the number of channels the index knows.
func (x *Index) Len() int {
	x.mu.Lock()
	defer x.mu.Unlock()
	return len(x.channels)
}

func (x *Index) channel(name string) *channelFigures {
	c := x.channels[name]
	if c == nil {
		c = &channelFigures{name: name, ordinal: len(x.order)}
		x.channels[name] = c
		x.order = append(x.order, c)
	}
	return c
}

// ApplyWindow takes a window record of the aggregates topic: its status (if newer than the
// channel's) and, when final and newer than the last final applied, its figures.
func (x *Index) ApplyWindow(a *pb.WindowAggregate) {
	if a.GetChannel() == "" {
		return
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	c := x.channel(a.GetChannel())
	changed := c.applyStatus(a.GetStatus())
	if a.GetFinal() && !a.GetLateCorrection() && c.applyFinal(a) {
		x.trending.add(c.ordinal, a)
		changed = true
	}
	if changed {
		x.version++
	}
}

// ApplyMoment counts a moment in its channel's last hour, once per moment id.
func (x *Index) ApplyMoment(m *pb.Moment) {
	if m.GetChannel() == "" || m.GetAt() == nil {
		return
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.channel(m.GetChannel()).applyMoment(m.GetId(), m.GetAt().AsTime()) {
		x.version++
	}
}

// Seed takes a channel's state from the live view: its status and last final window. Moments
// are not in the state; they count from the feed on.
func (x *Index) Seed(st *pb.ChannelState) {
	if st.GetChannel() == "" {
		return
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	c := x.channel(st.GetChannel())
	changed := c.applyStatus(st.GetStatus())
	if f := st.GetLastFinal(); f != nil && c.applyFinal(f) {
		changed = true
	}
	if changed {
		x.version++
	}
}

// applyStatus takes st if it is at least as new as the status held.
func (c *channelFigures) applyStatus(st *pb.StreamStatus) bool {
	if st == nil {
		return false
	}
	at := st.GetLastEventTime().AsTime()
	if at.Before(c.statusAt) {
		return false // an older window's record arriving after a newer one's
	}
	c.statusAt = at
	before := c.fig
	c.fig.Live, c.fig.Category, c.fig.Title, c.fig.Viewers = st.GetLive(), st.GetCategory(), st.GetTitle(), float64(st.GetViewers())
	c.see(at)
	return c.fig != before
}

// applyFinal takes a final window newer than the last one applied.
func (c *channelFigures) applyFinal(a *pb.WindowAggregate) bool {
	start := a.GetWindowStart().AsTime()
	if !start.After(c.lastFinal) {
		return false
	}
	c.lastFinal = start
	chat := a.GetChat()
	c.fig.MessagesPerMinute = 0
	if minutes := a.GetWindowEnd().AsTime().Sub(start).Minutes(); minutes > 0 {
		c.fig.MessagesPerMinute = float64(chat.GetMessages()) / minutes
	}
	c.fig.UniqueChatters = chat.GetUniqueChatters()
	// newer than every window held (lastFinal): the list stays in order
	c.revenue = append(c.revenue, windowRevenue{start: start, cents: a.GetTransactions().GetRevenueCents()})
	c.fig.Sentiment = 0
	if s := chat.GetSentiment(); s.GetScoredMessages() > 0 {
		c.fig.Sentiment = s.GetScoreSum() / float64(s.GetScoredMessages())
	}
	c.see(start)
	return true
}

// applyMoment adds a moment not seen yet and recounts the last hour.
func (c *channelFigures) applyMoment(id string, at time.Time) bool {
	for _, m := range c.moments {
		if m.id == id {
			return false
		}
	}
	c.moments = append(c.moments, moment{id: id, at: at})
	// moments of one channel arrive nearly in order: insertion from the end keeps them sorted
	for k := len(c.moments) - 1; k > 0 && c.moments[k].at.Before(c.moments[k-1].at); k-- {
		c.moments[k], c.moments[k-1] = c.moments[k-1], c.moments[k]
	}
	c.see(at)
	return true
}

// see moves the channel's latest event time on and drops the moments and the windows' revenue
// older than the RecentSpan before it.
func (c *channelFigures) see(at time.Time) {
	if at.After(c.latest) {
		c.latest = at
	}
	from := c.latest.Add(-RecentSpan)
	k := 0
	for k < len(c.moments) && c.moments[k].at.Before(from) {
		k++
	}
	if k > 0 {
		c.moments = append(c.moments[:0], c.moments[k:]...)
	}
	c.fig.Moments = int64(len(c.moments))
	k = 0
	for k < len(c.revenue) && c.revenue[k].start.Before(from) {
		k++
	}
	if k > 0 {
		c.revenue = append(c.revenue[:0], c.revenue[k:]...)
	}
	c.fig.RevenueCents = 0
	for _, r := range c.revenue {
		c.fig.RevenueCents += r.cents
	}
}

// liveFigures copies the figures of the live channels: what a snapshot ranks.
func (x *Index) liveFigures() ([]Entry, uint64) {
	x.mu.Lock()
	defer x.mu.Unlock()
	out := make([]Entry, 0, len(x.order))
	for _, c := range x.order {
		if c.fig.Live {
			out = append(out, Entry{Channel: c.name, Figures: c.fig})
		}
	}
	return out, x.version
}
