package window

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/telemetra/telemetra/proto/telemetra/v1"
)

// Stats of a baseline: what a new value is compared with.
type Stats struct {
	N      int
	Mean   float64
	StdDev float64 // sample standard deviation
}

// BaselineStats computes the mean and sample standard deviation of a baseline's values.
func BaselineStats(values []float64) Stats {
	n := len(values)
	if n == 0 {
		return Stats{}
	}
	var sum float64
	for _, v := range values {
		sum += v
	}
	mean := sum / float64(n)
	if n == 1 {
		return Stats{N: 1, Mean: mean}
	}
	var sq float64
	for _, v := range values {
		sq += (v - mean) * (v - mean)
	}
	return Stats{N: n, Mean: mean, StdDev: math.Sqrt(sq / float64(n-1))}
}

// ZScore is how many deviations x lies from the baseline mean. The deviation is floored so a
// perfectly flat baseline does not turn noise into a spike: counts use the Poisson noise
// sqrt(mean) (at least 1); levels such as viewers use 1% of the mean (at least 1).
func ZScore(x float64, s Stats, counts bool) float64 {
	floor := math.Max(1, 0.01*math.Abs(s.Mean))
	if counts {
		floor = math.Max(1, math.Sqrt(math.Abs(s.Mean)))
	}
	return (x - s.Mean) / math.Max(s.StdDev, floor)
}

// push appends v to the baseline ring, dropping the oldest value beyond capacity.
func push(b *pb.Baseline, v float64, capacity int) {
	b.Capacity = uint32(capacity)
	b.Values = append(b.Values, v)
	if extra := len(b.Values) - capacity; extra > 0 {
		b.Values = append(b.Values[:0], b.Values[extra:]...)
	}
}

// detect compares a closed window with the channel's baselines, returns the moments it shows,
// and then adds the window to the baselines.
func (e *Engine) detect(st *pb.ChannelState, w *pb.WindowAggregate, now time.Time) []*pb.Moment {
	a := e.cfg.Anomaly
	var moments []*pb.Moment
	check := func(b **pb.Baseline, x float64, counts bool, onHigh, onLow pb.MomentKind, threshold float64, minValue float64) {
		if *b == nil {
			*b = &pb.Baseline{}
		}
		s := BaselineStats((*b).Values)
		if s.N >= a.MinBaseline {
			z := ZScore(x, s, counts)
			kind := pb.MomentKind_MOMENT_KIND_UNSPECIFIED
			switch {
			case z >= threshold && x >= minValue:
				kind = onHigh
			case z <= -threshold && onLow != pb.MomentKind_MOMENT_KIND_UNSPECIFIED:
				kind = onLow
			}
			if kind != pb.MomentKind_MOMENT_KIND_UNSPECIFIED {
				moments = append(moments, windowMoment(st.GetChannel(), kind, w, x, s, z, now))
			}
		}
		push(*b, x, a.BaselineWindows)
	}
	check(&st.ChatRateBaseline, float64(w.GetChat().GetMessages()), true,
		pb.MomentKind_MOMENT_KIND_CHAT_SPIKE, pb.MomentKind_MOMENT_KIND_UNSPECIFIED, a.ChatSpikeZ, 1)
	if w.GetViewers().GetSamples() > 0 { // a window without samples says nothing about viewers
		check(&st.ViewerBaseline, w.GetViewers().GetAvg(), false,
			pb.MomentKind_MOMENT_KIND_VIEWER_SPIKE, pb.MomentKind_MOMENT_KIND_VIEWER_DROP, a.ViewerZ, 0)
	}
	check(&st.TransactionsBaseline, float64(w.GetTransactions().GetTransactions()), true,
		pb.MomentKind_MOMENT_KIND_HYPE, pb.MomentKind_MOMENT_KIND_UNSPECIFIED, a.HypeZ, float64(a.HypeMinCount))
	return moments
}

// MomentID is stable: derived only from the input, so a replay reproduces the same id.
func MomentID(kind pb.MomentKind, at time.Time) string {
	name := strings.ToLower(strings.TrimPrefix(kind.String(), "MOMENT_KIND_"))
	if kind == pb.MomentKind_MOMENT_KIND_RAID {
		return name + "-" + strconv.FormatInt(at.UnixMilli(), 10)
	}
	return name + "-" + strconv.FormatInt(at.Unix(), 10)
}

var momentWhat = map[pb.MomentKind]string{
	pb.MomentKind_MOMENT_KIND_CHAT_SPIKE:   "chat messages",
	pb.MomentKind_MOMENT_KIND_VIEWER_SPIKE: "average viewers",
	pb.MomentKind_MOMENT_KIND_VIEWER_DROP:  "average viewers",
	pb.MomentKind_MOMENT_KIND_HYPE:         "transactions",
}

func windowMoment(channel string, kind pb.MomentKind, w *pb.WindowAggregate, x float64, s Stats, z float64, now time.Time) *pb.Moment {
	start := w.GetWindowStart().AsTime()
	return &pb.Moment{
		Id: MomentID(kind, start), Channel: channel, Kind: kind,
		At: w.GetWindowStart(), WindowStart: w.GetWindowStart(), WindowEnd: w.GetWindowEnd(),
		Value: x, BaselineMean: s.Mean, BaselineStddev: s.StdDev, ZScore: z,
		Description: fmt.Sprintf("%s: %.0f %s in the window, baseline %.1f ± %.1f over %d windows (z = %.1f)",
			strings.ReplaceAll(strings.ToLower(strings.TrimPrefix(kind.String(), "MOMENT_KIND_")), "_", " "),
			x, momentWhat[kind], s.Mean, s.StdDev, s.N, z),
		EmittedAt: timestamppb.New(now),
	}
}

func raidMoment(channel string, raid *pb.RaidInfo, windowStart, windowEnd time.Time, now time.Time) *pb.Moment {
	at := raid.GetAt().AsTime()
	return &pb.Moment{
		Id: MomentID(pb.MomentKind_MOMENT_KIND_RAID, at), Channel: channel, Kind: pb.MomentKind_MOMENT_KIND_RAID,
		At: raid.GetAt(), WindowStart: timestamppb.New(windowStart), WindowEnd: timestamppb.New(windowEnd),
		Value:       float64(raid.GetViewers()),
		Description: fmt.Sprintf("raid from %s with %d viewers", raid.GetFromChannel(), raid.GetViewers()),
		Raid:        raid, EmittedAt: timestamppb.New(now),
	}
}
