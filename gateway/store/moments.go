package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/telemetra/telemetra/internal/projection"
	pb "github.com/telemetra/telemetra/proto/telemetra/v1"
)

// MomentsQuery selects moments, newest first.
type MomentsQuery struct {
	Channel    string          // "" = all channels
	Start, End time.Time       // at in [Start, End)
	Kinds      []pb.MomentKind // empty = all kinds
	Cursor     *MomentCursor   // page cursor: only moments after this one in the listing's order
	Limit      int             // maximum number of moments returned; must be > 0
}

// MomentCursor is the last moment of the previous page.
type MomentCursor struct {
	At          time.Time
	Channel, ID string
}

// momentColumns are what a moment's row holds (all but its stamp), in table order: scanMoment's
// targets.
var momentColumns = projection.List("m", projection.Moments().Content())

// momentsSQL lists moments ordered by at DESC, channel, id. The channel condition is spliced
// in as one of two constants so that each query gets its own plan and index
// (moments_channel_at_idx for one channel, moments_at_idx for all).
// $1 channel (unused when all), $2 start, $3 end, $4 kinds (empty: all),
// $5/$6/$7 cursor at/channel/id ($5 NULL: none), $8 limit.
func momentsSQL(moments string, oneChannel bool) string {
	channel := `$1::text IS NOT NULL` // keeps $1 typed when unused
	if oneChannel {
		channel = `m.channel = $1`
	}
	return `
SELECT ` + momentColumns + `
FROM ` + moments + ` m
WHERE ` + channel + `
  AND m.at >= $2 AND m.at < $3
  AND (cardinality($4::text[]) = 0 OR m.kind = ANY($4))
  AND ($5::timestamptz IS NULL OR m.at < $5 OR (m.at = $5 AND (m.channel, m.id) > ($6::text, $7::text)))
ORDER BY m.at DESC, m.channel, m.id
LIMIT $8`
}

// Moments lists moments ordered by at descending, then channel and id ascending.
func (s *Store) Moments(ctx context.Context, q MomentsQuery) ([]*pb.Moment, error) {
	scope := "all channels"
	if q.Channel != "" {
		scope = "channel " + q.Channel
	}
	if q.Limit <= 0 {
		return nil, fmt.Errorf("list moments of %s: limit %d is not positive", scope, q.Limit)
	}
	kinds := make([]string, 0, len(q.Kinds))
	for _, k := range q.Kinds {
		kinds = append(kinds, projection.MomentKindName(k))
	}
	var cursorAt *time.Time
	var cursorChannel, cursorID string
	if c := q.Cursor; c != nil {
		cursorAt, cursorChannel, cursorID = &c.At, c.Channel, c.ID
	}
	rows, err := s.pool.Query(ctx, momentsSQL(s.tables.moments, q.Channel != ""),
		q.Channel, q.Start, q.End, kinds, cursorAt, cursorChannel, cursorID, q.Limit)
	if err != nil {
		return nil, fmt.Errorf("list moments of %s: %w", scope, err)
	}
	out, err := pgx.CollectRows(rows, scanMoment)
	if err != nil {
		return nil, fmt.Errorf("list moments of %s: %w", scope, err)
	}
	return out, nil
}

func scanMoment(row pgx.CollectableRow) (*pb.Moment, error) {
	var (
		m                            pb.Moment
		kind                         string
		at                           time.Time
		windowStart, windowEnd, sent *time.Time
		raidFrom                     *string
		raidViewers                  *int64
	)
	if err := row.Scan(&m.Channel, &m.Id, &kind, &at, &windowStart, &windowEnd, &m.Value, &m.BaselineMean,
		&m.BaselineStddev, &m.ZScore, &m.Description, &raidFrom, &raidViewers, &sent); err != nil {
		return nil, err
	}
	m.Kind = projection.ParseMomentKind(kind)
	m.At = timestamppb.New(at)
	m.WindowStart = timestampOrNil(windowStart)
	m.WindowEnd = timestampOrNil(windowEnd)
	m.EmittedAt = timestampOrNil(sent)
	if raidFrom != nil { // the projector stores a raid's columns only for raids
		m.Raid = &pb.RaidInfo{FromChannel: *raidFrom, At: m.At}
		if raidViewers != nil {
			m.Raid.Viewers = *raidViewers
		}
	}
	return &m, nil
}

func timestampOrNil(t *time.Time) *timestamppb.Timestamp {
	if t == nil {
		return nil
	}
	return timestamppb.New(*t)
}
