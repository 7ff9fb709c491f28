package store

import (
	"context"
	"fmt"
	"time"

	"github.com/telemetra/telemetra/views/projector"
)

// newestEmitSQL is the newest emit time among the windows of the newest window start: two
// descents of window_aggregates_window_start_idx and the rows of that one start (one per
// channel with a window there), never a scan of the table.
func newestEmitSQL(t tables) string {
	return `SELECT max(emitted_at) FROM ` + t.windows + `
WHERE window_start = (SELECT max(window_start) FROM ` + t.windows + `)`
}

// NewestEmit is the emit time of the newest projected window (the latest emitted_at among the
// windows of the newest window start); false when no window is projected yet.
func (s *Store) NewestEmit(ctx context.Context) (time.Time, bool, error) {
	var at *time.Time
	if err := s.pool.QueryRow(ctx, newestEmitSQL(s.tables)).Scan(&at); err != nil {
		return time.Time{}, false, fmt.Errorf("read the newest projected window: %w", err)
	}
	if at == nil {
		return time.Time{}, false, nil
	}
	return *at, true, nil
}

// ProjectorOffsets are the positions the projector stored with its rows (cfg names its
// schema and consumer): its progress, which Kafka does not hold.
func (s *Store) ProjectorOffsets(ctx context.Context, cfg projector.Config) (projector.Offsets, error) {
	return projector.StoredOffsets(ctx, s.pool, cfg)
}
