package gateway

import (
	"context"
	"fmt"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	pb "github.com/telemetra/telemetra/proto/telemetra/v1"
)

// countingLive holds channels c000.. whose odd ones are live, and counts the states it decodes.
type countingLive struct {
	names   []string
	decoded atomic.Int64
}

func newCountingLive(n int) *countingLive {
	l := &countingLive{}
	for k := range n {
		l.names = append(l.names, fmt.Sprintf("c%03d", k))
	}
	return l
}

func (l *countingLive) Get(channel string) (*pb.ChannelState, error) {
	k := slices.Index(l.names, channel)
	if k < 0 {
		return nil, nil
	}
	l.decoded.Add(1)
	return &pb.ChannelState{Channel: channel, Status: &pb.StreamStatus{Live: k%2 == 1}}, nil
}

func (l *countingLive) Channels() ([]string, error) { return slices.Clone(l.names), nil }
func (*countingLive) Recovered() bool               { return true }

// TestListChannelsDecodesOnlyWhatItServes: a page decodes the states of its own channels and
// of the one that shows there is a next page, not the whole view; the pages together list
// every channel the filter keeps, once each, in order.
func TestListChannelsDecodesOnlyWhatItServes(t *testing.T) {
	for _, tc := range []struct {
		filter pb.LiveFilter
		want   func(k int) bool
	}{
		{pb.LiveFilter_LIVE_FILTER_UNSPECIFIED, func(int) bool { return true }},
		{pb.LiveFilter_LIVE_FILTER_LIVE, func(k int) bool { return k%2 == 1 }},
		{pb.LiveFilter_LIVE_FILTER_OFFLINE, func(k int) bool { return k%2 == 0 }},
	} {
		t.Run(tc.filter.String(), func(t *testing.T) {
			live := newCountingLive(1000)
			svc := &service{live: live, now: time.Now}
			var want, got []string
			for k, name := range live.names {
				if tc.want(k) {
					want = append(want, "channels/"+name)
				}
			}
			token := ""
			for pages := 0; ; pages++ {
				before := live.decoded.Load()
				resp, err := svc.ListChannels(context.Background(), &pb.ListChannelsRequest{PageSize: 10, LiveFilter: tc.filter, PageToken: token})
				if err != nil {
					t.Fatal(err)
				}
				// a filter skips a channel of the other kind between two kept ones at most
				if decoded := live.decoded.Load() - before; decoded > 2*int64(len(resp.Channels))+2 {
					t.Fatalf("page %d: %d states decoded for %d channels", pages, decoded, len(resp.Channels))
				}
				for _, c := range resp.Channels {
					got = append(got, c.GetName())
				}
				if token = resp.NextPageToken; token == "" {
					break
				}
			}
			if !slices.Equal(got, want) {
				t.Fatalf("listed %d channels (%v ...), want %d (%v ...)", len(got), got[:min(3, len(got))], len(want), want[:3])
			}
		})
	}
}
