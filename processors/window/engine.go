package window

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/telemetra/telemetra/proto/telemetra/v1"
	"github.com/telemetra/telemetra/schemas"
)

// ErrFutureTimestamp marks an event whose time is too far ahead of processing time to trust.
var ErrFutureTimestamp = errors.New("timestamp too far in the future")

// Engine applies events and ticks to a channel's state. It is safe for concurrent use: all
// state lives in the ChannelState passed in.
type Engine struct {
	cfg Config
}

// New returns an engine; zero config fields take their defaults.
func New(cfg Config) (*Engine, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("window config: %w", err)
	}
	return &Engine{cfg: cfg}, nil
}

// Config returns the effective configuration.
func (e *Engine) Config() Config { return e.cfg }

// Result is what one event or tick produced.
type Result struct {
	// Aggregates to emit to telemetra.aggregates, in order: provisional and final records.
	Aggregates []*pb.WindowAggregate
	// Moments to emit to telemetra.moments.
	Moments []*pb.Moment
	// Late is set when the event belongs to a window that is already final: it was counted but
	// not applied, and goes to telemetra.late.
	Late bool
	// LateBy is how far the event's window end lies behind the point of closing.
	LateBy time.Duration
	// StatusChanged is set when the channel's live status, title, category or raid changed.
	StatusChanged bool
}

// NoFrontier is the frontier of an input that holds nothing back (a single ordered input).
var NoFrontier = time.Unix(1<<62, 0)

// TooFarAhead reports an event time further ahead of processing time than MaxFutureSkew:
// Apply refuses such events, and nothing else may trust their time either.
func (e *Engine) TooFarAhead(eventTime, now time.Time) bool {
	return eventTime.Sub(now) > e.cfg.MaxFutureSkew
}

// Apply adds one decoded event to the channel's state. now is processing time. frontier is the
// event time up to which every input that feeds this channel has been read (see the package
// doc of aggregator); windows close only when both the channel's watermark and the frontier
// minus the allowed lateness have passed their end. Apply returns ErrFutureTimestamp (wrapped,
// with details) for events it refuses; the state is then unchanged.
func (e *Engine) Apply(st *pb.ChannelState, ev schemas.Event, now, frontier time.Time) (Result, error) {
	var res Result
	t := ev.EventTime().UTC()
	if e.TooFarAhead(t, now) {
		ahead := t.Sub(now)
		return res, fmt.Errorf("%w: %s is %s ahead of processing time (limit %s)",
			ErrFutureTimestamp, t.Format(time.RFC3339Nano), ahead.Round(time.Second), e.cfg.MaxFutureSkew)
	}
	if st.Channel == "" {
		st.Channel = ev.EventChannel()
	}
	start := t.Truncate(e.cfg.Size)
	end := start.Add(e.cfg.Size)
	if closedUpTo := e.closedUpTo(st, frontier); !end.After(closedUpTo) {
		st.LateTotal++
		if n := len(st.OpenWindows); n > 0 {
			st.OpenWindows[n-1].Aggregate.LateEvents++
		}
		res.Late, res.LateBy = true, closedUpTo.Sub(end)
		return res, nil
	}

	st.EventsTotal++
	st.LastEventProcessingTime = timestamppb.New(now)
	if st.MaxEventTime == nil || t.After(st.MaxEventTime.AsTime()) {
		st.MaxEventTime = timestamppb.New(t)
		st.Watermark = timestamppb.New(t.Add(-e.cfg.AllowedLateness))
	}

	w := e.openWindow(st, start, end)
	streamEnded := false
	switch ev := ev.(type) {
	case schemas.ChatMessage:
		addChat(w, ev)
	case schemas.ViewerCount:
		addViewers(w, ev)
		change := viewerStatusEvent(ev, t)
		applyStatusEvent(currentStatus(st), change)
		recordStatusEvent(w, change)
	case schemas.Transaction:
		addTransaction(w.Aggregate, ev)
	case schemas.StreamMeta:
		res.StatusChanged = true
		change := metaStatusEvent(ev, t)
		streamEnded = e.applyMeta(st, ev, change, now, &res)
		recordStatusEvent(w, change)
	default:
		return res, fmt.Errorf("unknown event type %T", ev)
	}
	agg := w.Aggregate
	agg.Events++
	if agg.FirstEventTime == nil || t.Before(agg.FirstEventTime.AsTime()) {
		agg.FirstEventTime = timestamppb.New(t)
	}
	if agg.LastEventTime == nil || t.After(agg.LastEventTime.AsTime()) {
		agg.LastEventTime = timestamppb.New(t)
	}
	currentStatus(st)
	w.Dirty = true

	if streamEnded {
		st.CloseAfter = timestamppb.New(now.Add(e.cfg.AllowedLateness))
	}
	e.closeUpTo(st, e.closePoint(st, frontier), now, &res)
	e.emitProvisional(st, now, &res)
	return res, nil
}

