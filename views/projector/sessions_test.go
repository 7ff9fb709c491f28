package projector

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/telemetra/telemetra/internal/kafka"
	"github.com/telemetra/telemetra/internal/pgtest"
)

// TestABatchRefreshesEverySessionItTouches: one batch carries the windows of several channels'
// sessions, each summarised from its own windows (one statement for all of them); a window
// re-emitted with another session moves there, and the session it left, now without windows,
// is gone.
func TestABatchRefreshesEverySessionItTouches(t *testing.T) {
	cfg := Config{DatabaseURL: pgtest.Database(t), Logger: quiet}
	cfg.defaults()
	pool := newPool(t, cfg)
	session := func(offset time.Duration) string { return fmt.Sprint(t0.Add(offset).Unix()) }
	first, second := session(0), session(-time.Hour)

	var records []*kgo.Record
	offset := int64(0)
	add := func(channel string, minute int, chats int64, sessionID string) {
		w := window(channel, minute, true, 1, chats)
		w.Status.SessionId = sessionID
		records = append(records, record(kafka.TopicAggregates, offset, w))
		offset++
	}
	add("alpha", 0, 10, first)
	add("alpha", 1, 20, first)
	add("beta", 0, 5, first)
	add("gamma", 0, 7, second)
	if err := write(ctx, pool, cfg, decoded(t, cfg, records...)); err != nil {
		t.Fatal(err)
	}
	want := []string{"alpha/" + first + ": 30 messages", "beta/" + first + ": 5 messages", "gamma/" + second + ": 7 messages"}
	if got := sessionSummaries(t, pool); !slices.Equal(got, want) {
		t.Fatalf("sessions %v, want %v", got, want)
	}

	// gamma's window is re-emitted with the other session: it moves, and gamma's old session
	// has no window left
	moved := window("gamma", 0, true, 2, 8)
	moved.Status.SessionId = first
	records = records[:0]
	records = append(records, record(kafka.TopicAggregates, offset, moved))
	if err := write(ctx, pool, cfg, decoded(t, cfg, records...)); err != nil {
		t.Fatal(err)
	}
	want = []string{"alpha/" + first + ": 30 messages", "beta/" + first + ": 5 messages", "gamma/" + first + ": 8 messages"}
	if got := sessionSummaries(t, pool); !slices.Equal(got, want) {
		t.Fatalf("after the move, sessions %v, want %v", got, want)
	}
}

// sessionSummaries lists the stream sessions as "channel/session: N messages", in order.
func sessionSummaries(t *testing.T, pool *pgxpool.Pool) []string {
	t.Helper()
	rows, err := pool.Query(ctx, "SELECT channel || '/' || session_id || ': ' || chat_messages || ' messages' FROM stream_sessions ORDER BY channel, session_id")
	if err != nil {
		t.Fatal(err)
	}
	got, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return got
}
