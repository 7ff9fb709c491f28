package gateway

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/telemetra/telemetra/gateway/ranking"
	"github.com/telemetra/telemetra/gateway/store"
	pb "github.com/telemetra/telemetra/proto/telemetra/v1"
)

// Bounds of the ranking methods (AIP-158 sizes: 0 is the default, larger is lowered).
const (
	rankingPage, rankingPageMax     = 50, 1000
	trendingLimit, trendingLimitMax = 10, 100
	rankingTop, rankingTopMax       = 10, 100
	// TrendingNow is the period ListTrending's "now" covers: the last 10 minutes of final
	// windows, against the 10 minutes before.
	TrendingNow = 10 * time.Minute
	// MaxRankingRange bounds a range ranking's work (channel_hours rows: hours times channels):
	// a longer range is ranked over its last 7 days, and the response says so.
	MaxRankingRange = 7 * 24 * time.Hour
	// DefaultRankingInterval is how often a live ranking may be rebuilt and a ranking
	// subscription compares its top.
	DefaultRankingInterval = time.Second
)

// liveRankings are the gateway's live rankings: the index the feed fills, its snapshots, and
// what ends the ranking subscriptions when the gateway shuts down.
type liveRankings struct {
	*ranking.Rankings
	closing   chan struct{}
	closeOnce sync.Once
	// subscribers counts the open ranking subscriptions; replaced the rankings a slow
	// subscriber never got because a newer one replaced them.
	subscribers prometheus.Gauge
	replaced    prometheus.Counter
}

func newLiveRankings(interval time.Duration, now func() time.Time, reg prometheus.Registerer) *liveRankings {
	f := promauto.With(reg)
	return &liveRankings{
		Rankings: ranking.NewRankings(ranking.NewIndex(2*TrendingNow), interval, now, ranking.NewMetrics(reg)),
		closing:  make(chan struct{}),
		subscribers: f.NewGauge(prometheus.GaugeOpts{Name: "telemetra_gateway_ranking_subscribers",
			Help: "Open SubscribeRankings streams."}),
		replaced: f.NewCounter(prometheus.CounterOpts{Name: "telemetra_gateway_ranking_updates_replaced_total",
			Help: "Ranking updates replaced by a newer one before a slow subscriber took them."}),
	}
}

// close ends the ranking subscriptions (UNAVAILABLE) and waits for the rebuilds in flight.
func (l *liveRankings) close() {
	l.closeOnce.Do(func() { close(l.closing) })
	l.Wait()
}

