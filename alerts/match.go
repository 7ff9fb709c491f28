// Package alerts turns moments into signed webhook deliveries: the `telemetra alert` role. The
// pure parts (matching, signing, backoff, the payload) stand apart from the plumbing (the moments
// consumer, the outbox store in PostgreSQL, the sender). docs/alerts.md is the user's guide.
package alerts

import (
	"slices"
	"time"

	"github.com/telemetra/telemetra/internal/projection"
	pb "github.com/telemetra/telemetra/proto/telemetra/v1"
)

// Subscription is a live row of alert_subscriptions, as the matcher and the sender need it.
type Subscription struct {
	ID      string
	URL     string
	Channel string   // "" = every channel
	Kinds   []string // projection.MomentKindName values; empty = every kind
	// MinRaidViewers applies to raids only: a raid must bring more viewers than this.
	MinRaidViewers int64
	// MinAbsZScore applies to the z-scored kinds only (spikes, drops, hype).
	MinAbsZScore float64
}

// zScored are the kinds whose moments carry a z-score against a baseline.
var zScored = []pb.MomentKind{pb.MomentKind_MOMENT_KIND_CHAT_SPIKE, pb.MomentKind_MOMENT_KIND_VIEWER_SPIKE,
	pb.MomentKind_MOMENT_KIND_VIEWER_DROP, pb.MomentKind_MOMENT_KIND_HYPE}

// Matches reports whether m passes every filter of s. A threshold applies only to the kinds it
// is about: min_raid_viewers never filters out a chat spike, min_abs_z_score never a raid.
func Matches(s Subscription, m *pb.Moment) bool {
	if s.Channel != "" && s.Channel != m.GetChannel() {
		return false
	}
	if len(s.Kinds) > 0 && !slices.Contains(s.Kinds, projection.MomentKindName(m.GetKind())) {
		return false
	}
	if m.GetKind() == pb.MomentKind_MOMENT_KIND_RAID && s.MinRaidViewers > 0 && raidViewers(m) <= s.MinRaidViewers {
		return false
	}
	if slices.Contains(zScored, m.GetKind()) && s.MinAbsZScore > 0 && abs(m.GetZScore()) < s.MinAbsZScore {
		return false
	}
	return true
}

// raidViewers is the raid's size: RaidInfo's viewers, else the moment's value (the detector's
// unit for raids is raid viewers).
func raidViewers(m *pb.Moment) int64 {
	if v := m.GetRaid().GetViewers(); v > 0 {
		return v
	}
	return int64(m.GetValue())
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}

// TooOld reports whether a moment is too old to page anyone for: its event time is more than
// maxAge before now (processing time). A history backfill or a replayed topic re-emits moments
// of yesterday; they are not alerted. maxAge <= 0 alerts every moment.
func TooOld(m *pb.Moment, now time.Time, maxAge time.Duration) bool {
	return maxAge > 0 && m.GetAt() != nil && now.Sub(m.GetAt().AsTime()) > maxAge
}
