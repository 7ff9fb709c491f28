package window

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/axiomhq/hyperloglog"

	pb "github.com/telemetra/telemetra/proto/telemetra/v1"
	"github.com/telemetra/telemetra/schemas"
)

var t0 = time.Date(2025, 10, 16, 10, 0, 0, 0, time.UTC)

// at is an event time relative to t0, e.g. at("1m5s").
func at(d string) time.Time {
	dur, err := time.ParseDuration(d)
	if err != nil {
		panic(err)
	}
	return t0.Add(dur)
}

func chat(when time.Time, user, text string, emotes ...string) schemas.ChatMessage {
	return schemas.ChatMessage{Channel: "demo_stream", Username: user, Message: text, Emotes: emotes, Timestamp: when}
}

func viewers(when time.Time, v, c int64) schemas.ViewerCount {
	return schemas.ViewerCount{Channel: "demo_stream", ViewerCount: v, ChatterCount: c, Timestamp: when}
}

func txn(when time.Time, typ schemas.TransactionType, amount float64, tier int) schemas.Transaction {
	return schemas.Transaction{Channel: "demo_stream", TransactionType: typ, Amount: amount, Tier: tier, Timestamp: when}
}

func meta(when time.Time, typ schemas.StreamEventType) schemas.StreamMeta {
	return schemas.StreamMeta{Channel: "demo_stream", EventType: typ, Title: "Chill vibes", Category: "Art", Timestamp: when}
}

