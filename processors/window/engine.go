package window

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/telemetra/telemetra/processors/eventtime"
	"github.com/telemetra/telemetra/processors/table"
	pb "github.com/telemetra/telemetra/proto/telemetra/v1"
	"github.com/telemetra/telemetra/schemas"
)

// ErrFutureTimestamp marks an event timestamped too far after its record's arrival to trust.
var ErrFutureTimestamp = errors.New("timestamp too far in the future")

// ErrPastTimestamp marks an event timestamped too far before its record's arrival to believe.
var ErrPastTimestamp = errors.New("timestamp too far in the past")

// Engine applies events and closes windows on a channel's state, by the event-time rule of
// package eventtime. It is safe for concurrent use: all state lives in the ChannelState passed
// in.
type Engine struct {
	cfg  Config
	rule eventtime.Rule
}

// New returns an engine; zero config fields take their defaults.
func New(cfg Config) (*Engine, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("window config: %w", err)
	}
	return &Engine{cfg: cfg, rule: cfg.Rule()}, nil
}

// Config returns the effective configuration.
func (e *Engine) Config() Config { return e.cfg }

// Result is what one event or tick produced.
type Result struct {
	// Aggregates to emit to telemetra.aggregates, in order: provisional and final records, and
	// late-event corrections.
	Aggregates []*pb.WindowAggregate
	// Moments to emit to telemetra.moments.
	Moments []*pb.Moment
	// Late is set when the event arrived after its window stopped taking events: it was counted
	// but not applied, and goes to telemetra.late.
	Late bool
	// LateDetail says by how much, for the late topic's headers.
	LateDetail string
	// StatusChanged is set when the channel's live status, title, category or raid changed.
	StatusChanged bool
}

