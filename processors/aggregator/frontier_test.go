package aggregator

import (
	"testing"
	"time"

	"github.com/telemetra/telemetra/processors/window"
)

func TestFrontier(t *testing.T) {
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	type read struct {
		topic  string
		offset int64
		secs   int
	}
	for _, tc := range []struct {
		name      string
		reads     []read
		after     []read                     // read after the offsets were taken
		ends2     map[string]map[int32]int64 // offsets taken after those reads
		ends      map[string]map[int32]int64
		committed map[string]map[int32]int64
		want      time.Time
	}{
		{name: "no offsets known yet: hold everything", reads: []read{{"chat", 0, 10}}, want: time.Time{}},
		{name: "every input drained: nothing held back",
			ends: map[string]map[int32]int64{"chat": {0: 5}, "viewer": {0: 0}}, committed: map[string]map[int32]int64{"chat": {0: 5}},
			want: window.NoFrontier},
		{name: "the slowest input with records left bounds it",
			reads: []read{{"chat", 99, 600}, {"viewer", 9, 120}},
			ends:  map[string]map[int32]int64{"chat": {0: 1000}, "viewer": {0: 100}},
			want:  at(120)},
		{name: "an input read to its end holds nothing back",
			reads: []read{{"chat", 99, 600}, {"viewer", 99, 120}},
			ends:  map[string]map[int32]int64{"chat": {0: 1000}, "viewer": {0: 100}},
			want:  at(600)},
		{name: "an input with records left but none read yet holds everything",
			reads: []read{{"chat", 99, 600}},
			ends:  map[string]map[int32]int64{"chat": {0: 1000}, "viewer": {0: 100}},
			want:  time.Time{}},
		{name: "committed before a restart counts as read",
			reads:     []read{{"chat", 99, 600}},
			ends:      map[string]map[int32]int64{"chat": {0: 1000}, "viewer": {0: 100}},
			committed: map[string]map[int32]int64{"viewer": {0: 100}},
			want:      at(600)},
		{name: "records past the last end offsets hold it at their event time until the next offsets",
			reads: []read{{"chat", 99, 600}, {"viewer", 99, 600}},
			ends:  map[string]map[int32]int64{"chat": {0: 100}, "viewer": {0: 100}},
			after: []read{{"viewer", 100, 3600}, {"viewer", 150, 3700}},
			want:  at(3600)},
		{name: "records read past the next offsets too keep the cap",
			reads: []read{{"chat", 99, 600}, {"viewer", 99, 600}},
			ends:  map[string]map[int32]int64{"chat": {0: 100}, "viewer": {0: 100}},
			after: []read{{"viewer", 150, 3700}},
			ends2: map[string]map[int32]int64{"chat": {0: 100}, "viewer": {0: 120}},
			want:  at(3700)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFrontiers([]string{"chat", "viewer"})
			for _, r := range tc.reads {
				f.observe(0, r.topic, r.offset, at(r.secs))
			}
			if tc.ends != nil {
				f.setOffsets(tc.ends, tc.committed)
				f.setOffsets(tc.ends, tc.committed) // a quiet spell: the ends did not move
			}
			for _, r := range tc.after {
				f.observe(0, r.topic, r.offset, at(r.secs))
			}
			if tc.ends2 != nil {
				f.setOffsets(tc.ends2, tc.committed)
			}
			if got := f.frontier(0); !got.Equal(tc.want) {
				t.Fatalf("frontier = %s, want %s", got, tc.want)
			}
		})
	}
}

// TestFrontierForgetsReadsOnRebalance: after a rebalance the partition is read again from its
// committed offset; what an earlier session read must not hold the frontier up there.
func TestFrontierForgetsReadsOnRebalance(t *testing.T) {
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	f := newFrontiers([]string{"chat", "viewer"})
	f.setOffsets(map[string]map[int32]int64{"chat": {0: 1000}, "viewer": {0: 1000}}, map[string]map[int32]int64{"chat": {0: 100}, "viewer": {0: 100}})
	f.observe(0, "chat", 899, at(900))
	f.observe(0, "viewer", 899, at(900))
	if got := f.frontier(0); !got.Equal(at(900)) {
		t.Fatalf("before the rebalance: %s", got)
	}
	f.reset()
	f.observe(0, "viewer", 120, at(120)) // read again from the committed offset
	if got := f.frontier(0); !got.IsZero() {
		t.Fatalf("after the rebalance, with chat not read again yet: frontier %s, want nothing closed", got)
	}
	f.observe(0, "chat", 110, at(110))
	if got := f.frontier(0); !got.Equal(at(110)) {
		t.Fatalf("after the rebalance: frontier %s, want %s", got, at(110))
	}
}

