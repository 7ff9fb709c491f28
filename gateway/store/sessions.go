package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/telemetra/telemetra/proto/telemetra/v1"
)

// SessionsQuery selects a channel's stream sessions, newest first.
type SessionsQuery struct {
	Channel    string
	Start, End time.Time      // sessions live at some time in [Start, End): (ended_at unset or >= Start) and started_at < End
	Cursor     *SessionCursor // page cursor: only sessions after this one in the listing's order
	Limit      int            // maximum number of sessions returned; must be > 0
	Now        time.Time      // the end of live sessions, for their duration
}

// SessionCursor is the last session of the previous page.
type SessionCursor struct {
	StartedAt time.Time
	SessionID string
}

// sessionSelect reads stream_sessions rows (alias s) as scanSession takes them: with what the
// row does not hold (unique chatters, the revenue by type) merged from the session's windows.
func sessionSelect(t tables) string {
	return `
SELECT s.session_id, s.started_at, s.ended_at, s.title, s.category, s.peak_viewers, s.viewer_sum,
       s.viewer_samples, s.peak_chatters, s.chat_messages, s.revenue_cents, s.moments, ws.*
FROM ` + t.sessions + ` s
CROSS JOIN LATERAL (
    SELECT ` + chatterColumns + `,` + transactionColumns + `
    FROM ` + t.windows + ` w
    WHERE w.channel = s.channel AND w.session_id = s.session_id) ws`
}

// sessionsSQL lists sessions by started_at DESC, session_id DESC.
// $1 channel, $2 start, $3 end, $4/$5 cursor started_at/session_id ($4 NULL: none), $6 limit.
func sessionsSQL(t tables) string {
	return sessionSelect(t) + `
WHERE s.channel = $1
  AND (s.ended_at IS NULL OR s.ended_at >= $2) AND s.started_at < $3
  AND ($4::timestamptz IS NULL OR s.started_at < $4 OR (s.started_at = $4 AND s.session_id < $5::text))
ORDER BY s.started_at DESC, s.session_id DESC
LIMIT $6`
}

// Sessions lists the channel's stream sessions, newest first.
func (s *Store) Sessions(ctx context.Context, q SessionsQuery) ([]*pb.StreamSession, error) {
	if q.Limit <= 0 {
		return nil, fmt.Errorf("list stream sessions of %s: limit %d is not positive", q.Channel, q.Limit)
	}
	var cursorAt *time.Time
	var cursorID string
	if c := q.Cursor; c != nil {
		cursorAt, cursorID = &c.StartedAt, c.SessionID
	}
	rows, err := s.pool.Query(ctx, sessionsSQL(s.tables), q.Channel, q.Start, q.End, cursorAt, cursorID, q.Limit)
	if err != nil {
		return nil, fmt.Errorf("list stream sessions of %s: %w", q.Channel, err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (*pb.StreamSession, error) {
		return scanSession(row, q.Channel, q.Now)
	})
	if err != nil {
		return nil, fmt.Errorf("list stream sessions of %s: %w", q.Channel, err)
	}
	return out, nil
}

func scanSession(row pgx.CollectableRow, channel string, now time.Time) (*pb.StreamSession, error) {
	var (
		session                  pb.StreamSession
		id                       string
		startedAt                time.Time
		endedAt                  *time.Time
		viewerSum, viewerSamples int64
		chatters                 chatterParts
		transactions             transactionSums
	)
	targets := []any{&id, &startedAt, &endedAt, &session.Title, &session.Category, &session.PeakViewers,
		&viewerSum, &viewerSamples, &session.PeakChatters, &session.ChatMessages, &session.RevenueCents,
		&session.Moments}
	targets = append(targets, chatters.targets()...)
	if err := row.Scan(append(targets, transactions.targets()...)...); err != nil {
		return nil, err
	}
	unique, err := chatters.unique()
	if err != nil {
		return nil, fmt.Errorf("session %s: %w", id, err)
	}
	end := now
	if endedAt != nil {
		end = *endedAt
	}
	session.Name = "channels/" + channel + "/sessions/" + id
	session.Channel = channel
	session.StartedAt = timestamppb.New(startedAt)
	session.EndedAt = timestampOrNil(endedAt)
	session.Live = endedAt == nil
	session.Duration = durationpb.New(max(end.Sub(startedAt), 0)) // a clock behind event time: not negative
	session.AvgViewers = ratio(viewerSum, viewerSamples)
	session.UniqueChatters = unique
	session.Transactions = transactions.stats()
	return &session, nil
}
