// Package migrations holds Telemetra's PostgreSQL schema as embedded, forward-only SQL
// migrations (NNNN_name.sql, applied in order) and the runner that applies them.
package migrations

import (
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"log/slog"
	"regexp"
	"sort"
	"strconv"

	"github.com/jackc/pgx/v5"
)

//go:embed *.sql
var files embed.FS

// alertFiles are the alerting state's migrations (alerts/NNNN_name.sql), applied to a schema of
// their own (DefaultAlertsSchema): a replay swaps the projection's schema for a rebuilt one,
// and subscriptions and delivery logs cannot be rebuilt from Kafka.
//
//go:embed alerts/*.sql
var alertFiles embed.FS

// DefaultAlertsSchema is the schema ApplyAlerts migrates unless told otherwise.
const DefaultAlertsSchema = "telemetra_alerts"

// Migration is one SQL file.
type Migration struct {
	Version  int
	Name     string
	SQL      string
	Checksum string // sha256 of the file, hex
}

var fileName = regexp.MustCompile(`^(\d{4})_([a-z0-9_]+)\.sql$`)

// All returns the embedded migrations in version order.
func All() ([]Migration, error) {
	return load(files)
}

// Alerts returns the embedded alerting migrations in version order.
func Alerts() ([]Migration, error) {
	sub, err := fs.Sub(alertFiles, "alerts")
	if err != nil {
		return nil, err
	}
	return load(sub)
}

// ApplyAlerts brings the alerting schema in `schema` up to date, as Apply does the projection's.
func ApplyAlerts(ctx context.Context, conn *pgx.Conn, schema string, logger *slog.Logger) ([]Migration, error) {
	all, err := Alerts()
	if err != nil {
		return nil, err
	}
	return apply(ctx, conn, schema, all, logger)
}

func load(fsys fs.FS) ([]Migration, error) {
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return nil, fmt.Errorf("read migrations: %w", err)
	}
	var out []Migration
	seen := map[int]string{}
	for _, e := range entries {
		m := fileName.FindStringSubmatch(e.Name())
		if m == nil {
			continue
		}
		v, _ := strconv.Atoi(m[1])
		if prev, dup := seen[v]; dup {
			return nil, fmt.Errorf("migrations %s and %s share version %d", prev, e.Name(), v)
		}
		seen[v] = e.Name()
		body, err := fs.ReadFile(fsys, e.Name())
		if err != nil {
			return nil, fmt.Errorf("read migration %s: %w", e.Name(), err)
		}
		sum := sha256.Sum256(body)
		out = append(out, Migration{Version: v, Name: e.Name(), SQL: string(body), Checksum: hex.EncodeToString(sum[:])})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	return out, nil
}

// lockID is the advisory lock that serializes migration runs across processes.
const lockID = 0x7e1e3e7a

// Apply brings the schema in `schema` up to date with the embedded migrations and returns the
// ones it applied. It holds an advisory lock for the whole run, so instances starting together
// apply each migration once; each migration runs in its own transaction with its version row.
// A migration changed after it was applied is an error. Versions newer than this binary's
// (a newer instance migrated first) are left alone: migrations only add, so older code keeps
// working on a newer schema.
func Apply(ctx context.Context, conn *pgx.Conn, schema string, logger *slog.Logger) ([]Migration, error) {
	all, err := All()
	if err != nil {
		return nil, err
	}
	return apply(ctx, conn, schema, all, logger)
}

func apply(ctx context.Context, conn *pgx.Conn, schema string, all []Migration, logger *slog.Logger) ([]Migration, error) {
	if logger == nil {
		logger = slog.Default()
	}
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", int64(lockID)); err != nil {
		return nil, fmt.Errorf("take the migration lock: %w", err)
	}
	defer func() {
		_, _ = conn.Exec(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", int64(lockID))
	}()

	ident := pgx.Identifier{schema}.Sanitize()
	if _, err := conn.Exec(ctx, "CREATE SCHEMA IF NOT EXISTS "+ident); err != nil {
		return nil, fmt.Errorf("create schema %s: %w", schema, err)
	}
	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS `+ident+`.schema_migrations (
		version    integer PRIMARY KEY,
		name       text        NOT NULL,
		checksum   text        NOT NULL,
		applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
		return nil, fmt.Errorf("create %s.schema_migrations: %w", schema, err)
	}
	applied := map[int]string{}
	rows, err := conn.Query(ctx, "SELECT version, checksum FROM "+ident+".schema_migrations")
	if err != nil {
		return nil, fmt.Errorf("read applied migrations: %w", err)
	}
	for rows.Next() {
		var v int
		var sum string
		if err := rows.Scan(&v, &sum); err != nil {
			return nil, fmt.Errorf("read applied migrations: %w", err)
		}
		applied[v] = sum
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read applied migrations: %w", err)
	}

	var done []Migration
	for _, m := range all {
		if sum, ok := applied[m.Version]; ok {
			if sum != m.Checksum {
				return done, fmt.Errorf("migration %s was changed after it was applied to schema %s (checksum %s, applied %s): add a new migration instead", m.Name, schema, m.Checksum[:12], sum[:min(12, len(sum))])
			}
			continue
		}
		if err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, "SET LOCAL search_path TO "+ident); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, m.SQL); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, "INSERT INTO "+ident+".schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
				m.Version, m.Name, m.Checksum)
			return err
		}); err != nil {
			return done, fmt.Errorf("apply migration %s to schema %s: %w", m.Name, schema, err)
		}
		logger.Info("migration applied", "schema", schema, "migration", m.Name)
		done = append(done, m)
	}
	return done, nil
}
