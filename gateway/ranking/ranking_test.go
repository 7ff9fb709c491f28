package ranking

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/telemetra/telemetra/proto/telemetra/v1"
)

var t0 = time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)

func at(minute int) *timestamppb.Timestamp {
	return timestamppb.New(t0.Add(time.Duration(minute) * time.Minute))
}

// window is a final one-minute window of ch starting at minute, live in category with viewers,
// messages and revenue.
func window(ch string, minute int, category string, viewers, messages, revenue int64) *pb.WindowAggregate {
	return &pb.WindowAggregate{
		Channel: ch, WindowStart: at(minute), WindowEnd: at(minute + 1), Final: true,
		Chat: &pb.ChatStats{Messages: messages, UniqueChatters: messages / 2,
			Sentiment: &pb.SentimentStats{ScoreSum: float64(messages) / 10, ScoredMessages: messages},
			TopEmotes: []*pb.EmoteCount{{Emote: "Kappa", Count: messages / 4}}},
		Viewers:      &pb.ViewerStats{Avg: float64(viewers), Samples: 1, ViewerSum: viewers},
		Transactions: &pb.TransactionStats{RevenueCents: revenue},
		Status:       &pb.StreamStatus{Live: true, Category: category, Title: ch + " live", Viewers: viewers, LastEventTime: at(minute + 1)},
	}
}

func channels(entries []*Entry) []string {
	out := make([]string, len(entries))
	for k, e := range entries {
		out[k] = e.Channel
	}
	return out
}

func newRankings(x *Index, now *time.Time) *Rankings {
	return NewRankings(x, time.Second, func() time.Time { return *now }, nil)
}

