package window

import (
	"fmt"
	"testing"
	"time"

	"github.com/axiomhq/hyperloglog"

	"github.com/telemetra/telemetra/processors/table"
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

func TestAggregateContents(t *testing.T) {
	d := newDriver(newEngine(t))
	events := []schemas.Event{
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
	}
	for _, r := range recordsOf(events) {
		d.read(r)
	}
	closeAll(d, at("1h"))
	if len(d.finals) != 1 {
		t.Fatalf("want one final window, got %s", d.take())
	}
	a := d.finals["demo_stream@2025-10-16T10:00:00Z"]
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
	st, _ := d.part.State("demo_stream")
	if len(st.OpenWindows) != 0 || st.LastFinal.Chat.Messages != 4 || st.LastFinal.Chat.ChattersSketch != nil {
		t.Errorf("state after the close: %d open windows, last final %v", len(st.OpenWindows), st.LastFinal)
	}
}

// TestProvisionalUpdatesAtMostOncePerInterval: a changed window is emitted at once, then not
// before the provisional interval has passed (processing time); NextDue says when.
func TestProvisionalUpdatesAtMostOncePerInterval(t *testing.T) {
	e := newEngine(t)
	st := &pb.ChannelState{}
	if _, ok := e.NextDue(st); ok {
		t.Fatal("nothing open, nothing due")
	}
	now := at("10s")
	apply := func(ev schemas.Event, now time.Time) Result {
		t.Helper()
		res, err := e.Apply(st, ev, ev.EventTime(), time.Time{}, now)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	if res := apply(chat(at("10s"), "a", "hi"), now); len(res.Aggregates) != 1 || res.Aggregates[0].Final {
		t.Fatalf("first change: %v, want one provisional record", res.Aggregates)
	}
	if _, ok := e.NextDue(st); ok {
		t.Fatal("emitted: nothing due")
	}
	interval := e.Config().ProvisionalInterval
	if res := apply(chat(at("10.2s"), "a", "hi"), now.Add(interval/5)); len(res.Aggregates) != 0 {
		t.Fatalf("within the interval: %v", res.Aggregates)
	}
	if due, _ := e.NextDue(st); !due.Equal(now.Add(interval)) {
		t.Fatalf("due %s, want the next provisional emit", due)
	}
	if res := e.Tick(st, now.Add(interval)); len(res.Aggregates) != 1 || res.Aggregates[0].Chat.Messages != 2 {
		t.Fatalf("tick: %v", res.Aggregates)
	}
}

// recordsOf puts events on their topics as a producer would, each reaching Kafka at its event
// time, in the given order.
func recordsOf(events []schemas.Event) []record {
	offsets := map[string]int64{}
	out := make([]record, 0, len(events))
	for _, ev := range events {
		topic := topicOf(ev)
		out = append(out, record{topic: topic, offset: offsets[topic], timestamp: ev.EventTime(), event: ev})
		offsets[topic]++
	}
	return out
}

func topicOf(ev schemas.Event) string {
	switch ev.(type) {
	case schemas.ChatMessage:
		return "chat"
	case schemas.ViewerCount:
		return "viewer"
	case schemas.Transaction:
		return "transactions"
	default:
		return "stream_meta"
	}
}

// closeAll writes a marker at the given arrival into every input, as the processor does once
// everything is quiet: every window before it closes.
func closeAll(d *driver, arrival time.Time) {
	for _, topic := range testInputs {
		d.read(record{topic: topic, offset: 1 << 40, timestamp: arrival, marker: true})
	}
}

func TestConfigValidation(t *testing.T) {
	for name, mutate := range map[string]func(*Config){
		"window does not divide a day":  func(c *Config) { c.Size = 7 * time.Minute },
		"negative lateness":             func(c *Config) { c.AllowedLateness = -time.Second },
		"baseline too small":            func(c *Config) { c.Anomaly.MinBaseline = 50 },
		"past skew within the lateness": func(c *Config) { c.MaxPastSkew = 30 * time.Second },
		"no producer delay":             func(c *Config) { c.ProducerDelay = -time.Second },
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
	w := newEngine(t).openWindow(&pb.ChannelState{Channel: "demo_stream"}, t0, t0.Add(time.Minute))
	for k := range 15000 {
		w.ChatterHashes = append(w.ChatterHashes, chatterHash(fmt.Sprintf("brave_otter%d", k)))
	}
	table.Derive(w.Aggregate, w, 10)
	s := hyperloglog.New14()
	if err := s.UnmarshalBinary(w.Aggregate.Chat.ChattersSketch); err != nil {
		t.Fatal(err)
	}
	if got := float64(s.Estimate()); got < 15000*0.97 || got > 15000*1.03 {
		t.Fatalf("estimate %.0f of 15000 distinct chatters", got)
	}
}

// TestPreviewShowsActivityNotALateOnlyWindow: the live snapshot is the newest window with
// events; a window opened only to count late events is not the channel's activity.
func TestPreviewShowsActivityNotALateOnlyWindow(t *testing.T) {
	e := newEngine(t)
	st := &pb.ChannelState{}
	if _, err := e.Apply(st, chat(at("10s"), "a", "hi"), at("10s"), time.Time{}, at("10s")); err != nil {
		t.Fatal(err)
	}
	// late for 10:05 (arrived 10:07), whose close point the frontier (none yet) has not passed
	if res, err := e.Apply(st, chat(at("5m"), "b", "late"), at("7m"), time.Time{}, at("7m")); err != nil || !res.Late {
		t.Fatalf("late = %v, %v", res.Late, err)
	}
	if len(st.OpenWindows) != 2 {
		t.Fatalf("%d open windows, want the 10:00 window and the late-only 10:05 one", len(st.OpenWindows))
	}
	if p := table.Preview(st, 10); p == nil || !p.WindowStart.AsTime().Equal(t0) || p.Chat.Messages != 1 {
		t.Fatalf("preview %v, want the 10:00 window", p)
	}
}
