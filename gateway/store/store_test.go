package store

import (
	"context"
	"fmt"
	"hash/fnv"
	"io"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/axiomhq/hyperloglog"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"google.golang.org/protobuf/encoding/prototext"
	"google.golang.org/protobuf/proto"

	"github.com/telemetra/telemetra/internal/pgtest"
	"github.com/telemetra/telemetra/internal/testkit"
	"github.com/telemetra/telemetra/migrations"
)

func TestMain(m *testing.M) { testkit.VerifyNoLeaks(pgtest.M(m)) }

var ctx = context.Background()

// base is the start of the tests' first window.
var base = time.Date(2025, 10, 16, 10, 0, 0, 0, time.UTC)

func minute(n int) time.Time { return base.Add(time.Duration(n) * time.Minute) }

// testSchema is not public, so unqualified table names would not be found.
const testSchema = "telemetra_read"

// fixture is a migrated, empty projection and a Store reading it. The pool's sessions run in
// a time zone with a half-hour offset, so any bucketing that is not UTC-aligned shows.
type fixture struct {
	t     *testing.T
	pool  *pgxpool.Pool
	store *Store
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	dbURL := pgtest.Database(t)
	conn := pgtest.Connect(t, dbURL)
	if _, err := migrations.Apply(ctx, conn, testSchema, slog.New(slog.NewTextHandler(io.Discard, nil))); err != nil {
		t.Fatal(err)
	}
	cfg, err := pgxpool.ParseConfig(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	cfg.ConnConfig.RuntimeParams["timezone"] = "Asia/Kolkata"
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return &fixture{t: t, pool: pool, store: New(pool, testSchema)}
}

// row is a table row by column name.
type row map[string]any

// insert writes rows into a table of the test schema.
func (f *fixture) insert(table string, rows ...row) {
	f.t.Helper()
	for _, r := range rows {
		columns := make([]string, 0, len(r))
		for c := range r {
			columns = append(columns, c)
		}
		slices.Sort(columns)
		names := make([]string, len(columns))
		params := make([]string, len(columns))
		values := make([]any, len(columns))
		for k, c := range columns {
			names[k] = pgx.Identifier{c}.Sanitize()
			params[k] = fmt.Sprintf("$%d", k+1)
			values[k] = r[c]
		}
		query := "INSERT INTO " + pgx.Identifier{testSchema, table}.Sanitize() +
			" (" + strings.Join(names, ", ") + ") VALUES (" + strings.Join(params, ", ") + ")"
		if _, err := f.pool.Exec(ctx, query, values...); err != nil {
			f.t.Fatalf("insert into %s %v: %v", table, r, err)
		}
	}
}

// window is a one-minute window_aggregates row starting at minute n, final, version n+1;
// extra columns override.
func window(channel string, n int, extra row) row {
	r := row{"channel": channel, "window_start": minute(n), "window_end": minute(n + 1),
		"final": true, "version": int64(n + 1)}
	for c, v := range extra {
		r[c] = v
	}
	return r
}

// chatterHash identifies a chatter as the processor does (FNV-1a 64 of the username).
func chatterHash(id int) uint64 {
	h := fnv.New64a()
	_, _ = fmt.Fprintf(h, "user%d", id) // a hash.Hash never fails to Write
	return h.Sum64()
}

// mixedChatterHash is chatterHash through murmur3's 64-bit finalizer. Raw FNV-1a of similar
// short names leaves the top bits (HyperLogLog's register index) far from uniform: a dense
// sketch of 10,000 such names estimates ~900. Sparse sketches (up to ~16k chatters) are not
// affected; tests of the dense path use this.
func mixedChatterHash(id int) uint64 {
	k := chatterHash(id)
	k ^= k >> 33
	k *= 0xff51afd7ed558ccd
	k ^= k >> 33
	k *= 0xc4ceb9fe1a85ec53
	k ^= k >> 33
	return k
}

// sketchOf is the serialized HyperLogLog sketch of chatters [from, to), built as the
// processor builds it (New14, InsertHash, MarshalBinary).
func sketchOf(t *testing.T, from, to int, hash func(int) uint64) []byte {
	t.Helper()
	s := hyperloglog.New14()
	for id := from; id < to; id++ {
		s.InsertHash(hash(id))
	}
	b, err := s.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// chatters are the window columns of chatters [from, to).
func chatters(t *testing.T, from, to int) row {
	return row{"chatters_sketch": sketchOf(t, from, to, chatterHash), "unique_chatters": int64(to - from)}
}

func merge(rows ...row) row {
	out := row{}
	for _, r := range rows {
		for c, v := range r {
			out[c] = v
		}
	}
	return out
}

func assertProto(t *testing.T, what string, got, want proto.Message) {
	t.Helper()
	if !proto.Equal(got, want) {
		t.Errorf("%s:\n got  %s\n want %s", what, prototext.Format(got), prototext.Format(want))
	}
}

func within(got, want int64, fraction float64) bool {
	d := float64(got - want)
	return d <= fraction*float64(want) && -d <= fraction*float64(want)
}

func TestChannelExists(t *testing.T) {
	f := newFixture(t)
	f.insert("channels", row{"channel": "listed"})
	f.insert("window_aggregates", window("windowed", 0, nil))
	for channel, want := range map[string]bool{"listed": true, "windowed": true, "unknown": false} {
		got, err := f.store.ChannelExists(ctx, channel)
		if err != nil || got != want {
			t.Errorf("ChannelExists(%s) = %v, %v; want %v", channel, got, err, want)
		}
	}
}
