package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/telemetra/telemetra/proto/telemetra/v1"
)

// ErrSessionNotFound is StreamReport's answer for a session the projection does not hold.
var ErrSessionNotFound = errors.New("stream session not found")

// ReportQuery selects one stream session's report.
type ReportQuery struct {
	Channel, Session string    // the session's channel and id (StreamSession.name's last segment)
	TopEmotes        int       // maximum number of top emotes; <= 0 means 10
	MaxMoments       int       // maximum number of moments in the timeline; must be > 0
	Now              time.Time // the end of a live session, for its duration
}

// hoursWatched sums each window's average viewers times its length in hours, over the windows
// with viewer samples (the others' zeros are no readings).
const hoursWatched = `
    coalesce(sum(w.viewer_sum::double precision / w.viewer_samples
                 * extract(epoch FROM w.window_end - w.window_start) / 3600)` + sampled + `, 0)`

// reportSessionSQL is the session's row. $1 channel, $2 session.
func reportSessionSQL(t tables) string {
	return sessionSelect(t) + `
WHERE s.channel = $1 AND s.session_id = $2`
}

// reportTotalsSQL merges every window of the session (final or not: a live session's report
// is provisional) as SummarizeChannel merges a range's. $1 channel, $2 session.
func reportTotalsSQL(windows string) string {
	return `
SELECT ` + windowTotalsColumns + `,` + hoursWatched + `
FROM ` + windows + ` w
WHERE w.channel = $1 AND w.session_id = $2`
}

// reportStatusSQL lists the title and category of the session's windows, oldest first, for
// streamChanges. $1 channel, $2 session.
func reportStatusSQL(windows string) string {
	return `
SELECT w.window_start, w.title, w.category
FROM ` + windows + ` w
WHERE w.channel = $1 AND w.session_id = $2
ORDER BY w.window_start`
}

// reportMomentsSQL lists the moments of the session's time span, oldest first: at from its
// start to its end inclusive, as the projector counts StreamSession.moments.
// $1 channel, $2 started_at, $3 ended_at (NULL while live), $4 limit.
func reportMomentsSQL(moments string) string {
	return `
SELECT ` + momentColumns + `
FROM ` + moments + ` m
WHERE m.channel = $1 AND m.at >= $2 AND m.at <= coalesce($3::timestamptz, 'infinity')
ORDER BY m.at, m.id
LIMIT $4`
}

// statusSample is one window's title and category.
type statusSample struct {
	at              time.Time
	title, category string
}

// StreamReport computes the report of one session from its windows and the moments of its
// span, all read in one snapshot. ErrSessionNotFound when the session has no row.
func (s *Store) StreamReport(ctx context.Context, q ReportQuery) (*pb.StreamReport, error) {
	if q.MaxMoments <= 0 {
		return nil, fmt.Errorf("report of session %s of %s: moment limit %d is not positive", q.Session, q.Channel, q.MaxMoments)
	}
	topEmotes := q.TopEmotes
	if topEmotes <= 0 {
		topEmotes = defaultTopEmotes
	}
	var (
		session *pb.StreamSession
		totals  windowTotals
		hours   float64
		samples []statusSample
		moments []*pb.Moment
	)
	err := pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly},
		func(tx pgx.Tx) error {
			rows, err := tx.Query(ctx, reportSessionSQL(s.tables), q.Channel, q.Session)
			if err != nil {
				return fmt.Errorf("session: %w", err)
			}
			sessions, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (*pb.StreamSession, error) {
				return scanSession(row, q.Channel, q.Now)
			})
			if err != nil {
				return fmt.Errorf("session: %w", err)
			}
			if len(sessions) == 0 {
				return ErrSessionNotFound
			}
			session = sessions[0]
			if err := tx.QueryRow(ctx, reportTotalsSQL(s.tables.windows), q.Channel, q.Session).
				Scan(append(totals.targets(), &hours)...); err != nil {
				return fmt.Errorf("windows: %w", err)
			}
			rows, err = tx.Query(ctx, reportStatusSQL(s.tables.windows), q.Channel, q.Session)
			if err != nil {
				return fmt.Errorf("titles: %w", err)
			}
			samples, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (statusSample, error) {
				var v statusSample
				err := row.Scan(&v.at, &v.title, &v.category)
				return v, err
			})
			if err != nil {
				return fmt.Errorf("titles: %w", err)
			}
			var ended *time.Time
			if e := session.GetEndedAt(); e != nil {
				t := e.AsTime()
				ended = &t
			}
			rows, err = tx.Query(ctx, reportMomentsSQL(s.tables.moments), q.Channel, session.GetStartedAt().AsTime(), ended, q.MaxMoments)
			if err != nil {
				return fmt.Errorf("moments: %w", err)
			}
			if moments, err = pgx.CollectRows(rows, scanMoment); err != nil {
				return fmt.Errorf("moments: %w", err)
			}
			return nil
		})
	if errors.Is(err, ErrSessionNotFound) {
		return nil, err
	}
	if err != nil {
		return nil, fmt.Errorf("report of session %s of %s: %w", q.Session, q.Channel, err)
	}
	chat, err := totals.chat.metrics(session.GetDuration().AsDuration().Minutes(), topEmotes)
	if err != nil {
		return nil, fmt.Errorf("report of session %s of %s: %w", q.Session, q.Channel, err)
	}
	viewers := totals.viewers.stats()
	return &pb.StreamReport{
		Name:         session.GetName() + "/report",
		Session:      session,
		Windows:      totals.windows,
		AvgViewers:   viewers.GetAvg(),
		PeakViewers:  viewers.GetMax(),
		HoursWatched: hours,
		Chat:         chat,
		Transactions: totals.transactions.stats(),
		Moments:      moments,
		Changes:      streamChanges(samples),
		Live:         session.GetLive(),
	}, nil
}

// streamChanges turns the windows' titles and categories, oldest first, into the session's
// changes: the first window of each run of windows with the same title and category.
func streamChanges(samples []statusSample) []*pb.StreamChange {
	var out []*pb.StreamChange
	for k, v := range samples {
		if k > 0 && samples[k-1].title == v.title && samples[k-1].category == v.category {
			continue
		}
		out = append(out, &pb.StreamChange{At: timestamppb.New(v.at), Title: v.title, Category: v.category})
	}
	return out
}
