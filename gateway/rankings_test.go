package gateway

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/telemetra/telemetra/proto/telemetra/v1"
)

// loadedView is a live view that has loaded and holds nothing: the index is fed directly.
type loadedView struct{}

func (loadedView) Get(string) (*pb.ChannelState, error) { return nil, nil }
func (loadedView) Channels() ([]string, error)          { return nil, nil }
func (loadedView) Recovered() bool                      { return true }

// stalledStream is a subscriber that takes the first update and then does not read until
// released: its Send blocks, as gRPC's does when the client's window is full.
type stalledStream struct {
	grpc.ServerStream // only Context and Send are used
	ctx               context.Context
	release           chan struct{}
	got               chan *pb.RankingUpdate
}

func (s *stalledStream) Context() context.Context { return s.ctx }

func (s *stalledStream) Send(u *pb.RankingUpdate) error {
	s.got <- u
	if u.GetSequence() == 1 {
		<-s.release
	}
	return nil
}

func liveViewers(ch string, minute int, viewers int64) *pb.WindowAggregate {
	at := time.Date(2026, 12, 1, 10, minute, 0, 0, time.UTC)
	return &pb.WindowAggregate{Channel: ch, WindowStart: timestamppb.New(at), WindowEnd: timestamppb.New(at.Add(time.Minute)),
		Status: &pb.StreamStatus{Live: true, Viewers: viewers, LastEventTime: timestamppb.New(at)}}
}

// TestASlowRankingSubscriberGetsTheNewestTopOnly: while a subscriber does not read, the top
// changes fifty times; when it reads again, its next update is the newest top, with the
// changes since the update it had, and the rankings in between were replaced, never queued.
// Shutdown ends the subscription with UNAVAILABLE.
func TestASlowRankingSubscriberGetsTheNewestTopOnly(t *testing.T) {
	const interval = 5 * time.Millisecond
	reg := prometheus.NewRegistry()
	r := newLiveRankings(interval, time.Now, reg)
	s := &service{live: loadedView{}, rankings: r, now: time.Now, logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	index := r.Index()
	index.ApplyWindow(liveViewers("alpha", 0, 100))
	index.ApplyWindow(liveViewers("bravo", 0, 50))

	stream := &stalledStream{ctx: context.Background(), release: make(chan struct{}), got: make(chan *pb.RankingUpdate, 100)}
	done := make(chan error, 1)
	go func() {
		done <- s.SubscribeRankings(&pb.SubscribeRankingsRequest{Metric: pb.RankingMetric_RANKING_METRIC_VIEWERS, Top: 2}, stream)
	}()
	first := <-stream.got
	if first.GetSequence() != 1 || len(first.GetRankings()) != 2 || first.GetRankings()[0].GetChannel() != "alpha" || len(first.GetChanges()) != 0 {
		t.Fatalf("first update: %v", first)
	}
	for k := 1; k <= 50; k++ { // bravo climbs past alpha
		index.ApplyWindow(liveViewers("bravo", k, int64(50+2*k)))
		time.Sleep(interval)
	}
	deadline := time.Now().Add(10 * time.Second)
	for top := r.Snapshot(pb.RankingMetric_RANKING_METRIC_VIEWERS).Ranked(""); top[0].Channel != "bravo" || top[0].Value != 150; top = r.Snapshot(pb.RankingMetric_RANKING_METRIC_VIEWERS).Ranked("") {
		if time.Now().After(deadline) {
			t.Fatalf("the ranking never showed bravo at 150: %v", top)
		}
		time.Sleep(interval)
	}
	time.Sleep(10 * interval) // the watcher compares the newest snapshot and replaces the slot's top
	close(stream.release)
	second := <-stream.got
	if second.GetSequence() != 2 || second.GetRankings()[0].GetChannel() != "bravo" || second.GetRankings()[0].GetValue() != 150 ||
		second.GetRankings()[1].GetRank() != 2 {
		t.Fatalf("the update after the stall: %v; want the newest top, bravo at 150 first", second)
	}
	changes := second.GetChanges()
	if len(changes) != 2 || changes[0].GetChannel() != "alpha" || changes[0].GetPreviousRank() != 1 || changes[0].GetRank() != 2 ||
		changes[1].GetChannel() != "bravo" || changes[1].GetPreviousRank() != 2 || changes[1].GetRank() != 1 {
		t.Fatalf("changes %v; want alpha 1→2 and bravo 2→1", changes)
	}
	r.close()
	if err := <-done; status.Code(err) != codes.Unavailable {
		t.Fatalf("at shutdown: %v; want UNAVAILABLE", err)
	}
	if replaced := testutil.ToFloat64(r.replaced); replaced < 1 {
		t.Fatalf("%v rankings replaced; the stalled subscriber's slot should have replaced some", replaced)
	}
	if n := testutil.ToFloat64(r.subscribers); n != 0 {
		t.Fatalf("%v subscribers after the end", n)
	}
}

// TestRankingRanges: whole hours, at most MaxRankingRange, and always valid Timestamps.
func TestRankingRanges(t *testing.T) {
	now := time.Date(2026, 12, 1, 10, 30, 0, 0, time.UTC)
	ts := func(y int, mo time.Month, d, h, mi int) *timestamppb.Timestamp {
		return timestamppb.New(time.Date(y, mo, d, h, mi, 0, 0, time.UTC))
	}
	for _, tc := range []struct {
		name       string
		start, end *timestamppb.Timestamp
		want       string
	}{
		{"unset: the hour before now, widened", nil, nil, "2026-12-01T09:00:00Z 2026-12-01T11:00:00Z"},
		{"whole hours", ts(2026, 12, 1, 8, 15), ts(2026, 12, 1, 9, 45), "2026-12-01T08:00:00Z 2026-12-01T10:00:00Z"},
		{"longer than 7 days: its last 7", ts(2026, 1, 1, 0, 0), ts(2026, 12, 1, 0, 0), "2026-11-24T00:00:00Z 2026-12-01T00:00:00Z"},
		{"at the end of the Timestamp range", nil, ts(9999, 12, 31, 23, 59), "9999-12-31T22:00:00Z 9999-12-31T23:00:00Z"},
		{"at its start", nil, ts(1, 1, 1, 0, 0), "0001-01-01T00:00:00Z 0001-01-01T00:00:00Z"},
		{"start after end: nothing", ts(2026, 12, 1, 9, 0), ts(2026, 12, 1, 8, 0), "2026-12-01T09:00:00Z 2026-12-01T09:00:00Z"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, e, err := rankingRange(tc.start, tc.end, now)
			if got := s.Format(time.RFC3339) + " " + e.Format(time.RFC3339); err != nil || got != tc.want {
				t.Fatalf("got %s, %v; want %s", got, err, tc.want)
			}
			if timestamppb.New(s).CheckValid() != nil || timestamppb.New(e).CheckValid() != nil {
				t.Fatal("not valid Timestamps")
			}
		})
	}
}
