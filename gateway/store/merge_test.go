package store

import (
	"fmt"
	"testing"

	pb "github.com/telemetra/telemetra/proto/telemetra/v1"
)

func emoteList(emotes []*pb.EmoteCount) string {
	out := ""
	for _, e := range emotes {
		out += fmt.Sprintf("%s=%d ", e.GetEmote(), e.GetCount())
	}
	return out
}

func TestMergeTopEmotes(t *testing.T) {
	twelve := make([]emoteCount, 12)
	for k := range twelve {
		twelve[k] = emoteCount{fmt.Sprintf("e%02d", k), int64(k + 1)}
	}
	for _, c := range []struct {
		name  string
		lists [][]emoteCount
		n     int
		want  string
	}{
		{"no windows", nil, 10, ""},
		{"one window kept as is", [][]emoteCount{{{"Kappa", 3}, {"LUL", 1}}}, 10, "Kappa=3 LUL=1 "},
		{"counts add across windows", [][]emoteCount{{{"Kappa", 3}, {"LUL", 1}}, {{"LUL", 4}}}, 10, "LUL=5 Kappa=3 "},
		{"ties by name", [][]emoteCount{{{"b", 2}, {"c", 2}}, {{"a", 2}}}, 10, "a=2 b=2 c=2 "},
		{"cut to n", [][]emoteCount{twelve}, 3, "e11=12 e10=11 e09=10 "},
		{"n of 0", [][]emoteCount{twelve}, 0, ""},
		{"empty window lists", [][]emoteCount{{}, {}}, 10, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := emoteList(mergeTopEmotes(c.lists, c.n)); got != c.want {
				t.Errorf("got %q, want %q", got, c.want)
			}
		})
	}
}

func TestMergeUniqueChatters(t *testing.T) {
	for _, c := range []struct {
		name         string
		sketches     [][]byte
		largest, sum int64
		want         int64
		tolerance    float64
	}{
		{"nothing", nil, 0, 0, 0, 0},
		{"one window is its exact count", [][]byte{sketchOf(t, 0, 37, chatterHash)}, 37, 37, 37, 0},
		{"overlap: 100 and 100, 50 shared", [][]byte{sketchOf(t, 0, 100, chatterHash), sketchOf(t, 50, 150, chatterHash)}, 100, 200, 150, 0.02},
		{"disjoint windows", [][]byte{sketchOf(t, 0, 300, chatterHash), sketchOf(t, 300, 600, chatterHash)}, 300, 600, 600, 0.02},
		{"same chatters in every window", [][]byte{sketchOf(t, 0, 80, chatterHash), sketchOf(t, 0, 80, chatterHash), sketchOf(t, 0, 80, chatterHash)}, 80, 240, 80, 0.02},
		{"windows without sketches: the largest is a lower bound", nil, 5, 9, 5, 0},
		{"never above the sum of the windows", [][]byte{sketchOf(t, 0, 50, chatterHash), sketchOf(t, 50, 100, chatterHash)}, 40, 80, 80, 0},
		{"never below the largest window", [][]byte{sketchOf(t, 0, 10, chatterHash)}, 50, 60, 50, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := mergeUniqueChatters(c.sketches, c.largest, c.sum)
			if err != nil {
				t.Fatal(err)
			}
			if !within(got, c.want, c.tolerance) {
				t.Errorf("got %d, want %d (±%.0f%%)", got, c.want, 100*c.tolerance)
			}
		})
	}
	if _, err := mergeUniqueChatters([][]byte{sketchOf(t, 0, 10, chatterHash), {1, 2, 3}}, 10, 11); err == nil {
		t.Error("a corrupt sketch was merged")
	}
}

func TestViewerStats(t *testing.T) {
	for _, c := range []struct {
		name string
		sums viewerSums
		want *pb.ViewerStats
	}{
		{"no samples: averages are 0", viewerSums{}, &pb.ViewerStats{}},
		{"weighted averages", viewerSums{samples: 3, viewerSum: 400, min: 90, max: 200, last: 150, chatterSum: 30, chattersMax: 12, chattersLast: 8},
			&pb.ViewerStats{Samples: 3, ViewerSum: 400, Avg: 400.0 / 3, Min: 90, Max: 200, Last: 150,
				ChatterSum: 30, ChattersAvg: 10, ChattersMax: 12, ChattersLast: 8}},
	} {
		t.Run(c.name, func(t *testing.T) { assertProto(t, "viewer stats", c.sums.stats(), c.want) })
	}
}

func TestChatMetricsRatios(t *testing.T) {
	for _, c := range []struct {
		name                  string
		sums                  chatSums
		minutes               float64
		perChatter, perMinute float64
		sentimentAverage      float64
	}{
		{"nothing", chatSums{}, 5, 0, 0, 0},
		{"zero-length range", chatSums{messages: 10}, 0, 0, 0, 0},
		{"messages over chatters and minutes", chatSums{messages: 30, scoreSum: 3, scored: 12,
			chatters: chatterParts{sketches: [][]byte{sketchOf(t, 0, 6, chatterHash)}, largestWindow: 6, sumOfWindows: 6}},
			5, 5, 6, 0.25},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := c.sums.metrics(c.minutes, defaultTopEmotes)
			if err != nil {
				t.Fatal(err)
			}
			if got.GetMessagesPerChatter() != c.perChatter || got.GetMessagesPerMinute() != c.perMinute ||
				got.GetSentiment().GetAverage() != c.sentimentAverage {
				t.Errorf("per chatter %v, per minute %v, sentiment %v; want %v, %v, %v", got.GetMessagesPerChatter(),
					got.GetMessagesPerMinute(), got.GetSentiment().GetAverage(), c.perChatter, c.perMinute, c.sentimentAverage)
			}
		})
	}
}

func TestSortMomentKindCounts(t *testing.T) {
	got := sortMomentKindCounts([]*pb.MomentKindCount{
		{Kind: pb.MomentKind_MOMENT_KIND_RAID, Count: 1},
		{Kind: pb.MomentKind_MOMENT_KIND_HYPE, Count: 0},
		{Kind: pb.MomentKind_MOMENT_KIND_CHAT_SPIKE, Count: 4},
	})
	want := []*pb.MomentKindCount{{Kind: pb.MomentKind_MOMENT_KIND_CHAT_SPIKE, Count: 4}, {Kind: pb.MomentKind_MOMENT_KIND_RAID, Count: 1}}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for k := range want {
		assertProto(t, "count", got[k], want[k])
	}
}

func TestEveryResolutionHasABucketing(t *testing.T) {
	for value, name := range pb.Resolution_name {
		if r := pb.Resolution(value); r != pb.Resolution_RESOLUTION_UNSPECIFIED {
			if _, ok := bucketings[r]; !ok {
				t.Errorf("%s has no bucketing", name)
			}
		}
	}
}
