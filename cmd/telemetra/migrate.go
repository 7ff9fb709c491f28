package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"

	"github.com/alecthomas/kong"
	"github.com/jackc/pgx/v5"

	"github.com/telemetra/telemetra/migrations"
)

// postgresFlags select the PostgreSQL database: DATABASE_URL, or the seed's POSTGRES_* parts.
type postgresFlags struct {
	DatabaseURL string `name:"database-url" env:"DATABASE_URL" help:"PostgreSQL connection URL; overrides the --postgres-* parts."`
	PGHost      string `name:"postgres-host" env:"POSTGRES_HOST" default:"127.0.0.1" help:"PostgreSQL host."`
	PGPort      int    `name:"postgres-port" env:"POSTGRES_PORT" default:"5432" help:"PostgreSQL port."`
	PGDatabase  string `name:"postgres-db" env:"POSTGRES_DB" default:"telemetra" help:"PostgreSQL database."`
	PGUser      string `name:"postgres-user" env:"POSTGRES_USER" default:"telemetra" help:"PostgreSQL user."`
	PGPassword  string `name:"postgres-password" env:"POSTGRES_PASSWORD" help:"PostgreSQL password."`
	Schema      string `name:"schema" default:"public" help:"Schema holding Telemetra's tables."`
}

// url is the connection URL the flags describe.
func (p postgresFlags) url() string {
	if p.DatabaseURL != "" {
		return p.DatabaseURL
	}
	u := url.URL{Scheme: "postgres", Host: net.JoinHostPort(p.PGHost, fmt.Sprint(p.PGPort)), Path: "/" + p.PGDatabase}
	if p.PGPassword != "" {
		u.User = url.UserPassword(p.PGUser, p.PGPassword)
	} else {
		u.User = url.User(p.PGUser)
	}
	return u.String()
}

// alertsSchemaFlags select the schema of the alerting state (migrations/alerts).
type alertsSchemaFlags struct {
	AlertsSchema string `name:"alerts-schema" env:"TELEMETRA_ALERTS_SCHEMA" default:"${alerts_schema}" help:"Schema holding the alert subscriptions and deliveries (not replayed with the projection's)."`
}

// alertsSchemaVars are the kong variables of alertsSchemaFlags' default.
func alertsSchemaVars() kong.Vars {
	return kong.Vars{"alerts_schema": migrations.DefaultAlertsSchema}
}

// applyAlerts brings the alerting schema up to date; it returns how many migrations it applied.
func applyAlerts(ctx context.Context, conn *pgx.Conn, schema string, logger *slog.Logger) (int, error) {
	done, err := migrations.ApplyAlerts(ctx, conn, schema, logger)
	if err != nil {
		return 0, fmt.Errorf("alerting schema %s: %w", schema, err)
	}
	return len(done), nil
}

type migrateCmd struct {
	postgresFlags
	alertsSchemaFlags
}

func (m *migrateCmd) Run(ctx context.Context, g *globals) error {
	conn, err := pgx.Connect(ctx, m.url())
	if err != nil {
		return fmt.Errorf("connect to PostgreSQL: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	done, err := migrations.Apply(ctx, conn, m.Schema, g.logger)
	if err != nil {
		return err
	}
	if err := reportMigrations(g.stdout, len(done), m.Schema); err != nil {
		return err
	}
	alerts, err := applyAlerts(ctx, conn, m.AlertsSchema, g.logger)
	if err != nil {
		return err
	}
	return reportMigrations(g.stdout, alerts, m.AlertsSchema)
}

// reportMigrations says what a migration run did to schema.
func reportMigrations(w io.Writer, applied int, schema string) error {
	if applied == 0 {
		_, err := fmt.Fprintf(w, "schema %s is up to date\n", schema)
		return err
	}
	_, err := fmt.Fprintf(w, "applied %d migration(s) to schema %s\n", applied, schema)
	return err
}
