package projection

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/telemetra/telemetra/internal/pgtest"
	"github.com/telemetra/telemetra/migrations"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

var ctx = context.Background()

// metadata are the tables of a projection's schema that are not described here, with the
// reason: they hold no projected rows.
var metadata = map[string]string{
	"schema_migrations": "the migration runner's record of applied migrations",
	"projection_info":   "the processor generation the schema is a projection of",
}

// TestDefinitionsMatchTheMigrations applies the migrations to a real PostgreSQL and holds every
// table's definition to what they built: the same columns in the same order with the same
// types, the same primary key, stamps that default to now(), and no projected table without a
// definition. A column added on one side only fails here.
func TestDefinitionsMatchTheMigrations(t *testing.T) {
	conn := pgtest.Connect(t, pgtest.Database(t))
	if _, err := migrations.Apply(ctx, conn, "public", slog.New(slog.NewTextHandler(io.Discard, nil))); err != nil {
		t.Fatal(err)
	}
	described := map[string]bool{}
	for _, table := range Tables() {
		described[table.Name] = true
		t.Run(table.Name, func(t *testing.T) {
			got := migratedColumns(t, conn, table.Name)
			want := make([]string, len(table.Columns))
			for i, c := range table.Columns {
				want[i] = describe(c.Name, canonicalType(t, conn, c.Type), c.Stamp)
			}
			for i := range max(len(got), len(want)) {
				g, w := "(none)", "(none)"
				if i < len(got) {
					g = got[i]
				}
				if i < len(want) {
					w = want[i]
				}
				if g != w {
					t.Errorf("column %d: the migrations have %s, the definition %s", i+1, g, w)
				}
			}
			if key := primaryKey(t, conn, table.Name); !slices.Equal(key, table.Key) {
				t.Errorf("primary key: the migrations have %v, the definition %v", key, table.Key)
			}
		})
	}
	rows, err := conn.Query(ctx, "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 1")
	if err != nil {
		t.Fatal(err)
	}
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range tables {
		if _, ok := metadata[name]; !ok && !described[name] {
			t.Errorf("table %s has no definition: add it to Tables (or, if it holds no projected rows, to metadata)", name)
		}
	}
}

// describe is a column as the test compares it: name, type, and whether it is a stamp.
func describe(name, sqlType string, stamp bool) string {
	s := fmt.Sprintf("%s %s", name, sqlType)
	if stamp {
		s += " (stamp: DEFAULT now())"
	}
	return s
}

// migratedColumns are the table's columns in order, described; a stamp is a timestamptz that
// defaults to now().
func migratedColumns(t *testing.T, conn *pgx.Conn, table string) []string {
	t.Helper()
	rows, err := conn.Query(ctx, `
		SELECT column_name, data_type, data_type = 'timestamp with time zone' AND coalesce(column_default, '') = 'now()'
		FROM information_schema.columns
		WHERE table_schema = 'public' AND table_name = $1
		ORDER BY ordinal_position`, table)
	if err != nil {
		t.Fatal(err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (string, error) {
		var name, sqlType string
		var stamp bool
		err := r.Scan(&name, &sqlType, &stamp)
		return describe(name, sqlType, stamp), err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// canonicalType is a type as information_schema names it (timestamptz: timestamp with time zone).
func canonicalType(t *testing.T, conn *pgx.Conn, sqlType string) string {
	t.Helper()
	var name *string
	if err := conn.QueryRow(ctx, "SELECT format_type(to_regtype($1), NULL)", sqlType).Scan(&name); err != nil {
		t.Fatal(err)
	}
	if name == nil {
		return "unknown type " + sqlType
	}
	return *name
}

func primaryKey(t *testing.T, conn *pgx.Conn, table string) []string {
	t.Helper()
	rows, err := conn.Query(ctx, `
		SELECT k.column_name
		FROM information_schema.table_constraints c
		JOIN information_schema.key_column_usage k
		  ON k.constraint_schema = c.constraint_schema AND k.constraint_name = c.constraint_name
		WHERE c.table_schema = 'public' AND c.table_name = $1 AND c.constraint_type = 'PRIMARY KEY'
		ORDER BY k.ordinal_position`, table)
	if err != nil {
		t.Fatal(err)
	}
	key, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return key
}

func TestUpsertTakesTheContentAndStampsTheRest(t *testing.T) {
	table := Table{Name: "things", Key: []string{"id"}, Columns: []Column{
		{Name: "id"},
		{Name: "label"},
		{Name: "count", OnConflict: KeepGreatest},
		{Name: "first_seen", Stamp: true, OnConflict: KeepStored},
		{Name: "updated_at", Stamp: true},
	}}
	want := "INSERT INTO things AS t (id, label, count, first_seen, updated_at)\n" +
		"VALUES ($1, $2, $3, now(), now())\n" +
		"ON CONFLICT (id) DO UPDATE SET label = excluded.label, count = GREATEST(t.count, excluded.count), updated_at = excluded.updated_at"
	if got := table.Upsert("t"); got != want {
		t.Errorf("Upsert:\n%s\nwant\n%s", got, want)
	}
	if got := List("t", table.Content()); got != "t.id, t.label, t.count" {
		t.Errorf("List of the content: %s", got)
	}
}

func TestMergedKeepsTableOrder(t *testing.T) {
	var names []string
	for _, c := range WindowAggregates().Merged(PartChatters) {
		names = append(names, c.Name)
	}
	if !slices.Equal(names, []string{"unique_chatters", "chatters_sketch"}) {
		t.Errorf("chatters part: %v", names)
	}
	if got := WindowAggregates().Merged(NotMerged); got != nil {
		t.Errorf("NotMerged lists %v", got)
	}
}
