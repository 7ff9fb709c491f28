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
// $1 channel, $2 start, $3 end, $4 cursor (NULL: none), $5 include provisional, $6 limit.
func metricsSQL(windows string, b bucketing) string {
	return `
SELECT ` + b.start + `, ` + b.end + `,` + windowTotalsColumns + `
FROM ` + windows + ` w
WHERE w.channel = $1
  AND w.window_start >= $2 AND w.window_start < $3::timestamptz + ` + b.span + `
  AND ($4::timestamptz IS NULL OR w.window_start > $4)
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
	resolution := q.Resolution
	if resolution == pb.Resolution_RESOLUTION_UNSPECIFIED {
		resolution = pb.Resolution_RESOLUTION_ONE_MINUTE
	}
	b, ok := bucketings[resolution]
	if !ok {
		return nil, fmt.Errorf("list window metrics of %s: unknown resolution %v", q.Channel, q.Resolution)
	}
	if q.Limit <= 0 {
		return nil, fmt.Errorf("list window metrics of %s: limit %d is not positive", q.Channel, q.Limit)
	}
	rows, err := s.pool.Query(ctx, metricsSQL(s.tables.windows, b),
		q.Channel, q.Start, q.End, nullTime(q.After), q.IncludeProvisional, q.Limit)
	if err != nil {
		return nil, fmt.Errorf("list window metrics of %s: %w", q.Channel, err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (*pb.WindowMetrics, error) {
		var start, end time.Time
		var totals windowTotals
		if err := row.Scan(append([]any{&start, &end}, totals.targets()...)...); err != nil {
			return nil, err
		}
		m, err := totals.windowMetrics(q.Channel, start, end, resolution)
		if err != nil {
			return nil, fmt.Errorf("bucket %s: %w", start.UTC().Format(time.RFC3339), err)
		}
		return m, nil
	})
	if err != nil {
		return nil, fmt.Errorf("list window metrics of %s: %w", q.Channel, err)
	}
	return out, nil
}

// nullTime is t as a query parameter, NULL when zero (no cursor).
func nullTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}
