package main

import (
	"context"
	"fmt"
	"net"
	"net/url"

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

type migrateCmd struct {
	postgresFlags
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
	if len(done) == 0 {
		_, err = fmt.Fprintf(g.stdout, "schema %s is up to date\n", m.Schema)
		return err
	}
	_, err = fmt.Fprintf(g.stdout, "applied %d migration(s) to schema %s\n", len(done), m.Schema)
	return err
}