// Tick looks at the channel at processing time now: it closes every open window if the
// channel has been idle for the idle timeout or its stream ended at least the allowed lateness
// ago, and mayCloseIdle is set; or else it emits a
// provisional update if one is due. The caller sets mayCloseIdle only when it knows no input for
// the channel is still waiting to be processed (see aggregator's sweeps): idleness is measured in
// processing time, and a processor catching up on a backlog must not close windows whose events
// are still in the backlog.
func (e *Engine) Tick(st *pb.ChannelState, now, frontier time.Time, mayCloseIdle bool) Result {
	var res Result
	if len(st.OpenWindows) == 0 {
		return res
	}
	// the other inputs may have moved on since this channel's last event
	e.closeUpTo(st, e.closePoint(st, frontier), now, &res)
	if len(st.OpenWindows) == 0 {
		return res
	}
	last := st.GetLastEventProcessingTime()
	idle := last == nil || now.Sub(last.AsTime()) >= e.cfg.IdleTimeout
	ended := st.CloseAfter != nil && !now.Before(st.CloseAfter.AsTime())
	if mayCloseIdle && (idle || ended) {
		// The channel's own watermark stands still, so the partition's inputs bound what may
		// close: a window whose end plus the lateness they have not all been read past can
		// still get events (a burst just landed, one topic is read before another).
		e.closeUpTo(st, frontier.Add(-e.cfg.AllowedLateness), now, &res)
		if len(st.OpenWindows) == 0 {
			st.CloseAfter = nil
		}
		return res
	}
	e.emitProvisional(st, now, &res)
	return res
}

// NextDue is the processing time at which Tick has something to do for this state, and false
// when it never will (no open windows).
func (e *Engine) NextDue(st *pb.ChannelState) (time.Time, bool) {
	if len(st.OpenWindows) == 0 {
		return time.Time{}, false
	}
	due := st.GetLastEventProcessingTime().AsTime().Add(e.cfg.IdleTimeout)
	if st.CloseAfter != nil {
		due = minTime(due, st.CloseAfter.AsTime())
	}
	for _, w := range st.OpenWindows {
		if w.Dirty {
			due = minTime(due, lastProvisional(st).Add(e.cfg.ProvisionalInterval))
			break
		}
	}
	return due, true
}

// closePoint is the effective watermark: the channel's watermark, held back by the frontier of
// the inputs (minus the allowed lateness) so an input that is behind the others does not see
// its events turn late.
func (e *Engine) closePoint(st *pb.ChannelState, frontier time.Time) time.Time {
	if st.Watermark == nil {
		return time.Time{}
	}
	return minTime(st.Watermark.AsTime(), frontier.Add(-e.cfg.AllowedLateness))
}

// closedUpTo is the instant up to which windows are final: the end of the last closed window,
// or the effective watermark at the time if that is later (no window was open there).
func (e *Engine) closedUpTo(st *pb.ChannelState, frontier time.Time) time.Time {
	var t time.Time
	if st.LastFinalWindowEnd != nil {
		t = st.LastFinalWindowEnd.AsTime()
	}
	return maxTime(t, e.closePoint(st, frontier))
}

// openWindow finds or creates the open window starting at start, keeping them sorted.
func (e *Engine) openWindow(st *pb.ChannelState, start, end time.Time) *pb.OpenWindow {
	k, found := slices.BinarySearchFunc(st.OpenWindows, start, func(w *pb.OpenWindow, t time.Time) int {
		return w.Aggregate.WindowStart.AsTime().Compare(t)
	})
	if found {
		return st.OpenWindows[k]
	}
	w := &pb.OpenWindow{Aggregate: &pb.WindowAggregate{
		Channel: st.Channel, WindowStart: timestamppb.New(start), WindowEnd: timestamppb.New(end),
		Chat: &pb.ChatStats{Sentiment: &pb.SentimentStats{}}, Viewers: &pb.ViewerStats{},
		Transactions: newTransactionStats(),
	}}
	st.OpenWindows = slices.Insert(st.OpenWindows, k, w)
	return w
}

