package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/telemetra/telemetra/gateway/hub"
	"github.com/telemetra/telemetra/gateway/pipelinehealth"
	"github.com/telemetra/telemetra/gateway/store"
	pb "github.com/telemetra/telemetra/proto/telemetra/v1"
)

// Page sizes: default and maximum per method (AIP-158).
const (
	channelsPage, channelsPageMax  = 50, 1000
	metricsPage, metricsPageMax    = 500, 5000
	momentsPage, momentsPageMax    = 50, 1000
	sessionsPage, sessionsPageMax  = 50, 1000
	topEmotesDefault, topEmotesMax = 10, 100
)

// service implements TelemetraService over the live view, the PostgreSQL projection and the hub.
type service struct {
	pb.UnimplementedTelemetraServiceServer
	live   LiveStates
	store  *store.Store
	alerts *store.Alerts // nil without a database (alerts.go)
	hub    *hub.Hub
	health *pipelinehealth.Sampler
	now    func() time.Time
	logger *slog.Logger
	// subscriptionMaxAge ends subscriptions this old (0: never), so clients spread out again
	// over the gateways, as gRPC's MaxConnectionAge does for connections.
	subscriptionMaxAge time.Duration

	// rankings are the live cross-channel rankings (rankings.go).
	rankings *liveRankings
}

var errMaxAge = errors.New("subscription reached its maximum age")

func clearPaging(m proto.Message) {
	fields := m.ProtoReflect().Descriptor().Fields()
	for _, name := range []string{"page_token", "page_size"} {
		if fd := fields.ByName(protoreflect.Name(name)); fd != nil {
			m.ProtoReflect().Clear(fd)
		}
	}
}

func (s *service) liveReady() error {
	if !s.live.Recovered() {
		return status.Error(codes.Unavailable, "the live view is still loading the processor's state; retry shortly")
	}
	return nil
}

func (s *service) ListChannels(ctx context.Context, req *pb.ListChannelsRequest) (*pb.ListChannelsResponse, error) {
	size, err := pageSize(req.GetPageSize(), channelsPage, channelsPageMax)
	if err != nil {
		return nil, err
	}
	filter, err := liveFilter(req.GetLiveFilter())
	if err != nil {
		return nil, err
	}
	fp := fingerprint(req, clearPaging)
	after, err := decodePageToken[string](req.GetPageToken(), fp)
	if err != nil {
		return nil, err
	}
	if err := s.liveReady(); err != nil {
		return nil, err
	}
	names, err := s.live.Channels()
	if err != nil {
		return nil, status.Errorf(codes.Unavailable, "read the live view: %v", err)
	}
	if after != nil {
		// the names are sorted: the page starts after the token's channel
		from, found := slices.BinarySearch(names, *after)
		if found {
			from++
		}
		names = names[from:]
	}
	// decode in order only until the page is full and one more channel shows there is a next
	resp := &pb.ListChannelsResponse{}
	now := s.now()
	last := "" // the page's last channel
	for _, name := range names {
		if err := ctx.Err(); err != nil {
			return nil, status.FromContextError(err).Err()
		}
		st, err := s.live.Get(name)
		if err != nil {
			return nil, status.Errorf(codes.Unavailable, "read the live view: %v", err)
		}
		if st == nil {
			continue // gone since the listing
		}
		live := st.GetStatus().GetLive()
		if (filter == pb.LiveFilter_LIVE_FILTER_LIVE && !live) || (filter == pb.LiveFilter_LIVE_FILTER_OFFLINE && live) {
			continue
		}
		if len(resp.Channels) == size {
			resp.NextPageToken = encodePageToken(fp, last)
			break
		}
		resp.Channels = append(resp.Channels, channelFromState(st, now, topEmotesDefault))
		last = name
	}
	return resp, nil
}

func (s *service) GetChannel(_ context.Context, req *pb.GetChannelRequest) (*pb.Channel, error) {
	channel, err := parseChannelName("name", req.GetName())
	if err != nil {
		return nil, err
	}
	if err := s.liveReady(); err != nil {
		return nil, err
	}
	st, err := s.live.Get(channel)
	if err != nil {
		return nil, status.Errorf(codes.Unavailable, "read the live view: %v", err)
	}
	if st == nil {
		return nil, status.Errorf(codes.NotFound, "channel %q not found: no event of it was processed", channel)
	}
	return channelFromState(st, s.now(), topEmotesDefault), nil
}

