package producer

import (
	"bytes"
	"encoding/json"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/telemetra/telemetra/internal/kafka"
	"github.com/telemetra/telemetra/schemas"
)

var testStart = time.Date(2025, 10, 16, 10, 0, 0, 0, time.UTC)

// generate runs the simulation for n events, one every step of event time.
func generate(t testing.TB, cfg Config, n int, step time.Duration) []Record {
	t.Helper()
	g, err := NewGenerator(cfg)
	if err != nil {
		t.Fatal(err)
	}
	recs := make([]Record, n)
	for k := range recs {
		recs[k] = g.Next(testStart.Add(time.Duration(k) * step))
	}
	return recs
}

func decodeMap(t testing.TB, r Record) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.Value, &m); err != nil {
		t.Fatalf("%s: invalid JSON %s: %v", r.Topic, r.Value, err)
	}
	return m
}

func TestGeneratorIsReproducible(t *testing.T) {
	cfg := Config{Channels: []string{"demo_stream", "gaming", "cozy_cafe"}, Seed: 7}
	a := generate(t, cfg, 5000, 100*time.Millisecond)
	b := generate(t, cfg, 5000, 100*time.Millisecond)
	for k := range a {
		if a[k].Topic != b[k].Topic || !bytes.Equal(a[k].Key, b[k].Key) || !bytes.Equal(a[k].Value, b[k].Value) {
			t.Fatalf("event %d differs:\n%s\n%s", k, a[k].Value, b[k].Value)
		}
	}
	c := generate(t, Config{Channels: cfg.Channels, Seed: 8}, 50, 100*time.Millisecond)
	if bytes.Equal(a[49].Value, c[49].Value) {
		t.Fatal("different seeds gave the same events")
	}
}