func TestRankingOrder(t *testing.T) {
	x := NewIndex(20 * time.Minute)
	x.ApplyWindow(window("alpha", 0, "Chess", 300, 60, 500))
	x.ApplyWindow(window("bravo", 0, "Chess", 300, 120, 0))
	x.ApplyWindow(window("charlie", 0, "Music", 900, 30, 500))
	offline := window("delta", 0, "Music", 5000, 600, 9000)
	offline.Status.Live = false
	x.ApplyWindow(offline)
	now := t0
	r := newRankings(x, &now)
	for _, tc := range []struct {
		metric   pb.RankingMetric
		category string
		want     []string
	}{
		// ties go by channel ascending; the offline channel is not ranked
		{pb.RankingMetric_RANKING_METRIC_VIEWERS, "", []string{"charlie", "alpha", "bravo"}},
		{pb.RankingMetric_RANKING_METRIC_CHAT_RATE, "", []string{"bravo", "alpha", "charlie"}},
		{pb.RankingMetric_RANKING_METRIC_REVENUE, "", []string{"alpha", "charlie", "bravo"}},
		{pb.RankingMetric_RANKING_METRIC_UNIQUE_CHATTERS, "", []string{"bravo", "alpha", "charlie"}},
		{pb.RankingMetric_RANKING_METRIC_SENTIMENT, "", []string{"alpha", "bravo", "charlie"}},
		{pb.RankingMetric_RANKING_METRIC_MOMENTS, "", []string{"alpha", "bravo", "charlie"}},
		{pb.RankingMetric_RANKING_METRIC_VIEWERS, "Chess", []string{"alpha", "bravo"}},
		{pb.RankingMetric_RANKING_METRIC_VIEWERS, "Music", []string{"charlie"}},
		{pb.RankingMetric_RANKING_METRIC_VIEWERS, "Nothing", nil},
	} {
		t.Run(fmt.Sprintf("%s/%s", tc.metric, tc.category), func(t *testing.T) {
			if got := channels(r.Snapshot(tc.metric).Ranked(tc.category)); !slices.Equal(got, tc.want) && !(len(got) == 0 && tc.want == nil) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
	s := r.Snapshot(pb.RankingMetric_RANKING_METRIC_CHAT_RATE).Ranked("")
	if e := s[0]; e.Value != 120 || e.Figures.UniqueChatters != 60 || e.Figures.Sentiment != 0.1 || e.Figures.Title != "bravo live" {
		t.Fatalf("bravo's figures: %+v", e)
	}
}

func TestUpdatesApplyOnlyWhatIsNewer(t *testing.T) {
	for _, tc := range []struct {
		name    string
		apply   func(x *Index)
		viewers float64
		rate    float64
	}{
		{"a newer final replaces", func(x *Index) {
			x.ApplyWindow(window("alpha", 0, "Chess", 100, 10, 0))
			x.ApplyWindow(window("alpha", 1, "Chess", 200, 20, 0))
		}, 200, 20},
		{"an older final after a newer one is ignored", func(x *Index) {
			x.ApplyWindow(window("alpha", 1, "Chess", 200, 20, 0))
			x.ApplyWindow(window("alpha", 0, "Chess", 100, 10, 0))
		}, 200, 20},
		{"a provisional window moves the status, not the final figures", func(x *Index) {
			x.ApplyWindow(window("alpha", 0, "Chess", 100, 10, 0))
			p := window("alpha", 1, "Chess", 150, 99, 0)
			p.Final = false
			x.ApplyWindow(p)
		}, 150, 10},
		{"a late correction changes nothing", func(x *Index) {
			x.ApplyWindow(window("alpha", 0, "Chess", 100, 10, 0))
			c := window("alpha", 1, "Chess", 100, 99, 0)
			c.LateCorrection = true
			x.ApplyWindow(c)
		}, 100, 10},
		{"the seed is older than the feed", func(x *Index) {
			x.ApplyWindow(window("alpha", 1, "Chess", 200, 20, 0))
			old := window("alpha", 0, "Chess", 100, 10, 0)
			x.Seed(&pb.ChannelState{Channel: "alpha", Status: old.Status, LastFinal: old})
		}, 200, 20},
		{"the seed alone", func(x *Index) {
			w := window("alpha", 0, "Chess", 100, 10, 0)
			x.Seed(&pb.ChannelState{Channel: "alpha", Status: w.Status, LastFinal: w})
		}, 100, 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			x := NewIndex(20 * time.Minute)
			tc.apply(x)
			entries, _ := x.liveFigures()
			if len(entries) != 1 || entries[0].Figures.Viewers != tc.viewers || entries[0].Figures.MessagesPerMinute != tc.rate {
				t.Fatalf("got %+v; want viewers %v, rate %v", entries, tc.viewers, tc.rate)
			}
		})
	}
}

func TestMomentsCountTheChannelsLastHourOnce(t *testing.T) {
	x := NewIndex(20 * time.Minute)
	x.ApplyWindow(window("alpha", 0, "Chess", 100, 10, 0))
	m := func(id string, minute int) *pb.Moment { return &pb.Moment{Channel: "alpha", Id: id, At: at(minute)} }
	moments := func() int64 {
		e, _ := x.liveFigures()
		return e[0].Figures.Moments
	}
	x.ApplyMoment(m("raid-1", 0))
	x.ApplyMoment(m("raid-1", 0)) // delivered twice
	x.ApplyMoment(m("hype-2", 30))
	if got := moments(); got != 2 {
		t.Fatalf("%d moments, want 2", got)
	}
	v := x.Version()
	x.ApplyMoment(m("hype-2", 30))
	if x.Version() != v {
		t.Fatal("a repeated moment changed the index")
	}
	x.ApplyWindow(window("alpha", 65, "Chess", 100, 10, 0)) // the channel's time is now minute 66
	if got := moments(); got != 1 {
		t.Fatalf("%d moments an hour on, want 1 (the one of minute 30)", got)
	}
}

// TestRevenueCountsTheChannelsLastHour: now, revenue is the sum of the final windows of the hour
// before the channel's latest event (one minute's is mostly nothing), each window once.
func TestRevenueCountsTheChannelsLastHour(t *testing.T) {
	x := NewIndex(20 * time.Minute)
	revenue := func() int64 {
		e, _ := x.liveFigures()
		return e[0].Figures.RevenueCents
	}
	for _, step := range []struct {
		name   string
		window *pb.WindowAggregate
		want   int64
	}{
		{"the first window", window("alpha", 0, "Chess", 100, 10, 499), 499},
		{"a window without money", window("alpha", 1, "Chess", 100, 10, 0), 499},
		{"a later one", window("alpha", 30, "Chess", 100, 10, 1000), 1499},
		{"the first delivered again", window("alpha", 0, "Chess", 100, 10, 499), 1499},
		{"an hour after the first", window("alpha", 60, "Chess", 100, 10, 250), 1250},
		{"an hour after the second", window("alpha", 90, "Chess", 100, 10, 0), 250},
	} {
		x.ApplyWindow(step.window)
		if got := revenue(); got != step.want {
			t.Fatalf("%s: %d cents, want %d", step.name, got, step.want)
		}
	}
}

func TestPagesStayConsistentAcrossARebuild(t *testing.T) {
	x := NewIndex(20 * time.Minute)
	for k := range 10 {
		x.ApplyWindow(window(fmt.Sprintf("ch%02d", k), 0, "Chess", int64(1000-k*100), 10, 0))
	}
	now := t0
	r := newRankings(x, &now)
	const metric = pb.RankingMetric_RANKING_METRIC_VIEWERS
	s := r.Snapshot(metric)
	page, rank, next := s.Page("", nil, 4)
	if got := channels(page); rank != 1 || !slices.Equal(got, []string{"ch00", "ch01", "ch02", "ch03"}) || next == nil {
		t.Fatalf("page 1: %v from rank %d, next %v", got, rank, next)
	}
	// the same snapshot: the page goes on at its position
	page, rank, _ = s.Page("", next, 4)
	if got := channels(page); rank != 5 || !slices.Equal(got, []string{"ch04", "ch05", "ch06", "ch07"}) {
		t.Fatalf("page 2 of the same snapshot: %v from rank %d", got, rank)
	}
	// ch00 falls to the bottom and a second later the snapshot is rebuilt: page 2 continues
	// after ch03's place, so nothing ranked above it is repeated
	x.ApplyWindow(window("ch00", 1, "Chess", 1, 10, 0))
	now = now.Add(time.Second)
	r.Snapshot(metric)
	r.Wait()
	s2 := r.Snapshot(metric)
	if s2.Seq == s.Seq {
		t.Fatal("no rebuild a second after a change")
	}
	page, rank, next = s2.Page("", next, 4)
	if got := channels(page); rank != 4 || !slices.Equal(got, []string{"ch04", "ch05", "ch06", "ch07"}) || next == nil {
		t.Fatalf("page 2 after the rebuild: %v from rank %d", got, rank)
	}
	page, rank, next = s2.Page("", next, 4)
	if got := channels(page); rank != 8 || !slices.Equal(got, []string{"ch08", "ch09", "ch00"}) || next != nil {
		t.Fatalf("page 3: %v from rank %d, next %v", got, rank, next)
	}
}

func TestSnapshotsAreRebuiltAtMostOncePerInterval(t *testing.T) {
	x := NewIndex(20 * time.Minute)
	x.ApplyWindow(window("alpha", 0, "Chess", 100, 10, 0))
	now := t0
	r := newRankings(x, &now)
	const metric = pb.RankingMetric_RANKING_METRIC_VIEWERS
	first := r.Snapshot(metric)
	x.ApplyWindow(window("bravo", 0, "Chess", 200, 10, 0))
	now = now.Add(500 * time.Millisecond)
	r.Snapshot(metric)
	r.Wait()
	if s := r.Snapshot(metric); s != first {
		t.Fatal("rebuilt within the interval")
	}
	now = now.Add(500 * time.Millisecond)
	if s := r.Snapshot(metric); s != first {
		t.Fatal("a stale snapshot is served while its rebuild runs; the request got a new one")
	}
	r.Wait()
	s := r.Snapshot(metric)
	if got := channels(s.Ranked("")); !slices.Equal(got, []string{"bravo", "alpha"}) {
		t.Fatalf("after the interval: %v", got)
	}
	now = now.Add(time.Hour)
	r.Snapshot(metric)
	r.Wait()
	if r.Snapshot(metric) != s {
		t.Fatal("rebuilt with nothing changed")
	}
}

func TestChanges(t *testing.T) {
	top := func(chs ...string) Top {
		out := Top{}
		for _, c := range chs {
			out = append(out, Entry{Channel: c})
		}
		return out
	}
	for _, tc := range []struct {
		name       string
		prev, next Top
		want       string
	}{
		{"the same", top("a", "b"), top("a", "b"), "[]"},
		{"a swap", top("a", "b", "c"), top("b", "a", "c"), "[a 1→2 b 2→1]"},
		{"one enters, one leaves", top("a", "b"), top("a", "c"), "[b 2→0 c 0→2]"},
		{"from nothing", nil, top("a"), "[a 0→1]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, c := range Changes(tc.prev, tc.next) {
				got = append(got, fmt.Sprintf("%s %d→%d", c.GetChannel(), c.GetPreviousRank(), c.GetRank()))
			}
			if s := fmt.Sprint(got); s != tc.want && !(tc.want == "[]" && len(got) == 0) {
				t.Fatalf("got %s, want %s", s, tc.want)
			}
		})
	}
	if !top("a").Equal(top("a")) || top("a").Equal(top("b")) {
		t.Fatal("Equal")
	}
}

