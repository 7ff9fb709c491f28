package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	pb "github.com/telemetra/telemetra/proto/telemetra/v1"
)

// MetricsQuery selects a channel's window metrics.
type MetricsQuery struct {
	Channel    string
	Start, End time.Time     // buckets with start in [Start, End)
	Resolution pb.Resolution // UNSPECIFIED = ONE_MINUTE; coarser buckets are aligned to UTC
	// IncludeProvisional also returns buckets containing windows that are not final yet
	// (final = false); by default only buckets made of final windows are returned.
	IncludeProvisional bool
	After              time.Time // page cursor: only buckets with start > After (zero: no cursor)
	Limit              int       // maximum number of buckets returned; must be > 0
	// Session, if set, keeps only the windows of this stream session (window_aggregates.session_id).
	Session string
}

// bucketing is how one resolution groups windows, as constant SQL expressions over alias w.
type bucketing struct {
	start string // the bucket a window belongs to
	end   string // the bucket's exclusive end (an aggregate or an expression of start)
	span  string // an interval at least as long as a bucket
}

// rollUp buckets windows into fixed steps from an origin at midnight UTC; the explicit +00
// keeps the origin from depending on the session's TimeZone.
func rollUp(step string) bucketing {
	start := `date_bin(INTERVAL '` + step + `', w.window_start, TIMESTAMPTZ '2000-01-01 00:00:00+00')`
	return bucketing{start: start, end: start + ` + INTERVAL '` + step + `'`, span: `INTERVAL '` + step + `'`}
}

var bucketings = map[pb.Resolution]bucketing{
	// The processor's own windows, whatever their size: each window is a bucket.
	pb.Resolution_RESOLUTION_ONE_MINUTE:      {start: `w.window_start`, end: `max(w.window_end)`, span: `INTERVAL '0'`},
	pb.Resolution_RESOLUTION_FIVE_MINUTES:    rollUp("5 minutes"),
	pb.Resolution_RESOLUTION_FIFTEEN_MINUTES: rollUp("15 minutes"),
	pb.Resolution_RESOLUTION_ONE_HOUR:        rollUp("1 hour"),
	pb.Resolution_RESOLUTION_ONE_DAY:         rollUp("1 day"),
}

// metricsSQL lists the buckets of one resolution. The WHERE clause narrows the rows by
// window_start (index range) to a superset of the buckets' windows: a bucket starting before
// $3 holds windows starting before $3 + one bucket. HAVING then keeps the wanted buckets.
// $1 channel, $2 start, $3 end, $4 cursor (NULL: none), $5 include provisional, $6 limit, and
// with oneSession $7 the session. The session condition is spliced in as a constant, so that
// the queries of a range keep their plan (as momentsSQL does with the channel).
func metricsSQL(windows string, b bucketing, oneSession bool) string {
	session := ""
	if oneSession {
		session = `
  AND w.session_id = $7`
	}
	return `
SELECT ` + b.start + `, ` + b.end + `,` + windowTotalsColumns + `
FROM ` + windows + ` w
WHERE w.channel = $1
  AND w.window_start >= $2 AND w.window_start < $3::timestamptz + ` + b.span + `
  AND ($4::timestamptz IS NULL OR w.window_start > $4)` + session + `
GROUP BY 1
HAVING ` + b.start + ` >= $2 AND ` + b.start + ` < $3
   AND ($4::timestamptz IS NULL OR ` + b.start + ` > $4)
   AND ($5 OR bool_and(w.final))
ORDER BY 1
LIMIT $6`
}

// WindowMetrics lists the channel's buckets at the query's resolution, oldest first (see the
// package documentation for how windows are merged).
func (s *Store) WindowMetrics(ctx context.Context, q MetricsQuery) ([]*pb.WindowMetrics, error) {
	var out []*pb.WindowMetrics
	err := s.EachWindowMetric(ctx, q, func(m *pb.WindowMetrics) error {
		out = append(out, m)
		return nil
	})
	return out, err
}

// EachWindowMetric calls fn with each of the channel's buckets at the query's resolution,
// oldest first, as PostgreSQL returns them: a long export is never held in memory whole. An
// error of fn ends the query and is returned.
func (s *Store) EachWindowMetric(ctx context.Context, q MetricsQuery, fn func(*pb.WindowMetrics) error) error {
	resolution := q.Resolution
	if resolution == pb.Resolution_RESOLUTION_UNSPECIFIED {
		resolution = pb.Resolution_RESOLUTION_ONE_MINUTE
	}
	b, ok := bucketings[resolution]
	if !ok {
		return fmt.Errorf("list window metrics of %s: unknown resolution %v", q.Channel, q.Resolution)
	}
	if q.Limit <= 0 {
		return fmt.Errorf("list window metrics of %s: limit %d is not positive", q.Channel, q.Limit)
	}
	args := []any{q.Channel, q.Start, q.End, nullTime(q.After), q.IncludeProvisional, q.Limit}
	if q.Session != "" {
		args = append(args, q.Session)
	}
	rows, err := s.pool.Query(ctx, metricsSQL(s.tables.windows, b, q.Session != ""), args...)
	if err != nil {
		return fmt.Errorf("list window metrics of %s: %w", q.Channel, err)
	}
	var start, end time.Time
	var totals windowTotals
	targets := append([]any{&start, &end}, totals.targets()...)
	_, err = pgx.ForEachRow(rows, targets, func() error {
		m, err := totals.windowMetrics(q.Channel, start, end, resolution)
		if err != nil {
			return fmt.Errorf("bucket %s: %w", start.UTC().Format(time.RFC3339), err)
		}
		totals = windowTotals{} // the next row's slices must not alias this one's
		return fn(m)
	})
	if err != nil {
		return fmt.Errorf("list window metrics of %s: %w", q.Channel, err)
	}
	return nil
}

// SessionSpan is where a session's buckets at resolution lie: from the bucket of its first
// window to the end of its last window. found is false when no window belongs to the session.
func (s *Store) SessionSpan(ctx context.Context, channel, session string, resolution pb.Resolution) (start, end time.Time, found bool, err error) {
	if resolution == pb.Resolution_RESOLUTION_UNSPECIFIED {
		resolution = pb.Resolution_RESOLUTION_ONE_MINUTE
	}
	b, ok := bucketings[resolution]
	if !ok {
		return start, end, false, fmt.Errorf("span of session %s of %s: unknown resolution %v", session, channel, resolution)
	}
	query := `SELECT min(` + b.start + `), max(w.window_end) FROM ` + s.tables.windows + ` w
WHERE w.channel = $1 AND w.session_id = $2`
	var first, last *time.Time
	if err := s.pool.QueryRow(ctx, query, channel, session).Scan(&first, &last); err != nil {
		return start, end, false, fmt.Errorf("span of session %s of %s: %w", session, channel, err)
	}
	if first == nil || last == nil {
		return start, end, false, nil
	}
	return *first, *last, true, nil
}

// nullTime is t as a query parameter, NULL when zero (no cursor).
func nullTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}
