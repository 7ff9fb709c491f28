package store

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/telemetra/telemetra/internal/projection"
)

// Store reads the projection in one PostgreSQL schema.
type Store struct {
	pool   *pgxpool.Pool
	tables tables
}

// tables are the schema-qualified, quoted names of the projection's tables: the only
// non-constant text that goes into the SQL.
type tables struct {
	windows, moments, channels, sessions string
	hours                                string // channel_hours, the hourly roll-up (rankings.go)
}

// New returns a Store reading the tables in schema through pool.
func New(pool *pgxpool.Pool, schema string) *Store {
	qualified := func(table string) string { return pgx.Identifier{schema, table}.Sanitize() }
	return &Store{pool: pool, tables: tables{
		windows:  qualified(projection.WindowAggregates().Name),
		moments:  qualified(projection.Moments().Name),
		channels: qualified(projection.Channels().Name),
		sessions: qualified(projection.StreamSessions().Name),
		hours:    qualified(projection.ChannelHours().Name),
	}}
}

// ChannelExists reports whether the channel has a row in channels or any window: the API's
// NOT_FOUND check.
func (s *Store) ChannelExists(ctx context.Context, channel string) (bool, error) {
	query := `SELECT EXISTS (SELECT 1 FROM ` + s.tables.channels + ` WHERE channel = $1)
	              OR EXISTS (SELECT 1 FROM ` + s.tables.windows + ` WHERE channel = $1)`
	var exists bool
	if err := s.pool.QueryRow(ctx, query, channel).Scan(&exists); err != nil {
		return false, fmt.Errorf("check whether channel %s exists: %w", channel, err)
	}
	return exists, nil
}
