package window

import (
	"fmt"
	"math"
	"testing"
	"time"

	pb "github.com/telemetra/telemetra/proto/telemetra/v1"
	"github.com/telemetra/telemetra/schemas"
)

func TestBaselineStats(t *testing.T) {
	for _, tc := range []struct {
		values    []float64
		mean, std float64
		n         int
	}{
		{nil, 0, 0, 0},
		{[]float64{5}, 5, 0, 1},
		{[]float64{2, 4, 4, 4, 5, 5, 7, 9}, 5, math.Sqrt(32.0 / 7), 8},
		{[]float64{10, 10, 10}, 10, 0, 3},
	} {
		s := BaselineStats(tc.values)
		if s.N != tc.n || math.Abs(s.Mean-tc.mean) > 1e-9 || math.Abs(s.StdDev-tc.std) > 1e-9 {
			t.Errorf("BaselineStats(%v) = %+v, want mean %v std %v", tc.values, s, tc.mean, tc.std)
		}
	}
}

func TestZScore(t *testing.T) {
	for _, tc := range []struct {
		x      float64
		s      Stats
		counts bool
		want   float64
	}{
		{20, Stats{N: 10, Mean: 10, StdDev: 4}, true, 2.5},
		{10, Stats{N: 10, Mean: 10, StdDev: 4}, true, 0},
		{20, Stats{N: 10, Mean: 10, StdDev: 2}, true, 10 / math.Sqrt(10)}, // Poisson floor above the std
		{4, Stats{N: 10, Mean: 10, StdDev: 2}, false, -3},
		// a flat baseline of counts uses Poisson noise: sqrt(100) = 10
		{130, Stats{N: 10, Mean: 100, StdDev: 0}, true, 3},
		// a flat baseline of a level uses 1% of the mean: 10 viewers on 1000
		{1030, Stats{N: 10, Mean: 1000, StdDev: 0}, false, 3},
		// never divides by less than 1
		{3, Stats{N: 10, Mean: 0, StdDev: 0}, true, 3},
	} {
		if got := ZScore(tc.x, tc.s, tc.counts); math.Abs(got-tc.want) > 1e-9 {
			t.Errorf("ZScore(%v, %+v, %v) = %v, want %v", tc.x, tc.s, tc.counts, got, tc.want)
		}
	}
}

func TestPushKeepsTheNewestValues(t *testing.T) {
	b := &pb.Baseline{}
	for v := range 7 {
		push(b, float64(v), 5)
	}
	if fmt.Sprint(b.Values) != "[2 3 4 5 6]" || b.Capacity != 5 {
		t.Fatalf("baseline = %v", b)
	}
}

// TestMoments builds baselines from ordinary windows, then checks each kind of moment.
func TestMoments(t *testing.T) {
	e := newEngine(t)
	st := &pb.ChannelState{}
	var moments []*pb.Moment
	apply := func(ev schemas.Event) {
		t.Helper()
		// a single input whose records reach Kafka at their event time: the frontier is the
		// event's own time
		res, err := e.Apply(st, ev, ev.EventTime(), ev.EventTime(), ev.EventTime())
		if err != nil {
			t.Fatal(err)
		}
		moments = append(moments, res.Moments...)
	}
	minute := func(m int, chats int, avgViewers int64, txns int) {
		base := t0.Add(time.Duration(m) * time.Minute)
		for k := range chats {
			apply(chat(base.Add(time.Duration(k)*time.Second/time.Duration(chats+1)), fmt.Sprintf("u%d", k), "hi"))
		}
		apply(viewers(base.Add(30*time.Second), avgViewers, avgViewers/10))
		for k := range txns {
			apply(txn(base.Add(40*time.Second+time.Duration(k)*time.Millisecond), schemas.TransactionDonation, 5, 0))
		}
	}
	// ten ordinary minutes build the baselines: 10±1 chats, ~1000 viewers, 1 transaction
	for m := range 10 {
		minute(m, 9+m%3, 990+int64(m%3)*10, 1)
	}
	if len(moments) != 0 {
		t.Fatalf("moments during an ordinary stretch: %v", moments)
	}
	minute(10, 80, 1000, 1)  // chat spike
	minute(11, 10, 400, 1)   // viewer drop
	minute(12, 10, 1000, 20) // hype
	apply(schemas.StreamMeta{Channel: "demo_stream", EventType: schemas.RaidIncoming, RaidFrom: "big_streamer", RaidViewers: 700, Timestamp: t0.Add(13*time.Minute + 5*time.Second)})
	apply(chat(t0.Add(14*time.Minute+11*time.Second), "x", "closes minute 13")) // the frontier passes 13:00 and 12
	apply(chat(t0.Add(15*time.Minute+11*time.Second), "x", "closes minute 14"))

	want := []struct {
		kind pb.MomentKind
		id   string
	}{
		{pb.MomentKind_MOMENT_KIND_CHAT_SPIKE, fmt.Sprintf("chat_spike-%d", t0.Add(10*time.Minute).Unix())},
		{pb.MomentKind_MOMENT_KIND_VIEWER_DROP, fmt.Sprintf("viewer_drop-%d", t0.Add(11*time.Minute).Unix())},
		{pb.MomentKind_MOMENT_KIND_RAID, fmt.Sprintf("raid-%d", t0.Add(13*time.Minute+5*time.Second).UnixMilli())},
		{pb.MomentKind_MOMENT_KIND_HYPE, fmt.Sprintf("hype-%d", t0.Add(12*time.Minute).Unix())},
	}
	if len(moments) != len(want) {
		t.Fatalf("got %d moments, want %d: %v", len(moments), len(want), moments)
	}
	for k, w := range want {
		m := moments[k]
		if m.Kind != w.kind || m.Id != w.id || m.Channel != "demo_stream" {
			t.Errorf("moment %d = %s %s, want %s %s", k, m.Kind, m.Id, w.kind, w.id)
		}
		if m.Kind != pb.MomentKind_MOMENT_KIND_RAID && (m.BaselineMean == 0 || math.Abs(m.ZScore) < 3 || m.Description == "") {
			t.Errorf("moment %d lacks its statistics: %v", k, m)
		}
	}
	if r := moments[2].Raid; r.FromChannel != "big_streamer" || r.Viewers != 700 {
		t.Errorf("raid = %v", r)
	}
}
