package migrations

import (
	"context"
	"strings"
	"sync"
	"testing"
	"testing/fstest"

	"github.com/jackc/pgx/v5"

	"github.com/telemetra/telemetra/internal/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

var ctx = context.Background()

func tables(t *testing.T, conn *pgx.Conn, schema string) []string {
	t.Helper()
	rows, err := conn.Query(ctx, "SELECT table_name FROM information_schema.tables WHERE table_schema = $1 ORDER BY 1", schema)
	if err != nil {
		t.Fatal(err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return names
}

func TestApplyOnAnEmptyDatabase(t *testing.T) {
	conn := pgtest.Connect(t, pgtest.Database(t))
	all, err := All()
	if err != nil || len(all) == 0 {
		t.Fatalf("embedded migrations: %v, %v", all, err)
	}
	done, err := Apply(ctx, conn, "public", nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(done) != len(all) {
		t.Fatalf("applied %d of %d migrations", len(done), len(all))
	}
	got := strings.Join(tables(t, conn, "public"), ",")
	for _, want := range []string{"channels", "moments", "projector_offsets", "schema_migrations", "stream_sessions", "window_aggregates"} {
		if !strings.Contains(got, want) {
			t.Errorf("table %s missing; have %s", want, got)
		}
	}
}

func TestApplyOnAnAlreadyMigratedDatabaseChangesNothing(t *testing.T) {
	conn := pgtest.Connect(t, pgtest.Database(t))
	if _, err := Apply(ctx, conn, "public", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, "INSERT INTO channels (channel) VALUES ('demo_stream')"); err != nil {
		t.Fatal(err)
	}
	done, err := Apply(ctx, conn, "public", nil)
	if err != nil || len(done) != 0 {
		t.Fatalf("second run applied %v, err %v", done, err)
	}
	var n int
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM channels").Scan(&n); err != nil || n != 1 {
		t.Fatalf("rows after the second run: %d, %v", n, err)
	}
}

func TestConcurrentRunsApplyEachMigrationOnce(t *testing.T) {
	dbURL := pgtest.Database(t)
	all, _ := All()
	var wg sync.WaitGroup
	applied := make([]int, 4)
	errs := make([]error, 4)
	for k := range applied {
		wg.Add(1)
		go func() {
			defer wg.Done()
			conn, err := pgx.Connect(ctx, dbURL)
			if err != nil {
				errs[k] = err
				return
			}
			defer conn.Close(ctx)
			done, err := Apply(ctx, conn, "public", nil)
			applied[k], errs[k] = len(done), err
		}()
	}
	wg.Wait()
	total := 0
	for k := range applied {
		if errs[k] != nil {
			t.Fatalf("run %d: %v", k, errs[k])
		}
		total += applied[k]
	}
	if total != len(all) {
		t.Fatalf("%d migrations applied in all, want %d (each once)", total, len(all))
	}
}

func TestAChangedMigrationIsRefused(t *testing.T) {
	conn := pgtest.Connect(t, pgtest.Database(t))
	v1 := fstest.MapFS{"0001_first.sql": {Data: []byte("CREATE TABLE a (x int);")}}
	first, err := load(v1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := apply(ctx, conn, "public", first, nil); err != nil {
		t.Fatal(err)
	}
	v1["0001_first.sql"] = &fstest.MapFile{Data: []byte("CREATE TABLE a (x bigint);")}
	changed, _ := load(v1)
	_, err = apply(ctx, conn, "public", changed, nil)
	if err == nil || !strings.Contains(err.Error(), "changed after it was applied") {
		t.Fatalf("err = %v, want a refusal", err)
	}
}

func TestAFailingMigrationLeavesNoTrace(t *testing.T) {
	conn := pgtest.Connect(t, pgtest.Database(t))
	bad, _ := load(fstest.MapFS{
		"0001_ok.sql":  {Data: []byte("CREATE TABLE ok (x int);")},
		"0002_bad.sql": {Data: []byte("CREATE TABLE half (x int); SELECT no_such_function();")},
	})
	done, err := apply(ctx, conn, "public", bad, nil)
	if err == nil || len(done) != 1 || !strings.Contains(err.Error(), "0002_bad.sql") {
		t.Fatalf("done %v, err %v", done, err)
	}
	if got := strings.Join(tables(t, conn, "public"), ","); strings.Contains(got, "half") {
		t.Fatalf("the failed migration left a table: %s", got)
	}
}

func TestShadowSchemaAndNewerSchemas(t *testing.T) {
	conn := pgtest.Connect(t, pgtest.Database(t))
	if _, err := Apply(ctx, conn, "telemetra_shadow", nil); err != nil {
		t.Fatal(err)
	}
	if got := tables(t, conn, "telemetra_shadow"); len(got) < 6 {
		t.Fatalf("shadow schema tables: %v", got)
	}
	if got := tables(t, conn, "public"); len(got) != 0 {
		t.Fatalf("public was touched: %v", got)
	}
	// a newer binary migrated further: this one leaves it alone
	if _, err := conn.Exec(ctx, "INSERT INTO telemetra_shadow.schema_migrations (version, name, checksum) VALUES (9999, '9999_future.sql', 'x')"); err != nil {
		t.Fatal(err)
	}
	if done, err := Apply(ctx, conn, "telemetra_shadow", nil); err != nil || len(done) != 0 {
		t.Fatalf("with a newer version applied: %v, %v", done, err)
	}
}

func TestMigrationFileNames(t *testing.T) {
	if _, err := load(fstest.MapFS{"0001_a.sql": {}, "0001_b.sql": {}}); err == nil {
		t.Fatal("two migrations with one version must be refused")
	}
	got, _ := load(fstest.MapFS{"0002_b.sql": {}, "0001_a.sql": {}, "README.md": {}, "notes.sql": {}})
	if len(got) != 2 || got[0].Version != 1 || got[1].Version != 2 {
		t.Fatalf("loaded %v", got)
	}
}