func (s *service) ListWindowMetrics(ctx context.Context, req *pb.ListWindowMetricsRequest) (*pb.ListWindowMetricsResponse, error) {
	channel, err := parseChannelName("parent", req.GetParent())
	if err != nil {
		return nil, err
	}
	start, end, err := timeRange(req.GetStartTime(), req.GetEndTime(), s.now())
	if err != nil {
		return nil, err
	}
	res, err := resolution(req.GetResolution())
	if err != nil {
		return nil, err
	}
	size, err := pageSize(req.GetPageSize(), metricsPage, metricsPageMax)
	if err != nil {
		return nil, err
	}
	fp := fingerprint(req, clearPaging)
	after, err := decodePageToken[time.Time](req.GetPageToken(), fp)
	if err != nil {
		return nil, err
	}
	q := store.MetricsQuery{Channel: channel, Start: start, End: end, Resolution: res,
		IncludeProvisional: req.GetIncludeProvisional(), Limit: size + 1}
	if after != nil {
		q.After = *after
	}
	if err := s.historyOn(); err != nil {
		return nil, err
	}
	rows, err := s.store.WindowMetrics(ctx, q)
	if err != nil {
		return nil, s.storeError(ctx, "list window metrics", err)
	}
	if len(rows) == 0 && after == nil {
		if err := s.mustExist(ctx, channel); err != nil {
			return nil, err
		}
	}
	resp := &pb.ListWindowMetricsResponse{Metrics: rows}
	if len(rows) > size {
		resp.Metrics = rows[:size]
		resp.NextPageToken = encodePageToken(fp, rows[size-1].GetWindowStart().AsTime())
	}
	return resp, nil
}

// momentCursor is the page cursor of ListMoments.
type momentCursor struct {
	At      time.Time `json:"at"`
	Channel string    `json:"ch"`
	ID      string    `json:"id"`
}

func (s *service) ListMoments(ctx context.Context, req *pb.ListMomentsRequest) (*pb.ListMomentsResponse, error) {
	channel, err := parseChannelOrAll("parent", req.GetParent())
	if err != nil {
		return nil, err
	}
	start, end, err := timeRange(req.GetStartTime(), req.GetEndTime(), s.now())
	if err != nil {
		return nil, err
	}
	kinds, err := momentKinds("kinds", req.GetKinds())
	if err != nil {
		return nil, err
	}
	size, err := pageSize(req.GetPageSize(), momentsPage, momentsPageMax)
	if err != nil {
		return nil, err
	}
	fp := fingerprint(req, clearPaging)
	cursor, err := decodePageToken[momentCursor](req.GetPageToken(), fp)
	if err != nil {
		return nil, err
	}
	q := store.MomentsQuery{Channel: channel, Start: start, End: end, Kinds: kinds, Limit: size + 1}
	if cursor != nil {
		q.Cursor = &store.MomentCursor{At: cursor.At, Channel: cursor.Channel, ID: cursor.ID}
	}
	if err := s.historyOn(); err != nil {
		return nil, err
	}
	rows, err := s.store.Moments(ctx, q)
	if err != nil {
		return nil, s.storeError(ctx, "list moments", err)
	}
	if len(rows) == 0 && cursor == nil && channel != "" {
		if err := s.mustExist(ctx, channel); err != nil {
			return nil, err
		}
	}
	resp := &pb.ListMomentsResponse{Moments: rows}
	if len(rows) > size {
		last := rows[size-1]
		resp.Moments = rows[:size]
		resp.NextPageToken = encodePageToken(fp, momentCursor{At: last.GetAt().AsTime(), Channel: last.GetChannel(), ID: last.GetId()})
	}
	return resp, nil
}

// sessionCursor is the page cursor of ListStreamSessions.
type sessionCursor struct {
	StartedAt time.Time `json:"at"`
	SessionID string    `json:"id"`
}