// Apply adds one decoded event to the channel's state. arrival is its record's arrival on its
// input (eventtime.Clock.Observe), frontier its partition's frontier after it, and now the
// processing time (only for provisional emits and emitted_at). Apply returns
// ErrFutureTimestamp or ErrPastTimestamp (wrapped, with details) for events it refuses; the
// state is then unchanged.
func (e *Engine) Apply(st *pb.ChannelState, ev schemas.Event, arrival, frontier, now time.Time) (Result, error) {
	var res Result
	j := e.rule.Judge(ev.EventTime(), arrival)
	switch j.Verdict {
	case eventtime.TooFarAhead:
		return res, fmt.Errorf("%w: %s", ErrFutureTimestamp, j.Detail)
	case eventtime.TooFarBehind:
		return res, fmt.Errorf("%w: %s", ErrPastTimestamp, j.Detail)
	}
	if st.Channel == "" {
		st.Channel = ev.EventChannel()
	}
	e.closeUpTo(st, frontier, now, &res)
	if j.Verdict == eventtime.Late {
		e.late(st, j, frontier, now, &res)
		return res, nil
	}

	t := ev.EventTime().UTC()
	st.EventsTotal++
	st.LastEventProcessingTime = timestamppb.New(now)
	if st.MaxEventTime == nil || t.After(st.MaxEventTime.AsTime()) {
		st.MaxEventTime = timestamppb.New(t)
	}

	w := e.openWindow(st, j.WindowStart, j.WindowEnd)
	switch ev := ev.(type) {
	case schemas.ChatMessage:
		addChat(st, w, ev)
	case schemas.ViewerCount:
		addViewers(w, ev)
		change := viewerStatusEvent(ev, t)
		table.ApplyStatusEvent(currentStatus(st), change)
		recordStatusEvent(w, change)
	case schemas.Transaction:
		addTransaction(w.Aggregate, ev)
	case schemas.StreamMeta:
		res.StatusChanged = true
		change := metaStatusEvent(ev, t)
		e.applyMeta(st, ev, change, now, &res)
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
	e.emitProvisional(st, now, &res)
	return res, nil
}

// late counts a late event on its own window: on the open window while it is not final, so its
// final record carries the count, or else in a correction record that raises the final's.
// A window whose close point the frontier has not passed is not final yet, even if it holds no
// event so far: it is opened for the count, and an event that is still on time may follow.
func (e *Engine) late(st *pb.ChannelState, j eventtime.Judgement, frontier, now time.Time, res *Result) {
	st.LateTotal++
	res.Late, res.LateDetail = true, j.Detail
	if !e.rule.Closes(j.WindowEnd, frontier) {
		w := e.openWindow(st, j.WindowStart, j.WindowEnd)
		w.Aggregate.LateEvents++
		w.Dirty = true
		e.emitProvisional(st, now, res)
		return
	}
	count := closedLate(st, j.WindowStart)
	count.LateEvents++
	st.NextVersion++
	res.Aggregates = append(res.Aggregates, lateCorrection(st, j.WindowStart, j.WindowEnd, count.LateEvents, now))
}

// lateCorrection is the record that raises a closed window's late count to lateEvents; it
// takes the version the caller assigned last.
func lateCorrection(st *pb.ChannelState, start, end time.Time, lateEvents int64, now time.Time) *pb.WindowAggregate {
	return &pb.WindowAggregate{
		Channel: st.Channel, WindowStart: timestamppb.New(start), WindowEnd: timestamppb.New(end),
		Final: true, LateCorrection: true, LateEvents: lateEvents, Version: st.NextVersion, EmittedAt: timestamppb.New(now),
	}
}

// maxClosedLate bounds the closed windows whose late counts a state keeps.
const maxClosedLate = 256

// closedLate returns the late count kept for a closed window, adding one (at 0) if none is.
// A correction carries the window's whole count, not one more: a consumer keeps the largest,
// so a correction redelivered after a crash, whatever its version, counts nothing twice.
func closedLate(st *pb.ChannelState, start time.Time) *pb.WindowLateCount {
	unix := start.Unix()
	k, found := slices.BinarySearchFunc(st.ClosedLate, unix, func(c *pb.WindowLateCount, u int64) int {
		return cmp.Compare(c.WindowStartUnix, u)
	})
	if found {
		return st.ClosedLate[k]
	}
	c := &pb.WindowLateCount{WindowStartUnix: unix}
	st.ClosedLate = slices.Insert(st.ClosedLate, k, c)
	if over := len(st.ClosedLate) - maxClosedLate; over > 0 {
		st.ClosedLate = slices.Delete(st.ClosedLate, 0, over)
	}
	return c
}

// pruneClosedLate forgets the late counts of windows no event can be late for any more: their
// events are refused as too old at the frontier.
func (e *Engine) pruneClosedLate(st *pb.ChannelState, frontier time.Time) {
	if frontier.IsZero() || len(st.ClosedLate) == 0 {
		return
	}
	oldest := frontier.Add(-e.cfg.MaxPastSkew - e.cfg.Size).Unix()
	n := 0
	for n < len(st.ClosedLate) && st.ClosedLate[n].WindowStartUnix < oldest {
		n++
	}
	st.ClosedLate = slices.Delete(st.ClosedLate, 0, n)
}

// Close finalizes the channel's open windows that the frontier has passed (see
// eventtime.Rule.Closes), oldest first.
func (e *Engine) Close(st *pb.ChannelState, frontier, now time.Time) Result {
	var res Result
	e.closeUpTo(st, frontier, now, &res)
	return res
}

// Tick emits a provisional update of the channel's changed open windows if one is due at
// processing time now. Ticks never close windows: closing goes by arrival time only.
func (e *Engine) Tick(st *pb.ChannelState, now time.Time) Result {
	var res Result
	e.emitProvisional(st, now, &res)
	return res
}

// NextDue is the processing time at which Tick has something to do for this state, and false
// when it has nothing to do until the state changes.
func (e *Engine) NextDue(st *pb.ChannelState) (time.Time, bool) {
	for _, w := range st.OpenWindows {
		if w.Dirty && w.Aggregate.Events > 0 {
			return lastProvisional(st).Add(e.cfg.ProvisionalInterval), true
		}
	}
	return time.Time{}, false
}

// NextClose is the close point of the channel's earliest open window: the arrival its
// partition's frontier must pass for it to close. False when no window is open.
func (e *Engine) NextClose(st *pb.ChannelState) (time.Time, bool) {
	if len(st.OpenWindows) == 0 {
		return time.Time{}, false
	}
	return e.rule.CloseAt(st.OpenWindows[0].Aggregate.WindowEnd.AsTime()), true
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

// closeUpTo finalizes the open windows that the frontier has passed.
func (e *Engine) closeUpTo(st *pb.ChannelState, frontier, now time.Time, res *Result) {
	if wm := e.rule.Watermark(frontier); !wm.IsZero() && (st.Watermark == nil || wm.After(st.Watermark.AsTime())) {
		st.Watermark = timestamppb.New(wm)
	}
	n := 0
	for n < len(st.OpenWindows) && e.rule.Closes(st.OpenWindows[n].Aggregate.WindowEnd.AsTime(), frontier) {
		n++
	}
	e.close(st, n, now, res)
	e.pruneClosedLate(st, frontier)
}

// close finalizes the first n open windows, oldest first: final emit, moments, baselines.
func (e *Engine) close(st *pb.ChannelState, n int, now time.Time, res *Result) {
	if n == 0 {
		return
	}
	status := table.StatusBefore(st)
	for _, w := range st.OpenWindows[:n] {
		if w.Aggregate.Events == 0 {
			// only late events were counted here: no window of the channel's activity, for
			// the baselines or the snapshot. It closes as a correction, the very record a late
			// event after the close would have made, so the result does not depend on which
			// came first.
			count := closedLate(st, w.Aggregate.WindowStart.AsTime())
			count.LateEvents = w.Aggregate.LateEvents
			st.NextVersion++
			res.Aggregates = append(res.Aggregates, lateCorrection(st, w.Aggregate.WindowStart.AsTime(), w.Aggregate.WindowEnd.AsTime(), count.LateEvents, now))
			continue
		}
		status = table.AdvanceStatus(status, w)
		agg := e.finish(st, w, status, true, now)
		res.Aggregates = append(res.Aggregates, agg)
		if agg.LateEvents > 0 {
			closedLate(st, agg.WindowStart.AsTime()).LateEvents = agg.LateEvents
		}
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
	status := table.StatusBefore(st)
	for _, w := range st.OpenWindows {
		status = table.AdvanceStatus(status, w)
		if !w.Dirty || w.Aggregate.Events == 0 {
			continue // unchanged, or only late events so far: those close as a correction
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
	table.Derive(agg, w, e.cfg.TopEmotes)
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
