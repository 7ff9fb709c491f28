package eventtime

import (
	"fmt"
	"testing"
	"time"
)

func TestMarkersAreDueOnlyWhenSafe(t *testing.T) {
	p := MarkerPolicy{ProducerDelay: 2 * time.Second}
	closeAt := t0.Add(70 * time.Second) // the 10:00 window's close point
	at := closeAt.Add(time.Millisecond)
	now := t0.Add(time.Hour)
	inputs := func(silentReadToEnd bool, pending time.Time) []InputProgress {
		return []InputProgress{
			{Topic: "chat", Arrival: t0.Add(90 * time.Second), ReadToEnd: true},
			{Topic: "stream_meta", Arrival: t0.Add(5 * time.Second), ReadToEnd: silentReadToEnd, PendingMarker: pending},
		}
	}
	for _, tc := range []struct {
		name string
		pp   PartitionProgress
		want string
	}{
		{name: "no open window", pp: PartitionProgress{Inputs: inputs(true, time.Time{}), Settled: t0.Add(90 * time.Second)}, want: "[]"},
		{name: "another input was read past it long enough ago",
			pp:   PartitionProgress{Inputs: inputs(true, time.Time{}), NextClose: closeAt, Settled: t0.Add(90 * time.Second), LastRead: now},
			want: fmt.Sprintf("[{stream_meta %s}]", at)},
		{name: "the silent input still has records to read",
			pp:   PartitionProgress{Inputs: inputs(false, time.Time{}), NextClose: closeAt, Settled: t0.Add(90 * time.Second), LastRead: now},
			want: "[]"},
		{name: "a marker is on its way already",
			pp:   PartitionProgress{Inputs: inputs(true, at), NextClose: closeAt, Settled: t0.Add(90 * time.Second), LastRead: now},
			want: "[]"},
		{name: "read past it, but not long enough ago, and reads go on",
			pp:   PartitionProgress{Inputs: inputs(true, time.Time{}), NextClose: closeAt, Settled: t0.Add(60 * time.Second), LastRead: now},
			want: "[]"},
		{name: "everything quiet for the producer delay",
			pp:   PartitionProgress{Inputs: inputs(true, time.Time{}), NextClose: closeAt, Latest: t0.Add(90 * time.Second), LastRead: now.Add(-2 * time.Second)},
			want: fmt.Sprintf("[{stream_meta %s}]", at)},
		{name: "quiet, but not long enough for the latest arrival to pass the marker by the delay",
			pp:   PartitionProgress{Inputs: inputs(true, time.Time{}), NextClose: closeAt, Latest: t0.Add(60 * time.Second), LastRead: now.Add(-5 * time.Second)},
			want: "[]"},
		{name: "quiet long enough after the latest arrival",
			pp:   PartitionProgress{Inputs: inputs(true, time.Time{}), NextClose: closeAt, Latest: t0.Add(60 * time.Second), LastRead: now.Add(-13 * time.Second)},
			want: fmt.Sprintf("[{stream_meta %s}]", at)},
		{name: "quiet, but the marker would be ahead of the wall clock less the delay",
			pp:   PartitionProgress{Inputs: inputs(true, time.Time{}), NextClose: now.Add(-time.Second), Latest: now.Add(time.Minute), LastRead: now.Add(-5 * time.Second)},
			want: "[]"},
		{name: "quiet, but an input is not read to its end",
			pp:   PartitionProgress{Inputs: inputs(false, time.Time{}), NextClose: closeAt, Latest: t0.Add(90 * time.Second), LastRead: now.Add(-time.Minute)},
			want: "[]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := fmt.Sprint(p.Due(tc.pp, now)); got != tc.want {
				t.Fatalf("due %s, want %s", got, tc.want)
			}
		})
	}
}

// TestAProducerBehindTheWallClockGetsNoMarkerInItsWindow: a producer replaying a day-old stream
// at its own pace pauses 2.5 s between records. Its partition's clock is a day behind the wall
// clock; a marker may only extrapolate from that clock, so none lands inside the window it is
// still writing (the wall clock against its stamps would have put one there at once).
func TestAProducerBehindTheWallClockGetsNoMarkerInItsWindow(t *testing.T) {
	p := MarkerPolicy{ProducerDelay: 2 * time.Second}
	dayAgo := t0.Add(-24 * time.Hour)
	for k := range 20 { // records at 10:00:00, :02.5, :05 ... of a day ago, read as they come
		latest := dayAgo.Add(time.Duration(k) * 2500 * time.Millisecond)
		read := t0.Add(time.Duration(k) * 2500 * time.Millisecond)
		pp := PartitionProgress{
			Inputs:    []InputProgress{{Topic: "chat", Arrival: latest, ReadToEnd: true}, {Topic: "stream_meta", ReadToEnd: true}},
			NextClose: dayAgo.Add(70 * time.Second), Latest: latest, LastRead: read,
		}
		if due := p.Due(pp, read.Add(2400*time.Millisecond)); len(due) > 0 {
			t.Fatalf("record %d: marker %v while the window is still being written", k, due)
		}
	}
}

func TestHistorySettlesAfterTheDelay(t *testing.T) {
	var h History
	for k := range 10 {
		h.Record(t0.Add(time.Duration(k)*time.Second), t0.Add(time.Duration(k)*time.Minute))
	}
	if got := h.Settled(t0.Add(9*time.Second), 2*time.Second); !got.Equal(t0.Add(7 * time.Minute)) {
		t.Fatalf("settled %s, want what was read 2s ago", got)
	}
	if got := h.Settled(t0.Add(9*time.Second), 20*time.Second); !got.IsZero() {
		t.Fatalf("settled %s before anything was read that long ago", got)
	}
	if len(h.samples) > 3 {
		t.Fatalf("%d samples kept", len(h.samples))
	}
}