func (s *service) ListStreamSessions(ctx context.Context, req *pb.ListStreamSessionsRequest) (*pb.ListStreamSessionsResponse, error) {
	channel, err := parseChannelName("parent", req.GetParent())
	if err != nil {
		return nil, err
	}
	now := s.now()
	start, end, err := timeRange(req.GetStartTime(), req.GetEndTime(), now)
	if err != nil {
		return nil, err
	}
	size, err := pageSize(req.GetPageSize(), sessionsPage, sessionsPageMax)
	if err != nil {
		return nil, err
	}
	fp := fingerprint(req, clearPaging)
	cursor, err := decodePageToken[sessionCursor](req.GetPageToken(), fp)
	if err != nil {
		return nil, err
	}
	q := store.SessionsQuery{Channel: channel, Start: start, End: end, Limit: size + 1, Now: now}
	if cursor != nil {
		q.Cursor = &store.SessionCursor{StartedAt: cursor.StartedAt, SessionID: cursor.SessionID}
	}
	if err := s.historyOn(); err != nil {
		return nil, err
	}
	rows, err := s.store.Sessions(ctx, q)
	if err != nil {
		return nil, s.storeError(ctx, "list stream sessions", err)
	}
	if len(rows) == 0 && cursor == nil {
		if err := s.mustExist(ctx, channel); err != nil {
			return nil, err
		}
	}
	resp := &pb.ListStreamSessionsResponse{Sessions: rows}
	if len(rows) > size {
		last := rows[size-1]
		resp.Sessions = rows[:size]
		resp.NextPageToken = encodePageToken(fp, sessionCursor{StartedAt: last.GetStartedAt().AsTime(), SessionID: sessionID(last)})
	}
	return resp, nil
}

// sessionID is the last segment of a session's resource name.
func sessionID(s *pb.StreamSession) string {
	name := s.GetName()
	for k := len(name) - 1; k >= 0; k-- {
		if name[k] == '/' {
			return name[k+1:]
		}
	}
	return name
}

func (s *service) SummarizeChannel(ctx context.Context, req *pb.SummarizeChannelRequest) (*pb.SummarizeChannelResponse, error) {
	channel, err := parseChannelName("name", req.GetName())
	if err != nil {
		return nil, err
	}
	start, end, err := timeRange(req.GetStartTime(), req.GetEndTime(), s.now())
	if err != nil {
		return nil, err
	}
	limit, err := pageSize(req.GetTopEmotesLimit(), topEmotesDefault, topEmotesMax)
	if err != nil {
		return nil, invalid("top_emotes_limit", "%d is negative", req.GetTopEmotesLimit())
	}
	if err := s.mustExist(ctx, channel); err != nil {
		return nil, err
	}
	if err := s.historyOn(); err != nil {
		return nil, err
	}
	resp, err := s.store.Summarize(ctx, store.SummaryQuery{Channel: channel, Start: start, End: end, TopEmotes: limit})
	if err != nil {
		return nil, s.storeError(ctx, "summarize channel", err)
	}
	return resp, nil
}

