package eventtime

import (
	"strings"
	"testing"
	"time"

	pb "github.com/telemetra/telemetra/proto/telemetra/v1"
)

var t0 = time.Date(2025, 10, 16, 10, 0, 0, 0, time.UTC)

func rule() Rule {
	return Rule{Size: time.Minute, AllowedLateness: 10 * time.Second, MaxFutureSkew: 5 * time.Minute, MaxPastSkew: 7 * 24 * time.Hour}
}

func TestJudge(t *testing.T) {
	for _, tc := range []struct {
		name             string
		event, arrival   time.Time
		want             Verdict
		wantStart        time.Time
		wantDetailSubstr string
	}{
		{name: "on time", event: t0.Add(30 * time.Second), arrival: t0.Add(31 * time.Second), want: OnTime, wantStart: t0},
		{name: "at the last moment of the lateness", event: t0.Add(59 * time.Second), arrival: t0.Add(70 * time.Second), want: OnTime, wantStart: t0},
		{name: "a millisecond after it", event: t0.Add(59 * time.Second), arrival: t0.Add(70*time.Second + time.Millisecond), want: Late, wantStart: t0,
			wantDetailSubstr: "1ms after its window"},
		{name: "late by minutes", event: t0, arrival: t0.Add(5 * time.Minute), want: Late, wantStart: t0, wantDetailSubstr: "3m50s after"},
		{name: "a clock 4 minutes fast", event: t0.Add(4 * time.Minute), arrival: t0, want: OnTime, wantStart: t0.Add(4 * time.Minute)},
		{name: "too far ahead", event: t0.Add(6 * time.Minute), arrival: t0, want: TooFarAhead, wantDetailSubstr: "6m0s after the record's arrival"},
		{name: "year 9999", event: time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC), arrival: t0, want: TooFarAhead, wantDetailSubstr: "is 7974y after"},
		{name: "1970", event: time.Unix(0, 0), arrival: t0, want: TooFarBehind, wantDetailSubstr: "is 56y before"},
		{name: "a week and a minute old", event: t0.Add(-7*24*time.Hour - time.Minute), arrival: t0, want: TooFarBehind, wantDetailSubstr: "7.0d before"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			j := rule().Judge(tc.event, tc.arrival)
			if j.Verdict != tc.want {
				t.Fatalf("verdict %d (%s), want %d", j.Verdict, j.Detail, tc.want)
			}
			if !tc.wantStart.IsZero() && (!j.WindowStart.Equal(tc.wantStart) || !j.WindowEnd.Equal(tc.wantStart.Add(time.Minute))) {
				t.Errorf("window [%s, %s), want it to start at %s", j.WindowStart, j.WindowEnd, tc.wantStart)
			}
			if tc.wantDetailSubstr != "" && !strings.Contains(j.Detail, tc.wantDetailSubstr) {
				t.Errorf("detail %q, want it to say %q", j.Detail, tc.wantDetailSubstr)
			}
		})
	}
}

// TestGapNeverOverflows: a gap longer than a time.Duration holds (about 292 years) is written
// in years; it used to read "2562047h47m16.854775807s", the overflowed maximum.
func TestGapNeverOverflows(t *testing.T) {
	for _, tc := range []struct {
		a, b time.Time
		want string
	}{
		{t0, t0.Add(1500 * time.Microsecond), "1.5ms"},
		{t0, t0.Add(90 * time.Second), "1m30s"},
		{t0, t0.Add(10 * 24 * time.Hour), "10.0d"},
		{time.Unix(0, 0), t0, "56y"},
		{t0, time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC), "7974y"},
		{time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC), "9999y"},
	} {
		if got := Gap(tc.a, tc.b); got != tc.want {
			t.Errorf("Gap(%s, %s) = %q, want %q", tc.a, tc.b, got, tc.want)
		}
	}
}

func TestClosesOnlyPastTheLateness(t *testing.T) {
	r := rule()
	end := t0.Add(time.Minute)
	for _, tc := range []struct {
		frontier time.Time
		want     bool
	}{
		{time.Time{}, false},
		{end.Add(10 * time.Second), false},
		{end.Add(10*time.Second + time.Millisecond), true},
	} {
		if got := r.Closes(end, tc.frontier); got != tc.want {
			t.Errorf("Closes(frontier %s) = %v, want %v", tc.frontier, got, tc.want)
		}
	}
}

func TestClockIsEachInputsLargestTimestamp(t *testing.T) {
	c := NewClock([]string{"a", "b"})
	if !c.Frontier().IsZero() {
		t.Fatal("a frontier before every input delivered")
	}
	if got := c.Observe("a", t0.Add(5*time.Second)); !got.Equal(t0.Add(5 * time.Second)) {
		t.Fatalf("arrival %s", got)
	}
	// an older timestamp arrives at the input's clock: its log says it came after
	if got := c.Observe("a", t0); !got.Equal(t0.Add(5 * time.Second)) {
		t.Fatalf("arrival of an older timestamp %s, want the clock", got)
	}
	c.Observe("b", t0.Add(2*time.Second))
	if !c.Frontier().Equal(t0.Add(2*time.Second)) || !c.Latest().Equal(t0.Add(5*time.Second)) {
		t.Fatalf("frontier %s latest %s", c.Frontier(), c.Latest())
	}
	// a snapshot restores to the same clock, and restoring an older one changes nothing
	restored := NewClock([]string{"a", "b"})
	restored.Restore(c.Snapshot())
	restored.Restore(&pb.PartitionClock{Inputs: []*pb.InputArrival{{Topic: "a", ArrivalUnixMs: t0.UnixMilli()}}})
	if !restored.Arrival("a").Equal(c.Arrival("a")) || !restored.Frontier().Equal(c.Frontier()) {
		t.Fatalf("restored %v, want %v", restored.Snapshot(), c.Snapshot())
	}
}