func newEngine(t *testing.T, mutate ...func(*Config)) *Engine {
	t.Helper()
	cfg := DefaultConfig()
	for _, m := range mutate {
		m(&cfg)
	}
	e, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// describe renders emitted windows compactly: "10:00 final v3 chat=2".
func describe(aggs []*pb.WindowAggregate) string {
	var parts []string
	for _, a := range aggs {
		kind := "prov"
		if a.Final {
			kind = "final"
		}
		parts = append(parts, fmt.Sprintf("%s %s v%d events=%d", a.WindowStart.AsTime().Format("15:04"), kind, a.Version, a.Events))
	}
	return strings.Join(parts, "; ")
}

// step is one input to the engine in a scenario: an event at processing time now, or a tick.
type step struct {
	now   time.Time
	event schemas.Event // nil: a tick
	want  string        // describe() of the emitted windows
	late  bool
}

func runSteps(t *testing.T, e *Engine, st *pb.ChannelState, steps []step) {
	t.Helper()
	for k, s := range steps {
		var res Result
		if s.event == nil {
			res = e.Tick(st, s.now, NoFrontier, true)
		} else {
			var err error
			if res, err = e.Apply(st, s.event, s.now, NoFrontier); err != nil {
				t.Fatalf("step %d: %v", k, err)
			}
		}
		if got := describe(res.Aggregates); got != s.want || res.Late != s.late {
			t.Fatalf("step %d: emitted %q late=%v, want %q late=%v", k, got, res.Late, s.want, s.late)
		}
	}
}

func TestWindowsByEventTime(t *testing.T) {
	// processing time runs 2s behind event time; provisional emits at most once a second
	p := func(d string) time.Time { return at(d).Add(2 * time.Second) }
	for _, tc := range []struct {
		name  string
		steps []step
	}{
		{"first event emits a provisional window", []step{
			{now: p("5s"), event: chat(at("5s"), "a", "hi"), want: "10:00 prov v1 events=1"},
		}},
		{"updates within the interval are coalesced, the next one after it carries them", []step{
			{now: p("5s"), event: chat(at("5s"), "a", "hi"), want: "10:00 prov v1 events=1"},
			{now: p("5.3s"), event: chat(at("5.3s"), "b", "hi"), want: ""},
			{now: p("5.6s"), event: chat(at("5.6s"), "c", "hi"), want: ""},
			{now: p("6.1s"), event: chat(at("6.1s"), "d", "hi"), want: "10:00 prov v2 events=4"},
		}},
		{"the last second of a window still belongs to it", []step{
			{now: p("59.999s"), event: chat(at("59.999s"), "a", "hi"), want: "10:00 prov v1 events=1"},
			{now: p("61s"), event: chat(at("60s"), "a", "hi"), want: "10:01 prov v2 events=1"},
		}},
		{"a window is final when the watermark passes its end", []step{
			{now: p("30s"), event: chat(at("30s"), "a", "hi"), want: "10:00 prov v1 events=1"},
			{now: p("1m9s"), event: chat(at("1m9s"), "a", "hi"), want: "10:01 prov v2 events=1"},
			// watermark = 1m10s - 10s = 1m: window 10:00 closes
			{now: p("1m10s"), event: chat(at("1m10s"), "a", "hi"), want: "10:00 final v3 events=1; 10:01 prov v4 events=2"},
		}},
		{"out of order within the lateness is counted in its window", []step{
			{now: p("50s"), event: chat(at("50s"), "a", "hi"), want: "10:00 prov v1 events=1"},
			{now: p("1m5s"), event: chat(at("1m5s"), "a", "hi"), want: "10:01 prov v2 events=1"},
			{now: p("1m6s"), event: chat(at("55s"), "a", "late but allowed"), want: "10:00 prov v3 events=2"},
			{now: p("1m11s"), event: chat(at("1m11s"), "a", "hi"), want: "10:00 final v4 events=2; 10:01 prov v5 events=2"},
		}},
		{"later than the lateness is late", []step{
			{now: p("50s"), event: chat(at("50s"), "a", "hi"), want: "10:00 prov v1 events=1"},
			{now: p("1m10s"), event: chat(at("1m10s"), "a", "hi"), want: "10:00 final v2 events=1; 10:01 prov v3 events=1"},
			{now: p("1m11s"), event: chat(at("59s"), "a", "too late"), want: "", late: true},
		}},
		{"an idle channel's windows close on a tick after the idle timeout", []step{
			{now: p("10s"), event: chat(at("10s"), "a", "hi"), want: "10:00 prov v1 events=1"},
			{now: p("11s"), event: chat(at("11s"), "a", "hi"), want: "10:00 prov v2 events=2"},
			{now: p("20s"), want: ""}, // not idle yet, nothing dirty
			{now: p("41s"), want: "10:00 final v3 events=2"},
			{now: p("42s"), event: chat(at("42s"), "a", "after the idle close"), want: "", late: true},
			{now: p("1m1s"), event: chat(at("1m1s"), "a", "next window"), want: "10:01 prov v4 events=1"},
		}},
		{"a tick emits a pending provisional update", []step{
			{now: p("10s"), event: chat(at("10s"), "a", "hi"), want: "10:00 prov v1 events=1"},
			{now: p("10.5s"), event: chat(at("10.5s"), "b", "hi"), want: ""},
			{now: p("11.5s"), want: "10:00 prov v2 events=2"},
			{now: p("12.5s"), want: ""},
		}},
		{"stream_end closes the open windows once the allowed lateness has passed", []step{
			{now: p("50s"), event: chat(at("50s"), "a", "hi"), want: "10:00 prov v1 events=1"},
			{now: p("1m2s"), event: chat(at("1m2s"), "a", "hi"), want: "10:01 prov v2 events=1"},
			{now: p("1m3s"), event: meta(at("1m3s"), schemas.StreamEnd), want: "10:01 prov v3 events=2"},
			// a chat from the stream's last seconds, delayed on its topic, still counts
			{now: p("1m5s"), event: chat(at("1m2.5s"), "a", "gg"), want: "10:01 prov v4 events=3"},
			{now: p("1m12s"), want: ""},
			{now: p("1m13s"), want: "10:00 final v5 events=1; 10:01 final v6 events=3"},
			{now: p("1m14s"), event: chat(at("1m4s"), "a", "after the end"), want: "", late: true},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			runSteps(t, newEngine(t), &pb.ChannelState{}, tc.steps)
		})
	}
}

// TestReplayOfOldDataIsNotLate replays an hour of events from last year as fast as possible:
// processing time barely moves, ticks come from the wall clock, and still no event is late and
// the windows close by the watermark exactly as they would live.
func TestReplayOfOldDataIsNotLate(t *testing.T) {
	e := newEngine(t)
	wall := time.Date(2026, 11, 27, 6, 0, 0, 0, time.UTC)
	live, replay := &pb.ChannelState{}, &pb.ChannelState{}
	var liveFinals, replayFinals []string
	for k := range 3600 {
		ev := chat(t0.Add(time.Duration(k)*time.Second), fmt.Sprintf("u%d", k%7), "gg")
		// live: processing time follows event time
		r, err := e.Apply(live, ev, ev.Timestamp.Add(300*time.Millisecond), NoFrontier)
		if err != nil || r.Late {
			t.Fatalf("live event %d: late=%v err=%v", k, r.Late, err)
		}
		liveFinals = append(liveFinals, finals(r)...)
		// replay: 10µs per event, a wall-clock tick every 1000 events
		now := wall.Add(time.Duration(k) * 10 * time.Microsecond)
		if r, err = e.Apply(replay, ev, now, NoFrontier); err != nil || r.Late {
			t.Fatalf("replayed event %d: late=%v err=%v", k, r.Late, err)
		}
		replayFinals = append(replayFinals, finals(r)...)
		if k%1000 == 0 {
			replayFinals = append(replayFinals, finals(e.Tick(replay, now, NoFrontier, true))...)
		}
	}
	if len(liveFinals) != 59 || strings.Join(liveFinals, ",") != strings.Join(replayFinals, ",") {
		t.Fatalf("live finals %v\nreplay finals %v", liveFinals, replayFinals)
	}
}

func finals(r Result) []string {
	var out []string
	for _, a := range r.Aggregates {
		if a.Final {
			out = append(out, fmt.Sprintf("%s:%d", a.WindowStart.AsTime().Format("15:04"), a.Chat.Messages))
		}
	}
	return out
}

func TestFutureTimestampsAreRefused(t *testing.T) {
	e := newEngine(t)
	st := &pb.ChannelState{}
	now := at("0s")
	_, err := e.Apply(st, chat(now.Add(6*time.Minute), "a", "from the future"), now, NoFrontier)
	if !errors.Is(err, ErrFutureTimestamp) || !strings.Contains(err.Error(), "ahead of processing time") {
		t.Fatalf("err = %v, want ErrFutureTimestamp", err)
	}
	if st.EventsTotal != 0 || st.Watermark != nil || len(st.OpenWindows) != 0 {
		t.Fatalf("state changed by a refused event: %v", st)
	}
	if _, err := e.Apply(st, chat(now.Add(4*time.Minute), "a", "clock a bit fast"), now, NoFrontier); err != nil {
		t.Fatalf("within the allowed skew: %v", err)
	}
}

func TestAggregateContents(t *testing.T) {
	e := newEngine(t)
	st := &pb.ChannelState{}
	now := at("2m")
	for _, ev := range []schemas.Event{
		meta(at("1s"), schemas.StreamStart),
		chat(at("2s"), "alice", "That was insane! PogChamp", "PogChamp"),
		chat(at("3s"), "bob", "not good NotLikeThis", "NotLikeThis"),
		chat(at("4s"), "alice", "hi chat"),
		chat(at("5s"), "carol", "PogChamp PogChamp LUL", "PogChamp", "PogChamp", "LUL"),
		viewers(at("10s"), 1000, 100),
		viewers(at("20s"), 1200, 150),
		viewers(at("30s"), 800, 90),
		txn(at("11s"), schemas.TransactionDonation, 12.34, 0),
		txn(at("12s"), schemas.TransactionSubscription, 9.99, 2),
		txn(at("13s"), schemas.TransactionSubscription, 4.99, 0),
		schemas.Transaction{Channel: "demo_stream", TransactionType: schemas.TransactionBits, Amount: 5, Bits: 500, Timestamp: at("14s")},
		schemas.Transaction{Channel: "demo_stream", TransactionType: schemas.TransactionGiftSub, Amount: 24.95, Tier: 1, GiftCount: 5, Timestamp: at("15s")},
	} {
		if _, err := e.Apply(st, ev, now, NoFrontier); err != nil {
			t.Fatal(err)
		}
	}
	res := e.Tick(st, now.Add(time.Hour), NoFrontier, true) // idle: closes the window
	if len(res.Aggregates) != 1 || !res.Aggregates[0].Final {
		t.Fatalf("want one final window, got %s", describe(res.Aggregates))
	}
	a := res.Aggregates[0]
	c := a.Chat
	if c.Messages != 4 || c.UniqueChatters != 3 || c.MessagesPerChatter != 4.0/3 || c.EmoteUses != 5 {
		t.Errorf("chat = %+v", c)
	}
	if te := c.TopEmotes; len(te) != 3 || te[0].Emote != "PogChamp" || te[0].Count != 3 ||
		te[1].Emote != "LUL" || te[2].Emote != "NotLikeThis" { // ties by name
		t.Errorf("top emotes = %v", te)
	}
	if s := c.Sentiment; s.Positive != 2 || s.Negative != 1 || s.Neutral != 1 || s.ScoredMessages != 4 {
		t.Errorf("sentiment = %+v", s)
	}
	if v := a.Viewers; v.Samples != 3 || v.Avg != 1000 || v.Min != 800 || v.Max != 1200 || v.Last != 800 ||
		v.ChattersMax != 150 || v.ChattersLast != 90 || v.ChatterSum != 340 {
		t.Errorf("viewers = %+v", v)
	}
	tx := a.Transactions
	if tx.Transactions != 5 || tx.RevenueCents != 1234+999+499+500+2495 ||
		tx.Donations.Count != 1 || tx.Donations.AmountCents != 1234 ||
		tx.Subscriptions.Count != 2 || tx.Subscriptions.Tier1 != 1 || tx.Subscriptions.Tier2 != 1 ||
		tx.Bits.Bits != 500 || tx.Bits.AmountCents != 500 || tx.GiftSubs.Gifted != 5 {
		t.Errorf("transactions = %+v", tx)
	}
	if a.Events != 13 || !a.Status.Live || a.Status.Title != "Chill vibes" || a.Status.Viewers != 800 {
		t.Errorf("events = %d, status = %+v", a.Events, a.Status)
	}
	if len(c.ChattersSketch) == 0 {
		t.Error("no chatters sketch")
	}
	if len(st.OpenWindows) != 0 || st.LastFinal.Chat.Messages != 4 || st.LastFinal.Chat.ChattersSketch != nil {
		t.Errorf("state after the close: %d open windows, last final %v", len(st.OpenWindows), st.LastFinal)
	}
}

func TestNextDue(t *testing.T) {
	e := newEngine(t)
	st := &pb.ChannelState{}
	if _, ok := e.NextDue(st); ok {
		t.Fatal("nothing open, nothing due")
	}
	now := at("10s")
	if _, err := e.Apply(st, chat(at("10s"), "a", "hi"), now, NoFrontier); err != nil { // emits at once
		t.Fatal(err)
	}
	if due, _ := e.NextDue(st); !due.Equal(now.Add(30 * time.Second)) {
		t.Fatalf("due %s, want the idle deadline", due)
	}
	if _, err := e.Apply(st, chat(at("10.2s"), "a", "hi"), now.Add(200*time.Millisecond), NoFrontier); err != nil {
		t.Fatal(err)
	}
	if due, _ := e.NextDue(st); !due.Equal(now.Add(time.Second)) {
		t.Fatalf("due %s, want the next provisional emit", due)
	}
}

func TestConfigValidation(t *testing.T) {
	for name, mutate := range map[string]func(*Config){
		"window does not divide a day": func(c *Config) { c.Size = 7 * time.Minute },
		"negative lateness":            func(c *Config) { c.AllowedLateness = -time.Second },
		"baseline too small":           func(c *Config) { c.Anomaly.MinBaseline = 50 },
	} {
		t.Run(name, func(t *testing.T) {
			cfg := DefaultConfig()
			mutate(&cfg)
			if _, err := New(cfg); err == nil {
				t.Fatal("want an error")
			}
		})
	}
}

// TestChatterSketchEstimatesLargeCounts: 15,000 distinct chatters with the producer's kind of
// names estimate within 3% (raw FNV-1a hashes in the sketch were ~10x low).
func TestChatterSketchEstimatesLargeCounts(t *testing.T) {
	hashes := make([]uint64, 15000)
	for k := range hashes {
		hashes[k] = chatterHash(fmt.Sprintf("brave_otter%d", k))
	}
	s := hyperloglog.New14()
	if err := s.UnmarshalBinary(sketch(hashes)); err != nil {
		t.Fatal(err)
	}
	if got := float64(s.Estimate()); got < 15000*0.97 || got > 15000*1.03 {
		t.Fatalf("estimate %.0f of 15000 distinct chatters", got)
	}
}

// TestAnIdleCloseWaitsForTheOtherInputs: a channel with no new events is closed by a tick, but
// only as far as every input of its partition has been read past a window's end plus the
// lateness. A burst that just landed may still hold events of the channel's last window on a
// topic not read yet.
func TestAnIdleCloseWaitsForTheOtherInputs(t *testing.T) {
	e := newEngine(t)
	st := &pb.ChannelState{}
	now := t0.Add(time.Hour)
	for _, ev := range []schemas.Event{chat(at("10s"), "a", "hi"), chat(at("1m10s"), "b", "hi"), chat(at("2m10s"), "c", "hi")} {
		if _, err := e.Apply(st, ev, now, time.Time{}); err != nil { // frontier unknown: nothing closes
			t.Fatal(err)
		}
	}
	idle := now.Add(time.Hour)
	if got := strings.Join(finals(e.Tick(st, idle, time.Time{}, true)), " "); got != "" {
		t.Fatalf("with an input not read at all, the idle close closed %s", got)
	}
	// the inputs have been read up to 2m05s: 10:00 may close (its end plus the lateness is 1m10s),
	// 10:01 not yet (2m10s)
	if got := strings.Join(finals(e.Tick(st, idle, at("2m05s"), true)), " "); got != "10:00:1" {
		t.Fatalf("idle close with the inputs read to 2m05s: %s", got)
	}
	if got := strings.Join(finals(e.Tick(st, idle, NoFrontier, true)), " "); got != "10:01:1 10:02:1" {
		t.Fatalf("idle close with every input drained: %s", got)
	}
}
