package projector

import (
	"time"

	pb "github.com/telemetra/telemetra/proto/telemetra/v1"
)

// A batch holds many versions of the same windows: the processor emits a provisional update
// of an open window about once a second. The upserts keep only the newest anyway (their WHERE
// clauses), so a batch writes each window and each channel once, with the record its upserts
// would have ended with.

type windowKey struct {
	channel string
	start   time.Time
}

// splitCorrections separates late-event corrections (WindowAggregate.late_correction) from the
// window records, keeping per window only the correction with the largest count: the upsert
// keeps the largest anyway.
func splitCorrections(aggs []*pb.WindowAggregate) (windows, corrections []*pb.WindowAggregate) {
	at := map[windowKey]int{}
	for _, a := range aggs {
		if !a.GetLateCorrection() {
			windows = append(windows, a)
			continue
		}
		k := windowKey{a.GetChannel(), a.GetWindowStart().AsTime()}
		if i, seen := at[k]; seen {
			if a.GetLateEvents() > corrections[i].GetLateEvents() {
				corrections[i] = a
			}
			continue
		}
		at[k] = len(corrections)
		corrections = append(corrections, a)
	}
	return windows, corrections
}

// newestWindows returns, per (channel, window start), the aggregate the window upsert keeps
// when they are applied in order: a final one over a provisional one, then the higher version;
// on a tie the earlier. The result is in order of first appearance.
func newestWindows(aggs []*pb.WindowAggregate) []*pb.WindowAggregate {
	at := make(map[windowKey]int, len(aggs))
	out := make([]*pb.WindowAggregate, 0, len(aggs))
	for _, a := range aggs {
		k := windowKey{a.GetChannel(), a.GetWindowStart().AsTime()}
		i, seen := at[k]
		if !seen {
			at[k] = len(out)
			out = append(out, a)
			continue
		}
		if supersedes(a, out[i]) {
			out[i] = a
		}
	}
	return out
}

// supersedes mirrors windowUpsert's WHERE clause.
func supersedes(a, old *pb.WindowAggregate) bool {
	if a.GetFinal() != old.GetFinal() {
		return a.GetFinal()
	}
	return a.GetVersion() > old.GetVersion()
}

// newestStatuses returns, per channel, the aggregate whose status the channel upsert keeps
// when they are applied in order: the latest event time, and on a tie the later record.
func newestStatuses(aggs []*pb.WindowAggregate) []*pb.WindowAggregate {
	at := map[string]int{}
	var out []*pb.WindowAggregate
	for _, a := range aggs {
		i, seen := at[a.GetChannel()]
		if !seen {
			at[a.GetChannel()] = len(out)
			out = append(out, a)
			continue
		}
		if !lastSeen(a).Before(lastSeen(out[i])) {
			out[i] = a
		}
	}
	return out
}

func lastSeen(a *pb.WindowAggregate) time.Time {
	if t := a.GetLastEventTime(); t != nil {
		return t.AsTime()
	}
	return time.Time{}
}

// distinctMoments keeps the last of the moments with the same (channel, id): moments are
// immutable, so repeats (a re-emit after a crash) carry the same content, and one upsert
// statement may not write a row twice.
func distinctMoments(ms []*pb.Moment) []*pb.Moment {
	type key struct{ channel, id string }
	at := make(map[key]int, len(ms))
	out := make([]*pb.Moment, 0, len(ms))
	for _, m := range ms {
		k := key{m.GetChannel(), m.GetId()}
		if i, seen := at[k]; seen {
			out[i] = m
			continue
		}
		at[k] = len(out)
		out = append(out, m)
	}
	return out
}
