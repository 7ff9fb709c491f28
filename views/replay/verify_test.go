package replay

import (
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/telemetra/telemetra/internal/kafka/kafkatest"
	"github.com/telemetra/telemetra/internal/pgtest"
	"github.com/telemetra/telemetra/migrations"
)

// TestCompareReportsEachDifferingRow builds two small projections by hand and checks that every
// kind of difference is reported with its key and columns, and bookkeeping columns are not.
func TestCompareReportsEachDifferingRow(t *testing.T) {
	conn, err := pgx.Connect(ctx, pgtest.Database(t))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	for _, schema := range []string{"live", "rebuilt"} {
		if _, err := migrations.Apply(ctx, conn, schema, kafkatest.Quiet()); err != nil {
			t.Fatal(err)
		}
		if _, err := conn.Exec(ctx, `
			INSERT INTO `+schema+`.window_aggregates (channel, window_start, window_end, final, version, chat_messages)
			VALUES ('a', '2025-10-16 10:00Z', '2025-10-16 10:01Z', true, 3, 10),
			       ('a', '2025-10-16 10:01Z', '2025-10-16 10:02Z', true, 3, 20)`); err != nil {
			t.Fatal(err)
		}
	}
	for _, stmt := range []string{
		// bookkeeping only: not a difference
		`UPDATE rebuilt.window_aggregates SET projected_at = now() + interval '1 hour'`,
		// changed content
		`UPDATE rebuilt.window_aggregates SET chat_messages = 21, final = false WHERE window_start = '2025-10-16 10:01Z'`,
		// a row only on one side each
		`INSERT INTO live.moments (channel, id, kind, at) VALUES ('a', 'm1', 'chat_spike', '2025-10-16 10:01Z')`,
		`INSERT INTO rebuilt.channels (channel, live) VALUES ('a', true)`,
	} {
		if _, err := conn.Exec(ctx, stmt); err != nil {
			t.Fatal(err)
		}
	}

	d, err := Compare(ctx, conn, "live", "rebuilt", CompareOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if d.Total != 3 || d.Rows["window_aggregates"] != 2 || d.Differ["window_aggregates"] != 1 {
		t.Fatalf("diff %+v", d)
	}
	var got []string
	for _, s := range d.Samples {
		got = append(got, s.String())
	}
	want := []string{
		"channels channel=a: only in the rebuilt projection",
		"window_aggregates channel=a window_start=2025-10-16T10:01:00+00:00: chat_messages live=20 rebuilt=21, final live=true rebuilt=false",
		"moments channel=a id=m1: only in the live projection",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("differences:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	// across generations, versions and emission times are not compared
	if _, err := conn.Exec(ctx, `UPDATE rebuilt.window_aggregates SET version = 9, emitted_at = now() WHERE window_start = '2025-10-16 10:00Z'`); err != nil {
		t.Fatal(err)
	}
	d, err = Compare(ctx, conn, "live", "rebuilt", CompareOptions{AcrossGenerations: true, MaxRows: 1})
	if err != nil {
		t.Fatal(err)
	}
	if d.Total != 3 || len(d.Samples) != 1 {
		t.Fatalf("across generations: %+v", d)
	}
}
