package store

import (
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/telemetra/telemetra/internal/pgtest"
	"github.com/telemetra/telemetra/migrations"
	"github.com/telemetra/telemetra/views/projector"
)

func TestNewestEmitIsThatOfTheNewestWindow(t *testing.T) {
	f := newFixture(t)
	if _, ok, err := f.store.NewestEmit(ctx); err != nil || ok {
		t.Fatalf("NewestEmit of no windows: ok %t, %v; want none", ok, err)
	}
	emitted := func(d time.Duration) row { return row{"emitted_at": minute(10).Add(d)} }
	f.insert("window_aggregates",
		window("a", 8, emitted(-time.Minute)),
		window("a", 9, row{"emitted_at": minute(30)}), // a replayed old window: not the newest window
		window("b", 10, emitted(4*time.Second)),
		window("a", 10, emitted(7*time.Second)),
		window("c", 10, nil), // no emit time
	)
	at, ok, err := f.store.NewestEmit(ctx)
	if err != nil || !ok || !at.Equal(minute(10).Add(7*time.Second)) {
		t.Errorf("NewestEmit = %v, %t, %v; want %v", at, ok, err, minute(10).Add(7*time.Second))
	}
}

func TestNewestEmitReadsTheIndexNotTheTable(t *testing.T) {
	f := newFixture(t)
	var plan strings.Builder
	rows, err := f.pool.Query(ctx, "EXPLAIN (COSTS OFF) "+newestEmitSQL(f.store.tables))
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			t.Fatal(err)
		}
		plan.WriteString(line + "\n")
	}
	rows.Close()
	if strings.Contains(plan.String(), "Seq Scan") || !strings.Contains(plan.String(), "window_aggregates_window_start_idx") {
		t.Errorf("the plan scans the table or misses the window_start index:\n%s", plan.String())
	}
}

func TestProjectorOffsetsAreTheStoredOnes(t *testing.T) {
	f := newFixture(t)
	f.insert("projector_offsets",
		row{"consumer": "telemetra-projector", "topic": "telemetra.aggregates", "partition": int32(0), "next_offset": int64(12)},
		row{"consumer": "telemetra-projector", "topic": "telemetra.moments", "partition": int32(2), "next_offset": int64(3)},
		row{"consumer": "another", "topic": "telemetra.aggregates", "partition": int32(0), "next_offset": int64(99)},
	)
	got, err := f.store.ProjectorOffsets(ctx, projector.Config{Schema: testSchema})
	if err != nil {
		t.Fatal(err)
	}
	if got["telemetra.aggregates"][0] != 12 || got["telemetra.moments"][2] != 3 || len(got) != 2 {
		t.Errorf("ProjectorOffsets = %v; want the default consumer's two", got)
	}
}

// BenchmarkNewestEmit reads the newest projected window's emit time with 1,000 and 100,000
// channels, each with a window at each of the last three window starts: the query reads the
// rows of the newest start through the index, never the whole table.
func BenchmarkNewestEmit(b *testing.B) {
	for _, channels := range []int{1000, 100_000} {
		b.Run(fmt.Sprintf("channels=%d", channels), func(b *testing.B) {
			dbURL := pgtest.Database(b)
			conn := pgtest.Connect(b, dbURL)
			if _, err := migrations.Apply(ctx, conn, testSchema, slog.New(slog.NewTextHandler(io.Discard, nil))); err != nil {
				b.Fatal(err)
			}
			if _, err := conn.Exec(ctx, `INSERT INTO `+testSchema+`.window_aggregates (channel, window_start, window_end, final, version, emitted_at)
SELECT 'channel_' || c, $1::timestamptz + w * interval '1 minute', $1::timestamptz + (w + 1) * interval '1 minute', true, 1,
       $1::timestamptz + (w + 1) * interval '1 minute' + (c % 1000) * interval '1 millisecond'
FROM generate_series(1, $2::int) c, generate_series(0, 2) w`, base, channels); err != nil {
				b.Fatal(err)
			}
			if _, err := conn.Exec(ctx, "ANALYZE "+testSchema+".window_aggregates"); err != nil {
				b.Fatal(err)
			}
			pool, err := pgxpool.New(ctx, dbURL)
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(pool.Close)
			s := New(pool, testSchema)
			want := minute(3).Add(time.Duration(min(channels, 1000)-1) * time.Millisecond)
			for b.Loop() {
				if at, ok, err := s.NewestEmit(ctx); err != nil || !ok || !at.Equal(want) {
					b.Fatalf("NewestEmit = %v, %t, %v; want %v", at, ok, err, want)
				}
			}
		})
	}
}
