package projector

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/telemetra/telemetra/proto/telemetra/v1"
)

func TestNewestWindows(t *testing.T) {
	t0 := time.Date(2025, 10, 16, 10, 0, 0, 0, time.UTC)
	agg := func(channel string, minute int, version uint64, final bool) *pb.WindowAggregate {
		return &pb.WindowAggregate{Channel: channel, WindowStart: timestamppb.New(t0.Add(time.Duration(minute) * time.Minute)),
			Version: version, Final: final}
	}
	show := func(aggs []*pb.WindowAggregate) string {
		var s []string
		for _, a := range aggs {
			s = append(s, fmt.Sprintf("%s@%d v%d final=%v", a.Channel, a.WindowStart.AsTime().Minute(), a.Version, a.Final))
		}
		return strings.Join(s, "; ")
	}
	for _, tc := range []struct {
		name string
		in   []*pb.WindowAggregate
		want string
	}{
		{"one version each", []*pb.WindowAggregate{agg("a", 0, 1, false), agg("b", 0, 1, false), agg("a", 1, 2, false)},
			"a@0 v1 final=false; b@0 v1 final=false; a@1 v2 final=false"},
		{"the highest version wins", []*pb.WindowAggregate{agg("a", 0, 1, false), agg("a", 0, 3, false), agg("a", 0, 2, false)},
			"a@0 v3 final=false"},
		{"final beats a higher provisional version", []*pb.WindowAggregate{agg("a", 0, 4, true), agg("a", 0, 9, false)},
			"a@0 v4 final=true"},
		{"a tie keeps the earlier", []*pb.WindowAggregate{agg("a", 0, 2, true), agg("a", 0, 2, true)},
			"a@0 v2 final=true"},
		{"windows keep the order they first appeared in", []*pb.WindowAggregate{agg("a", 1, 1, false), agg("a", 0, 2, false), agg("a", 1, 3, true)},
			"a@1 v3 final=true; a@0 v2 final=false"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := show(newestWindows(tc.in)); got != tc.want {
				t.Fatalf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
}

func TestNewestStatuses(t *testing.T) {
	t0 := time.Date(2025, 10, 16, 10, 0, 0, 0, time.UTC)
	agg := func(channel string, lastSecond int, title string) *pb.WindowAggregate {
		return &pb.WindowAggregate{Channel: channel, LastEventTime: timestamppb.New(t0.Add(time.Duration(lastSecond) * time.Second)),
			Status: &pb.StreamStatus{Title: title}}
	}
	got := newestStatuses([]*pb.WindowAggregate{agg("a", 5, "a5"), agg("b", 1, "b1"), agg("a", 3, "a3"), agg("a", 5, "a5 again"), agg("b", 2, "b2")})
	var titles []string
	for _, a := range got {
		titles = append(titles, a.Status.Title)
	}
	// the upsert moves a channel forward on an equal event time too, so the later record wins
	if strings.Join(titles, ",") != "a5 again,b2" {
		t.Fatalf("got %v", titles)
	}
}