// seedRankings gives the index every channel of the live view once it has loaded, so that
// channels quiet since the gateway started are ranked too; the feed brings what follows.
func seedRankings(ctx context.Context, live LiveStates, index *ranking.Index, logger *slog.Logger) {
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for !live.Recovered() {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
	names, err := live.Channels()
	if err != nil {
		logger.Warn("seed the rankings: list the live view", "err", err)
		return
	}
	for _, name := range names {
		if ctx.Err() != nil {
			return
		}
		if st, err := live.Get(name); err == nil && st != nil {
			index.Seed(st)
		}
	}
	logger.Info("rankings seeded from the live view", "channels", len(names))
}

func rankingMetric(m pb.RankingMetric) (pb.RankingMetric, error) {
	if _, known := pb.RankingMetric_name[int32(m)]; !known {
		return 0, invalid("metric", "unknown value %d", m)
	}
	if m == pb.RankingMetric_RANKING_METRIC_UNSPECIFIED {
		return 0, invalid("metric", "required, e.g. RANKING_METRIC_VIEWERS")
	}
	return m, nil
}

func rankingScope(s pb.RankingScope) (pb.RankingScope, error) {
	if _, known := pb.RankingScope_name[int32(s)]; !known {
		return 0, invalid("scope", "unknown value %d", s)
	}
	if s == pb.RankingScope_RANKING_SCOPE_UNSPECIFIED {
		return pb.RankingScope_RANKING_SCOPE_NOW, nil
	}
	return s, nil
}

// boundedSize is pageSize for a field with another name (limit, top).
func boundedSize(field string, n int32, def, maximum int) (int, error) {
	if n < 0 {
		return 0, invalid(field, "%d is negative", n)
	}
	size, _ := pageSize(n, def, maximum)
	return size, nil
}

// rankingRange resolves a range request to the whole UTC hours it is ranked over, at most
// MaxRankingRange (its last hours).
func rankingRange(start, end *timestamppb.Timestamp, now time.Time) (time.Time, time.Time, error) {
	s, e, err := timeRange(start, end, now)
	if err != nil {
		return time.Time{}, time.Time{}, err
	}
	if e.Sub(s) > MaxRankingRange {
		s = e.Add(-MaxRankingRange)
	}
	s, e = store.HourRange(s, e)
	// the hours answered must be valid Timestamps (years 1 to 9999) in the response
	first, last := time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(9999, 12, 31, 23, 0, 0, 0, time.UTC)
	return clampTime(s, first, last), clampTime(e, first, last), nil
}

func clampTime(t, lo, hi time.Time) time.Time {
	switch {
	case t.Before(lo):
		return lo
	case t.After(hi):
		return hi
	}
	return t
}

// rangeRankCursor is a range ranking's page cursor: the keyset, and the hours resolved by the
// first page (an unset end_time means now, which moves between pages).
type rangeRankCursor struct {
	store.RankCursor
	Start time.Time `json:"s"`
	End   time.Time `json:"e"`
}

func (s *service) RankChannels(ctx context.Context, req *pb.RankChannelsRequest) (*pb.RankChannelsResponse, error) {
	metric, err := rankingMetric(req.GetMetric())
	if err != nil {
		return nil, err
	}
	scope, err := rankingScope(req.GetScope())
	if err != nil {
		return nil, err
	}
	size, err := pageSize(req.GetPageSize(), rankingPage, rankingPageMax)
	if err != nil {
		return nil, err
	}
	fp := fingerprint(req, clearPaging)
	if scope == pb.RankingScope_RANKING_SCOPE_RANGE {
		return s.rankRange(ctx, req, metric, size, fp)
	}
	cursor, err := decodePageToken[ranking.Cursor](req.GetPageToken(), fp)
	if err != nil {
		return nil, err
	}
	if err := s.liveReady(); err != nil {
		return nil, err
	}
	snap := s.rankings.Snapshot(metric)
	page, first, next := snap.Page(req.GetCategory(), cursor, size)
	resp := &pb.RankChannelsResponse{TotalSize: int64(len(snap.Ranked(req.GetCategory()))), AsOf: timestamppb.New(snap.AsOf),
		Metric: metric, Scope: scope, Rankings: make([]*pb.ChannelRank, len(page))}
	for k := range page {
		resp.Rankings[k] = page[k].Rank(first + int64(k))
	}
	if next != nil {
		resp.NextPageToken = encodePageToken(fp, *next)
	}
	return resp, nil
}

func (s *service) rankRange(ctx context.Context, req *pb.RankChannelsRequest, metric pb.RankingMetric, size int, fp string) (*pb.RankChannelsResponse, error) {
	start, end, err := rankingRange(req.GetStartTime(), req.GetEndTime(), s.now())
	if err != nil {
		return nil, err
	}
	cursor, err := decodePageToken[rangeRankCursor](req.GetPageToken(), fp)
	if err != nil {
		return nil, err
	}
	q := store.RankQuery{Metric: metric, Start: start, End: end, Category: req.GetCategory(), Limit: size + 1}
	if cursor != nil {
		q.Start, q.End, q.After = cursor.Start, cursor.End, &cursor.RankCursor
	}
	if err := s.historyOn(); err != nil {
		return nil, err
	}
	rows, total, err := s.store.Rank(ctx, q)
	if err != nil {
		return nil, s.storeError(ctx, "rank channels", err)
	}
	resp := &pb.RankChannelsResponse{Rankings: rows, TotalSize: total, AsOf: timestamppb.New(q.End), Metric: metric,
		Scope: pb.RankingScope_RANKING_SCOPE_RANGE, StartTime: timestamppb.New(q.Start), EndTime: timestamppb.New(q.End)}
	if len(rows) > size {
		last := rows[size-1]
		resp.Rankings = rows[:size]
		resp.NextPageToken = encodePageToken(fp, rangeRankCursor{Start: q.Start, End: q.End,
			RankCursor: store.RankCursor{Value: last.GetValue(), Channel: last.GetChannel(), Offset: last.GetRank()}})
	}
	return resp, nil
}

func (s *service) ListTrending(ctx context.Context, req *pb.ListTrendingRequest) (*pb.ListTrendingResponse, error) {
	scope, err := rankingScope(req.GetScope())
	if err != nil {
		return nil, err
	}
	limit, err := boundedSize("limit", req.GetLimit(), trendingLimit, trendingLimitMax)
	if err != nil {
		return nil, err
	}
	if scope == pb.RankingScope_RANKING_SCOPE_NOW {
		if err := s.liveReady(); err != nil {
			return nil, err
		}
		t := s.rankings.Index().Trending(TrendingNow, limit)
		resp := &pb.ListTrendingResponse{Emotes: t.Emotes, Categories: t.Categories}
		if !t.End.IsZero() {
			resp.StartTime, resp.EndTime = timestamppb.New(t.Start), timestamppb.New(t.End)
		}
		return resp, nil
	}
	start, end, err := rankingRange(req.GetStartTime(), req.GetEndTime(), s.now())
	if err != nil {
		return nil, err
	}
	if err := s.historyOn(); err != nil {
		return nil, err
	}
	emotes, categories, err := s.store.Trending(ctx, store.TrendingQuery{Start: start, End: end, Limit: limit})
	if err != nil {
		return nil, s.storeError(ctx, "list trending", err)
	}
	return &pb.ListTrendingResponse{StartTime: timestamppb.New(start), EndTime: timestamppb.New(end), Emotes: emotes, Categories: categories}, nil
}

// rankedTop is a subscription's top at one moment.
type rankedTop struct {
	top  ranking.Top
	asOf time.Time
}

func (s *service) SubscribeRankings(req *pb.SubscribeRankingsRequest, stream pb.TelemetraService_SubscribeRankingsServer) error {
	metric, err := rankingMetric(req.GetMetric())
	if err != nil {
		return err
	}
	top, err := boundedSize("top", req.GetTop(), rankingTop, rankingTopMax)
	if err != nil {
		return err
	}
	if err := s.liveReady(); err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(stream.Context())
	defer cancel()
	if s.subscriptionMaxAge > 0 {
		var stop context.CancelFunc
		ctx, stop = context.WithTimeoutCause(ctx, s.subscriptionMaxAge, errMaxAge)
		defer stop()
	}
	r := s.rankings
	r.subscribers.Inc()
	defer r.subscribers.Dec()
	// The watcher puts each new top in a latest-value slot and the sender takes the newest:
	// a subscriber slower than the rankings gets the newest top, never a queue of old ones,
	// and the watcher never waits for it.
	slot := ranking.NewSlot[rankedTop]()
	var watching sync.WaitGroup
	watching.Add(1)
	go func() {
		defer watching.Done()
		s.watchTop(ctx, metric, req.GetCategory(), top, slot)
	}()
	defer func() {
		cancel()
		watching.Wait()
		r.replaced.Add(float64(slot.Replaced()))
	}()
	var sent ranking.Top
	var seq uint64
	for {
		select {
		case <-r.closing:
			return status.Error(codes.Unavailable, "server shutting down; reconnect")
		case <-ctx.Done():
			if context.Cause(ctx) == errMaxAge {
				return status.Errorf(codes.Unavailable, "the subscription reached the server's maximum age of %s; resubscribe", s.subscriptionMaxAge)
			}
			return nil
		case <-slot.Ready():
		}
		next, ok := slot.Take()
		if !ok {
			continue
		}
		seq++
		update := &pb.RankingUpdate{Sequence: seq, AsOf: timestamppb.New(next.asOf), Rankings: make([]*pb.ChannelRank, len(next.top))}
		for k := range next.top {
			update.Rankings[k] = next.top[k].Rank(int64(k) + 1)
		}
		if seq > 1 {
			update.Changes = ranking.Changes(sent, next.top)
		}
		if err := stream.Send(update); err != nil {
			return err
		}
		sent = next.top
	}
}

// watchTop puts the top of metric's ranking in slot at once and then whenever it changes,
// comparing once an interval, until ctx ends.
func (s *service) watchTop(ctx context.Context, metric pb.RankingMetric, category string, n int, slot *ranking.Slot[rankedTop]) {
	t := time.NewTicker(s.rankings.Interval())
	defer t.Stop()
	var last ranking.Top
	for first := true; ; first = false {
		snap := s.rankings.Snapshot(metric)
		if top := snap.Top(category, n); first || !top.Equal(last) {
			slot.Put(rankedTop{top: top, asOf: snap.AsOf})
			last = top
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// rankingStreamPath is SubscribeRankings' REST route, an NDJSON stream like subscribePath.
const rankingStreamPath = "/v1/rankings:subscribe"
