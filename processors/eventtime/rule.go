// Package eventtime is Telemetra's event-time rule, the one place that decides which events are
// late, which are not believable, and when a window may close. It is pure: it knows nothing of
// Kafka or goka, and every input is a value a test can script.
//
// The rule judges every event against its record's arrival, not against the order in which the
// processor happened to read its four input topics:
//
//   - An input's arrival clock is the largest Kafka timestamp (the producer's CreateTime, or the
//     broker's LogAppendTime) of any record read from that input partition so far. A record's
//     arrival is that clock right after it: a function of its input log's prefix alone.
//   - An event is late when its arrival is after its window's end plus the allowed lateness.
//     That depends on the event's own record and the ones before it on the same partition of the
//     same topic, so every read order, a crash, a rebalance and a replay judge it alike.
//   - A partition's frontier is the least arrival clock among its inputs. A window may close
//     (its final record goes out) once the frontier is past its end plus the allowed lateness:
//     every input has then delivered a record that arrived later, so whatever comes next on any
//     input is late for it. Closing earlier could not change a final's content, since lateness
//     is decided per record; it only decides when the final can be trusted to be complete.
//   - An input with nothing to say holds its partition's frontier back. Markers (see Markers)
//     are records written into such an input to move its clock: they are part of the log, so
//     every reader, live or replaying, sees them at the same place.
package eventtime

import (
	"fmt"
	"math"
	"time"
)

// Rule is the event-time rule's configuration.
type Rule struct {
	// Size of the tumbling windows; windows are aligned to UTC (Size divides a day).
	Size time.Duration
	// AllowedLateness is how long after its window's end an event may arrive and still count.
	AllowedLateness time.Duration
	// MaxFutureSkew: an event timestamped further than this after its arrival is refused (one
	// wrong clock would otherwise open windows far in the future).
	MaxFutureSkew time.Duration
	// MaxPastSkew: an event timestamped further than this before its arrival is refused as not
	// believable (a clock that was never set, 1970-01-01), rather than counted late.
	MaxPastSkew time.Duration
}

// Verdict is what the rule says of one event.
type Verdict int

const (
	// OnTime events are applied to their window.
	OnTime Verdict = iota
	// Late events arrived after their window's end plus the allowed lateness: counted, routed to
	// the late topic, not applied.
	Late
	// TooFarAhead events carry a timestamp more than MaxFutureSkew after their arrival.
	TooFarAhead
	// TooFarBehind events carry a timestamp more than MaxPastSkew before their arrival.
	TooFarBehind
)

// Judgement is the rule's verdict on one event, with its window.
type Judgement struct {
	Verdict     Verdict
	WindowStart time.Time
	WindowEnd   time.Time
	// Detail says why, for late and refused events (a dead-letter reason's message).
	Detail string
}

// Judge decides an event with the given event time whose record arrived at arrival.
func (r Rule) Judge(eventTime, arrival time.Time) Judgement {
	eventTime = eventTime.UTC()
	start := eventTime.Truncate(r.Size)
	j := Judgement{WindowStart: start, WindowEnd: start.Add(r.Size)}
	switch {
	case eventTime.After(arrival.Add(r.MaxFutureSkew)):
		j.Verdict = TooFarAhead
		j.Detail = fmt.Sprintf("timestamp %s is %s after the record's arrival %s (limit %s)",
			eventTime.Format(time.RFC3339Nano), Gap(arrival, eventTime), arrival.UTC().Format(time.RFC3339Nano), r.MaxFutureSkew)
	case eventTime.Before(arrival.Add(-r.MaxPastSkew)):
		j.Verdict = TooFarBehind
		j.Detail = fmt.Sprintf("timestamp %s is %s before the record's arrival %s (limit %s)",
			eventTime.Format(time.RFC3339Nano), Gap(eventTime, arrival), arrival.UTC().Format(time.RFC3339Nano), r.MaxPastSkew)
	case arrival.After(r.closesAt(j.WindowEnd)):
		j.Verdict = Late
		j.Detail = fmt.Sprintf("arrived %s, %s after its window [%s, %s) stopped taking events at %s",
			arrival.UTC().Format(time.RFC3339Nano), Gap(r.closesAt(j.WindowEnd), arrival),
			j.WindowStart.Format(time.RFC3339), j.WindowEnd.Format(time.RFC3339), r.closesAt(j.WindowEnd).Format(time.RFC3339))
	}
	return j
}

// closesAt is the last arrival at which an event of a window ending at end still counts.
func (r Rule) closesAt(end time.Time) time.Time { return end.Add(r.AllowedLateness) }

// CloseAt is the arrival the frontier must pass before a window ending at end may close.
func (r Rule) CloseAt(end time.Time) time.Time { return r.closesAt(end) }

// Closes reports that a window ending at end may close once its partition's frontier is at
// frontier: every input arrived past the last moment the window took events.
func (r Rule) Closes(end, frontier time.Time) bool {
	return !frontier.IsZero() && frontier.After(r.closesAt(end))
}

// Watermark is the event time before which every window is final at the given frontier, or the
// zero time when the frontier is unknown.
func (r Rule) Watermark(frontier time.Time) time.Time {
	if frontier.IsZero() {
		return time.Time{}
	}
	return frontier.Add(-r.AllowedLateness)
}

// Gap is b − a written for people, also when it is longer than a time.Duration can hold
// (about 292 years): a year-9999 timestamp is "7973y ahead", not an overflowed duration.
func Gap(a, b time.Time) string {
	d := b.Sub(a)
	if d != math.MaxInt64 && d != math.MinInt64 {
		switch {
		case d < time.Second:
			return d.String()
		case d < 72*time.Hour:
			return d.Round(time.Second).String()
		}
	}
	// beyond three days (or a Duration), in days and years of 365.25 days
	days := (float64(b.Unix()) - float64(a.Unix())) / 86400
	if days < 3*365.25 {
		return fmt.Sprintf("%.1fd", days)
	}
	return fmt.Sprintf("%.0fy", days/365.25)
}
