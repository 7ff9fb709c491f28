package producer

import (
	"encoding/json"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/telemetra/telemetra/internal/kafka"
)

// daySample is what TestASimulatedDayIsBelievable reads of the events: lifecycle, viewer
// samples and transactions (chat is left undecoded: it is most of the day).
type daySample struct {
	Channel     string  `json:"channel"`
	EventType   string  `json:"event_type"`
	RaidFrom    string  `json:"raid_from"`
	RaidViewers int64   `json:"raid_viewers"`
	ViewerCount int64   `json:"viewer_count"`
	Amount      float64 `json:"amount"`
}

// TestASimulatedDayIsBelievable runs ten channels through a simulated day at 10 events/s and
// checks the statistics a viewer of the dashboard would notice (docs/producer.md):
//   - streams end on staggered schedules: several a day per channel, of varied lengths, and
//     never most channels at once;
//   - raids are about one per stream, each at its raider's stream end, towards a live channel;
//   - viewers drift: most steps between two samples are small, and a few spikes and drops
//     are large (the moments pick those up);
//   - revenue is in proportion to the audience: $0.04–$0.16 per viewer-hour.
func TestASimulatedDayIsBelievable(t *testing.T) {
	const step = 100 * time.Millisecond
	g, err := NewGenerator(Config{Channels: GeneratedChannels(10), Seed: 2026})
	if err != nil {
		t.Fatal(err)
	}
	type channelDay struct {
		live                 bool
		startedAt            time.Time
		lastSample           float64
		lastSampleAt         time.Time
		viewerHours, revenue float64
	}
	days := map[string]*channelDay{}
	day := func(ch string) *channelDay {
		if days[ch] == nil {
			days[ch] = &channelDay{}
		}
		return days[ch]
	}
	var ends []time.Time
	var lengths []float64 // minutes, of streams that began and ended within the day
	var steps []float64   // relative change between two samples of a channel
	raids, raidsAtEnd := 0, 0
	var pendingRaid struct {
		from string
		at   time.Time
	}
	for k := range int(24 * time.Hour / step) {
		at := testStart.Add(time.Duration(k) * step)
		r := g.Next(at)
		if r.Topic == kafka.TopicChat {
			continue
		}
		var ev daySample
		if err := json.Unmarshal(r.Value, &ev); err != nil {
			t.Fatal(err)
		}
		c := day(ev.Channel)
		switch r.Topic {
		case kafka.TopicStreamMeta:
			switch ev.EventType {
			case "stream_start":
				c.live, c.startedAt, c.lastSampleAt = true, time.Time{}, time.Time{}
				if k > 100 { // not one of the streams found live when the day began: its length is known
					c.startedAt = at
				}
			case "stream_end":
				if pendingRaid.from == ev.Channel && at.Sub(pendingRaid.at) <= time.Second {
					raidsAtEnd++
				}
				c.live = false
				ends = append(ends, at)
				if !c.startedAt.IsZero() {
					lengths = append(lengths, at.Sub(c.startedAt).Minutes())
				}
				if !c.lastSampleAt.IsZero() {
					c.viewerHours += c.lastSample * at.Sub(c.lastSampleAt).Hours()
				}
				c.lastSampleAt = time.Time{}
			case "raid_incoming":
				raids++
				if !c.live {
					t.Errorf("%v: a raid on %s, which is offline", at, ev.Channel)
				}
				if ev.RaidViewers <= 0 || days[ev.RaidFrom] == nil || !days[ev.RaidFrom].live {
					t.Errorf("%v: a raid of %d viewers from %q, which is not a live channel of the simulation", at, ev.RaidViewers, ev.RaidFrom)
				}
				pendingRaid.from, pendingRaid.at = ev.RaidFrom, at
			}
		case kafka.TopicViewer:
			v := float64(ev.ViewerCount)
			if !c.lastSampleAt.IsZero() {
				c.viewerHours += c.lastSample * at.Sub(c.lastSampleAt).Hours()
				steps = append(steps, math.Abs(v-c.lastSample)/c.lastSample)
			}
			c.lastSample, c.lastSampleAt = v, at
		case kafka.TopicTransactions:
			c.revenue += ev.Amount
		}
	}

	// staggered schedules
	streamsPerChannel := float64(len(ends)) / float64(len(days))
	if streamsPerChannel < 4 || streamsPerChannel > 14 {
		t.Errorf("%.1f streams ended per channel in a day, want 4–14 (mean stream 2h, mean gap 45m)", streamsPerChannel)
	}
	slices.Sort(lengths)
	if len(lengths) < 20 || lengths[len(lengths)/10] > 0.7*lengths[len(lengths)*9/10] {
		t.Errorf("stream lengths do not vary: %d streams, minutes %v", len(lengths), lengths)
	}
	slices.SortFunc(ends, func(a, b time.Time) int { return a.Compare(b) })
	for k := range ends {
		together := 0
		for j := k; j < len(ends) && ends[j].Sub(ends[k]) < 10*time.Minute; j++ {
			together++
		}
		if together > len(days)/2 {
			t.Errorf("%d of %d channels ended their streams within 10 minutes of %v", together, len(days), ends[k])
		}
	}

	// raids: about one per stream, at its end
	if perStream := float64(raids) / float64(len(ends)); perStream < 0.5 || perStream > 1 {
		t.Errorf("%d raids for %d stream ends: %.2f per stream, want about one (0.5–1)", raids, len(ends), perStream)
	}
	if raidsAtEnd != raids {
		t.Errorf("%d of %d raids were followed by their raider's stream end", raidsAtEnd, raids)
	}

	// viewers drift, with rare jumps
	slices.Sort(steps)
	median, p99 := steps[len(steps)/2], steps[len(steps)*99/100]
	large := len(steps) - sortSearch(steps, 0.25)
	if median > 0.01 || p99 > 0.05 {
		t.Errorf("viewer steps: median %.4f, p99 %.4f of the audience; want a smooth drift (≤ 1%%, ≤ 5%%)", median, p99)
	}
	if perDay := float64(large) / float64(len(days)); perDay < 1 || perDay > 15 {
		t.Errorf("%d of %d viewer steps are over 25%%, %.1f per channel and day: want a few spikes, drops and raids a day (1–15)", large, len(steps), perDay)
	}

	// revenue per viewer-hour
	var viewerHours, revenue float64
	for _, c := range days {
		viewerHours += c.viewerHours
		revenue += c.revenue
	}
	if perViewerHour := revenue / viewerHours; perViewerHour < 0.04 || perViewerHour > 0.16 {
		t.Errorf("$%.0f over %.0f viewer-hours: $%.3f per viewer-hour, want $0.04–$0.16", revenue, viewerHours, perViewerHour)
	}
	t.Logf("%d channels: %d streams ended (%.1f each), %d raids, viewer steps median %.4f p99 %.4f, %d over 25%%, $%.0f over %.0f viewer-hours ($%.3f each)",
		len(days), len(ends), streamsPerChannel, raids, median, p99, large, revenue, viewerHours, revenue/viewerHours)
}

// sortSearch is the index of the first value at least x in sorted values.
func sortSearch(values []float64, x float64) int {
	k, _ := slices.BinarySearch(values, x)
	return k
}