// TestAnotherRunHasTheSameChannelsAndNewEvents: Run keeps the channels' sizes (from Seed) and
// changes the events, so a restarted simulation writes no event id of the earlier run again.
func TestAnotherRunHasTheSameChannelsAndNewEvents(t *testing.T) {
	cfg := Config{Channels: GeneratedChannels(5), Seed: 7}
	first, err := NewGenerator(cfg)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Run = 12345
	again, err := NewGenerator(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for k := range first.channels {
		if first.channels[k].size != again.channels[k].size {
			t.Errorf("channel %d: size %.0f, then %.0f in another run", k, first.channels[k].size, again.channels[k].size)
		}
	}
	a, b := first.Next(testStart), again.Next(testStart)
	if bytes.Equal(a.Value, b.Value) {
		t.Errorf("another run wrote the same first event: %s", a.Value)
	}
}

func TestGeneratorRejectsBadConfig(t *testing.T) {
	for name, tc := range map[string]struct {
		cfg  Config
		want string // in the error
	}{
		"no channels": {Config{}, "no channels"},
		"bad name":    {Config{Channels: []string{"Bad Name!"}}, `channel "Bad Name!": must match ` + schemas.ChannelPattern},
		"duplicate":   {Config{Channels: []string{"gaming", "gaming"}}, `channel "gaming" listed twice`},
		"too short":   {Config{Channels: []string{"ab"}}, `channel "ab": must match ` + schemas.ChannelPattern},
		"upper case":  {Config{Channels: []string{"Gaming"}}, `channel "Gaming": must match ` + schemas.ChannelPattern},
		// the schema's rule, not a looser one of the producer's: every event would be dead-lettered
		"leading underscore": {Config{Channels: []string{"_abc"}}, `channel "_abc": must match ` + schemas.ChannelPattern},
		"too long":           {Config{Channels: []string{strings.Repeat("a", 26)}}, "must match " + schemas.ChannelPattern},
		"one bad name":       {Config{Channels: []string{"gaming", "x"}}, `channel "x"`},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := NewGenerator(tc.cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

// TestChannelNamesFollowTheSchema checks every channel name the producer can put in an event:
// configured (the schema's rule, up to its limits), generated and raiding.
func TestChannelNamesFollowTheSchema(t *testing.T) {
	valid := []string{"abc", "0_a", "a__", "9lives", strings.Repeat("z", 25), "demo_stream"}
	valid = append(valid, GeneratedChannels(3)...)
	if err := CheckChannels(valid); err != nil {
		t.Errorf("CheckChannels(%q): %v", valid, err)
	}
	for _, name := range GeneratedChannels(1000) {
		if reason := schemas.CheckChannel(name); reason != "" {
			t.Errorf("%q: %s", name, reason)
		}
	}
}

// TestGeneratorEventMix: between the events with a time of their own (lifecycle, transactions),
// a fifth are viewer samples and the rest chat.
func TestGeneratorEventMix(t *testing.T) {
	recs := generate(t, Config{Channels: GeneratedChannels(20), Seed: 1}, 200_000, 10*time.Millisecond)
	counts := map[string]int{}
	for _, r := range recs {
		counts[r.Topic]++
	}
	if got := float64(counts[kafka.TopicViewer]) / float64(counts[kafka.TopicViewer]+counts[kafka.TopicChat]); math.Abs(got-shareViewer) > 0.01 {
		t.Errorf("viewer samples are %.3f of viewer samples and chat, want %.2f ± 0.01", got, shareViewer)
	}
	// 2,000 s of 20 channels: transactions and lifecycle events are rare next to chat
	for _, topic := range []string{kafka.TopicTransactions, kafka.TopicStreamMeta} {
		if counts[topic] == 0 || counts[topic] > len(recs)/100 {
			t.Errorf("%d %s events of %d", counts[topic], topic, len(recs))
		}
	}
}

// TestGeneratorLifecycle replays the stream and checks it makes sense per channel: everything
// happens between a stream_start and a stream_end, raids bring viewers, values stay in range.
func TestGeneratorLifecycle(t *testing.T) {
	cfg := Config{Channels: []string{"demo_stream", "gaming", "cozy_cafe"}, Seed: 3,
		MinStreamDuration: 2 * time.Minute, MinOfflineDuration: 30 * time.Second, MeanStream: 10 * time.Minute, MeanOffline: 3 * time.Minute}
	recs := generate(t, cfg, 100_000, 50*time.Millisecond)

	type state struct {
		live        bool
		lastViewers float64
		raid        float64
	}
	channels := map[string]*state{}
	events := map[string]int{}
	emotes := map[string]bool{}
	for _, e := range Emotes() {
		emotes[e] = true
	}
	raidsChecked := 0
	for k, r := range recs {
		m := decodeMap(t, r)
		ch := m["channel"].(string)
		if ch != string(r.Key) {
			t.Fatalf("event %d: key %q but channel %q", k, r.Key, ch)
		}
		st := channels[ch]
		if st == nil {
			st = &state{}
			channels[ch] = st
		}
		if r.Topic == kafka.TopicStreamMeta {
			typ := m["event_type"].(string)
			events[typ]++
			switch typ {
			case "stream_start":
				if st.live {
					t.Fatalf("event %d: %s started twice", k, ch)
				}
				st.live = true
				st.raid, st.lastViewers = 0, 0
			case "stream_end":
				st.live = false
			case "raid_incoming":
				st.raid += m["raid_viewers"].(float64)
				if m["raid_from"] == ch {
					t.Fatalf("event %d: %s raided itself", k, ch)
				}
			}
			if !st.live && typ != "stream_end" {
				t.Fatalf("event %d: %s on offline channel %s", k, typ, ch)
			}
			continue
		}
		if !st.live {
			t.Fatalf("event %d: %s on offline channel %s: %s", k, r.Topic, ch, r.Value)
		}
		switch r.Topic {
		case kafka.TopicViewer:
			v, c := m["viewer_count"].(float64), m["chatter_count"].(float64)
			if v < 1 || v > 5*maxChannelSize {
				t.Fatalf("event %d: viewers %v out of range", k, v)
			}
			if c < math.Floor(v*0.05) || c > math.Ceil(v*0.20) {
				t.Fatalf("event %d: chatters %v not 5-20%% of %v", k, c, v)
			}
			if st.raid > 0 {
				// raiders arrive with the next sample (on an audience that may have drifted)
				if want := st.raid + 0.4*st.lastViewers; st.lastViewers > 0 && v < want {
					t.Fatalf("event %d: after a raid of %v viewers on %v, got %v", k, st.raid, st.lastViewers, v)
				}
				raidsChecked++
				st.raid = 0
			}
			st.lastViewers = v
		case kafka.TopicChat:
			for _, e := range m["emotes"].([]any) {
				if !emotes[e.(string)] {
					t.Fatalf("event %d: unknown emote %v", k, e)
				}
			}
		case kafka.TopicTransactions:
			checkTransaction(t, k, m)
		}
	}
	for _, typ := range []string{"stream_start", "stream_end", "title_change", "raid_incoming"} {
		if events[typ] == 0 {
			t.Errorf("no %s in 100k events", typ)
		}
	}
	if raidsChecked == 0 {
		t.Error("no raid was followed by a viewer sample")
	}
}

func checkTransaction(t *testing.T, k int, m map[string]any) {
	t.Helper()
	amount := m["amount"].(float64)
	tier, _ := m["tier"].(float64)
	switch typ := m["transaction_type"].(string); typ {
	case "donation":
		if amount < 1 || amount > 500 {
			t.Fatalf("event %d: donation of %v", k, amount)
		}
	case "subscription":
		if want := float64(tierCents[int(tier)]) / 100; amount != want {
			t.Fatalf("event %d: tier %v sub costs %v, want %v", k, tier, amount, want)
		}
	case "bits":
		if bits := m["bits"].(float64); amount != bits/100 {
			t.Fatalf("event %d: %v bits for $%v", k, bits, amount)
		}
	case "gift_sub":
		if gifts := m["gift_count"].(float64); math.Abs(amount-gifts*float64(tierCents[int(tier)])/100) > 0.001 {
			t.Fatalf("event %d: %v tier %v gifts for $%v", k, gifts, tier, amount)
		}
	default:
		t.Fatalf("event %d: unknown transaction type %q", k, typ)
	}
}

// TestGeneratorBusyChannelsChatMore checks chat volume follows each channel's chatters.
func TestGeneratorBusyChannelsChatMore(t *testing.T) {
	recs := generate(t, Config{Channels: GeneratedChannels(50), Seed: 11}, 100_000, 10*time.Millisecond)
	chats := map[string]int{}
	for _, r := range recs {
		if r.Topic == kafka.TopicChat {
			chats[string(r.Key)]++
		}
	}
	counts := make([]int, 0, len(chats))
	for _, n := range chats {
		counts = append(counts, n)
	}
	slices.Sort(counts)
	if len(counts) < 40 || counts[len(counts)-1] < 3*counts[len(counts)/2] {
		t.Fatalf("chat is not concentrated on busy channels: %v", counts)
	}
}

func TestAppendEscaped(t *testing.T) {
	for in, want := range map[string]string{
		"plain":          "plain",
		`say "hi"`:       `say \"hi\"`,
		`back\slash`:     `back\\slash`,
		"tab\tnew\nline": `tab\tnew\nline`,
		"bell\a":         `bell\u0007`,
		"héllo ✓":        "héllo ✓",
		"bad\xffbyte":    `bad\ufffdbyte`,
	} {
		got := string(appendEscaped(nil, in))
		if got != want {
			t.Errorf("appendEscaped(%q) = %s, want %s", in, got, want)
		}
		var back string
		if err := json.Unmarshal([]byte(`"`+got+`"`), &back); err != nil {
			t.Errorf("appendEscaped(%q) is not a JSON string body: %v", in, err)
		}
	}
}

func TestAppendCents(t *testing.T) {
	for cents, want := range map[int64]string{0: "0.00", 5: "0.05", 499: "4.99", 50000: "500.00", 1234567: "12345.67"} {
		if got := string(appendCents(nil, cents)); got != want {
			t.Errorf("appendCents(%d) = %s, want %s", cents, got, want)
		}
	}
}

func BenchmarkGenerator(b *testing.B) {
	g, err := NewGenerator(Config{Channels: GeneratedChannels(100), Seed: 1})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	var bytes int64
	for k := 0; b.Loop(); k++ {
		r := g.Next(testStart.Add(time.Duration(k) * time.Millisecond))
		bytes += int64(len(r.Value))
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64(bytes)/float64(b.N), "bytes/event")
}