func TestCaughtUp(t *testing.T) {
	type offsets = map[string]map[int32]int64
	for _, tc := range []struct {
		name                  string
		prev, ends, committed offsets
		want                  map[int32]bool
	}{
		{"first check: no earlier ends", nil, offsets{"a": {0: 5, 1: 0}}, offsets{"a": {0: 5}}, map[int32]bool{0: false, 1: false}},
		{"committed past the earlier end", offsets{"a": {0: 5}}, offsets{"a": {0: 9}}, offsets{"a": {0: 5}}, map[int32]bool{0: true}},
		{"behind the earlier end", offsets{"a": {0: 5}}, offsets{"a": {0: 9}}, offsets{"a": {0: 4}}, map[int32]bool{0: false}},
		{"an empty topic does not hold a partition back", offsets{"a": {0: 5}, "b": {0: 0}}, offsets{"a": {0: 5}, "b": {0: 0}}, offsets{"a": {0: 5}}, map[int32]bool{0: true}},
		{"one lagging topic is enough", offsets{"a": {0: 5}, "b": {0: 7}}, offsets{"a": {0: 5}, "b": {0: 7}}, offsets{"a": {0: 5}, "b": {0: 6}}, map[int32]bool{0: false}},
		{"nothing committed yet", offsets{"a": {0: 5}}, offsets{"a": {0: 5}}, nil, map[int32]bool{0: false}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := CaughtUp(tc.prev, tc.ends, tc.committed)
			if len(got) != len(tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
			for p, w := range tc.want {
				if got[p] != w {
					t.Fatalf("partition %d: got %v, want %v (all: %v)", p, got[p], w, got)
				}
			}
		})
	}
}

func TestReroutedEventsHoldTheFrontierUntilApplied(t *testing.T) {
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	f := newFrontiers([]string{"chat"})
	f.setOffsets(map[string]map[int32]int64{"chat": {0: 0, 1: 0}}, nil) // nothing left to read
	f.setOffsets(map[string]map[int32]int64{"chat": {0: 0, 1: 0}}, nil)
	if got := f.frontier(0); !got.Equal(window.NoFrontier) {
		t.Fatalf("frontier %s, want none", got)
	}
	first, second := routedKey{"chat", 1, 7}, routedKey{"chat", 1, 8}
	f.routed(first, at(30))
	f.routed(second, at(40))
	if got := f.frontier(0); !got.Equal(at(30)) {
		t.Fatalf("with events in flight: frontier %s, want the earliest, %s", got, at(30))
	}
	f.arrived(first)
	if got := f.frontier(0); !got.Equal(at(40)) {
		t.Fatalf("after the first arrived: frontier %s, want %s", got, at(40))
	}
	f.arrived(second)
	f.arrived(second) // twice is harmless
	if got := f.frontier(0); !got.Equal(window.NoFrontier) {
		t.Fatalf("after all arrived: frontier %s, want none", got)
	}
}

// TestAnInputStillBeingWrittenIsNotDrained: during a fast burst an input may be read up to the
// end offsets just listed while its next records are on their way, and those may be older in
// event time than what another input already delivered. It holds the frontier at its last
// read until its end stops moving.
func TestAnInputStillBeingWrittenIsNotDrained(t *testing.T) {
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	f := newFrontiers([]string{"chat", "viewer"})
	f.setOffsets(map[string]map[int32]int64{"chat": {0: 100}, "viewer": {0: 100}}, nil)
	f.setOffsets(map[string]map[int32]int64{"chat": {0: 150}, "viewer": {0: 150}}, nil) // a burst lands
	f.observe(0, "chat", 149, at(600))                                                  // read to its end
	f.observe(0, "viewer", 120, at(700))                                                // ahead in event time, records left
	if got := f.frontier(0); !got.Equal(at(600)) {
		t.Fatalf("while chat's end moves: frontier %s, want chat's %s", got, at(600))
	}
	f.setOffsets(map[string]map[int32]int64{"chat": {0: 150}, "viewer": {0: 150}}, nil) // quiet again
	if got := f.frontier(0); !got.Equal(at(700)) {
		t.Fatalf("once chat is quiet and read: frontier %s, want viewer's %s", got, at(700))
	}
}