func TestTheSlotKeepsTheNewestValueOnly(t *testing.T) {
	s := NewSlot[int]()
	if _, ok := s.Take(); ok {
		t.Fatal("an empty slot gave a value")
	}
	for k := 1; k <= 100; k++ {
		s.Put(k) // a writer never waits
	}
	<-s.Ready()
	if v, ok := s.Take(); !ok || v != 100 || s.Replaced() != 99 {
		t.Fatalf("took %d %v with %d replaced; want 100 with 99 replaced", v, ok, s.Replaced())
	}
	select {
	case <-s.Ready():
		t.Fatal("ready after the take")
	default:
	}
}

func TestTrendingNow(t *testing.T) {
	x := NewIndex(20 * time.Minute)
	// minutes 0..9 the previous period, 10..19 the current one (the newest window ends at 20)
	for m := range 20 {
		x.ApplyWindow(window("alpha", m, "Chess", 100, 40, 0)) // Kappa 10 a window
	}
	for m := 10; m < 15; m++ {
		x.ApplyWindow(window("bravo", m, "Music", 300, 80, 0)) // Kappa 20 a window, for 5 minutes
	}
	x.ApplyWindow(window("alpha", 5, "Chess", 100, 4000, 0)) // an old final again: not counted
	got := x.Trending(10*time.Minute, 10)
	if !got.Start.Equal(t0.Add(10*time.Minute)) || !got.End.Equal(t0.Add(20*time.Minute)) {
		t.Fatalf("period %s .. %s", got.Start, got.End)
	}
	if len(got.Emotes) != 1 {
		t.Fatalf("emotes %v", got.Emotes)
	}
	if e := got.Emotes[0]; e.GetEmote() != "Kappa" || e.GetUses() != 10*10+5*20 || e.GetPreviousUses() != 100 || e.GetChannels() != 2 {
		t.Fatalf("Kappa: %v", e)
	}
	if len(got.Categories) != 2 {
		t.Fatalf("categories %v", got.Categories)
	}
	// Music: 300 viewers for 5 of the 10 minutes is 150 on average; Chess 100 throughout
	music, chess := got.Categories[0], got.Categories[1]
	if music.GetCategory() != "Music" || music.GetViewers() != 150 || music.GetPreviousViewers() != 0 || music.GetChannels() != 1 || music.GetChatMessages() != 400 {
		t.Fatalf("Music: %v", music)
	}
	if chess.GetCategory() != "Chess" || chess.GetViewers() != 100 || chess.GetPreviousViewers() != 100 || chess.GetChatMessages() != 400 {
		t.Fatalf("Chess: %v", chess)
	}
	if lim := x.Trending(10*time.Minute, 1); len(lim.Categories) != 1 || lim.Categories[0].GetCategory() != "Music" {
		t.Fatalf("limit 1: %v", lim.Categories)
	}
	if empty := NewIndex(time.Minute).Trending(10*time.Minute, 10); len(empty.Emotes) != 0 || !empty.End.IsZero() {
		t.Fatalf("an empty index: %+v", empty)
	}
}