// closeUpTo finalizes the open windows whose end is at or before t.
func (e *Engine) closeUpTo(st *pb.ChannelState, t time.Time, now time.Time, res *Result) {
	n := 0
	for n < len(st.OpenWindows) && !st.OpenWindows[n].Aggregate.WindowEnd.AsTime().After(t) {
		n++
	}
	e.close(st, n, now, res)
}

// close finalizes the first n open windows, oldest first: final emit, moments, baselines.
func (e *Engine) close(st *pb.ChannelState, n int, now time.Time, res *Result) {
	if n == 0 {
		return
	}
	status := statusBefore(st)
	for _, w := range st.OpenWindows[:n] {
		status = advance(status, w)
		agg := e.finish(st, w, status, true, now)
		res.Aggregates = append(res.Aggregates, agg)
		res.Moments = append(res.Moments, e.detect(st, agg, now)...)
		// the state keeps the last window for snapshots, without the sketch (kilobytes that
		// would be rewritten with every event)
		last := proto.Clone(agg).(*pb.WindowAggregate)
		last.Chat.ChattersSketch = nil
		st.LastFinal = last
		st.LastFinalWindowEnd = agg.WindowEnd
	}
	st.OpenWindows = append(st.OpenWindows[:0], st.OpenWindows[n:]...)
}

// emitProvisional emits every changed open window if the channel's last provisional emit is at
// least ProvisionalInterval ago: dashboards stay live without a record per event.
func (e *Engine) emitProvisional(st *pb.ChannelState, now time.Time, res *Result) {
	if now.Sub(lastProvisional(st)) < e.cfg.ProvisionalInterval {
		return
	}
	status := statusBefore(st)
	for _, w := range st.OpenWindows {
		status = advance(status, w)
		if !w.Dirty {
			continue
		}
		res.Aggregates = append(res.Aggregates, e.finish(st, w, status, false, now))
		w.Dirty = false
		w.LastProvisionalEmit = timestamppb.New(now)
	}
}

// finish makes the record to emit for a window: a copy for a provisional update (the window
// goes on changing), the window's own aggregate for a final one (it leaves the state).
func (e *Engine) finish(st *pb.ChannelState, w *pb.OpenWindow, status *pb.StreamStatus, final bool, now time.Time) *pb.WindowAggregate {
	agg := w.Aggregate
	if !final {
		agg = proto.Clone(agg).(*pb.WindowAggregate)
	}
	agg.Status = status
	st.NextVersion++
	agg.Version = st.NextVersion
	w.EmittedVersion = agg.Version
	agg.Final = final
	agg.EmittedAt = timestamppb.New(now)
	derive(agg, w, e.cfg.TopEmotes)
	return agg
}

func lastProvisional(st *pb.ChannelState) time.Time {
	var last time.Time
	for _, w := range st.OpenWindows {
		if w.LastProvisionalEmit != nil {
			last = maxTime(last, w.LastProvisionalEmit.AsTime())
		}
	}
	return last
}

// currentStatus returns the channel's current status, to be changed in place: emitted records
// never point at it (a window's status is computed, see status.go).
func currentStatus(st *pb.ChannelState) *pb.StreamStatus {
	if st.Status == nil {
		st.Status = &pb.StreamStatus{}
	}
	return st.Status
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// Preview returns the newest open window of a state as a provisional record would show it now,
// without changing the state (for live reads of the group table), or nil if none is open.
func Preview(st *pb.ChannelState, topEmotes int) *pb.WindowAggregate {
	n := len(st.GetOpenWindows())
	if n == 0 {
		return nil
	}
	status := statusBefore(st)
	for _, w := range st.OpenWindows {
		status = advance(status, w)
	}
	w := st.OpenWindows[n-1]
	agg := proto.Clone(w.Aggregate).(*pb.WindowAggregate)
	agg.Status = status
	agg.Final = false
	agg.Version = max(w.EmittedVersion, agg.Version)
	derive(agg, w, topEmotes)
	return agg
}