func (s *service) SubscribeChannelEvents(req *pb.SubscribeChannelEventsRequest, stream pb.TelemetraService_SubscribeChannelEventsServer) error {
	ctx := stream.Context()
	if len(req.GetChannels()) > MaxSubscribedChannels {
		return invalid("channels", "%d channels; at most %d per subscription", len(req.GetChannels()), MaxSubscribedChannels)
	}
	filter := hub.Filter{}
	if len(req.GetChannels()) > 0 {
		filter.Channels = map[string]struct{}{}
	}
	for k, c := range req.GetChannels() {
		channel, err := parseSubscribedChannel(fmt.Sprintf("channels[%d]", k), c)
		if err != nil {
			return err
		}
		filter.Channels[channel] = struct{}{}
	}
	if len(req.GetTypes()) > 0 {
		filter.Kinds = map[hub.Kind]struct{}{}
	}
	for k, t := range req.GetTypes() {
		kind, err := hub.KindFromEventType(t)
		if err != nil {
			return invalid(fmt.Sprintf("types[%d]", k), "unknown or unspecified event type %d", t)
		}
		filter.Kinds[kind] = struct{}{}
	}
	var snapshot []hub.Event
	if req.GetIncludeSnapshot() {
		if err := s.liveReady(); err != nil {
			return err
		}
		snapshot = s.snapshot(filter)
	}
	sub, err := s.hub.Subscribe(filter, snapshot)
	if err != nil {
		return status.Errorf(codes.ResourceExhausted, "cannot subscribe: %v", err)
	}
	defer sub.Close()
	if s.subscriptionMaxAge > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeoutCause(ctx, s.subscriptionMaxAge, errMaxAge)
		defer cancel()
	}
	for {
		ev, err := sub.Next(ctx)
		switch {
		case errors.Is(err, hub.ErrSlowConsumer):
			return status.Errorf(codes.ResourceExhausted, "subscriber too slow, dropped: %v; reconnect (with include_snapshot) and read faster", err)
		case errors.Is(err, hub.ErrHubClosed):
			return status.Error(codes.Unavailable, "server shutting down; reconnect")
		case errors.Is(context.Cause(ctx), errMaxAge):
			return status.Errorf(codes.Unavailable, "the subscription reached the server's maximum age of %s; resubscribe", s.subscriptionMaxAge)
		case ctx.Err() != nil:
			return nil
		case err != nil:
			return status.Errorf(codes.Internal, "subscription: %v", err)
		}
		if err := stream.Send(ev); err != nil {
			return err
		}
	}
}

// snapshot is the current status and open window of each followed channel, from the view.
func (s *service) snapshot(f hub.Filter) []hub.Event {
	var out []hub.Event
	add := func(st *pb.ChannelState) {
		ch := st.GetChannel()
		if st.GetStatus() != nil {
			out = append(out, statusEvent(ch, st.GetStatus(), pb.StatusChangeReason_STATUS_CHANGE_REASON_UNSPECIFIED))
		}
		if agg := st.GetOpenWindows(); len(agg) > 0 {
			if ev := channelFromState(st, s.now(), topEmotesDefault).GetCurrentWindow(); ev != nil {
				out = append(out, hub.Event{Channel: ch, Kind: hub.KindProvisional,
					Payload: &pb.ChannelEvent{Channel: ch, Event: &pb.ChannelEvent_Window{Window: ev}}})
			}
		}
	}
	if len(f.Channels) > 0 {
		names := make([]string, 0, len(f.Channels))
		for c := range f.Channels {
			names = append(names, c)
		}
		sort.Strings(names)
		for _, c := range names {
			if st, err := s.live.Get(c); err == nil && st != nil {
				add(st)
			}
		}
		return out
	}
	all, _ := s.live.Channels()
	for _, c := range all {
		if st, err := s.live.Get(c); err == nil && st != nil {
			add(st)
		}
	}
	return out
}

// historyOn answers UNIMPLEMENTED when the gateway runs without a database: retrying will not
// help, and the message says what would.
func (s *service) historyOn() error {
	if s.store == nil {
		return status.Error(codes.Unimplemented, "history is off: no database configured (start the gateway with --database-url)")
	}
	return nil
}

// mustExist answers NotFound for a channel neither the projection nor the live view knows.
func (s *service) mustExist(ctx context.Context, channel string) error {
	if st, err := s.live.Get(channel); err == nil && st != nil {
		return nil
	}
	if err := s.historyOn(); err != nil {
		return err
	}
	ok, err := s.store.ChannelExists(ctx, channel)
	if err != nil {
		return s.storeError(ctx, "look up channel", err)
	}
	if !ok {
		return status.Errorf(codes.NotFound, "channel %q not found", channel)
	}
	return nil
}

// storeError maps a PostgreSQL failure to a status, logging the details the client does not get.
func (s *service) storeError(ctx context.Context, what string, err error) error {
	if ctx.Err() != nil {
		return status.FromContextError(ctx.Err()).Err()
	}
	s.logger.Error("history query failed", "what", what, "err", err)
	return status.Errorf(codes.Unavailable, "%s: the history database is unavailable", what)
}
