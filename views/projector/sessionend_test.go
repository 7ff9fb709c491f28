package projector

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/telemetra/telemetra/internal/kafka"
	"github.com/telemetra/telemetra/internal/pgtest"
	pb "github.com/telemetra/telemetra/proto/telemetra/v1"
)

// sessionWindow is minute's window of the session started at startMinute: live until endMinute's
// stream_end (endMinute < 0: no end seen yet).
func sessionWindow(channel string, minute, startMinute, endMinute int) *pb.WindowAggregate {
	w := window(channel, minute, true, 1, 10)
	started := t0.Add(time.Duration(startMinute) * time.Minute)
	w.Status = &pb.StreamStatus{Live: true, Title: "t", SessionId: fmt.Sprint(started.Unix()), StartedAt: timestamppb.New(started)}
	if endMinute >= 0 && minute >= endMinute {
		w.Status.Live = false
		w.Status.EndedAt = timestamppb.New(t0.Add(time.Duration(endMinute)*time.Minute + 30*time.Second))
	}
	return w
}

// TestASessionKeepsItsEndWhenTheNextStartsInTheSameBatch: a history or a replay projects a
// session's end and the next session's start in one batch; the ended session must still end
// (before 0006 it stayed live: its end was read from the channel's row, which holds only the
// latest session's). A session whose end came in the same window as the next start ends at
// the next start.
func TestASessionKeepsItsEndWhenTheNextStartsInTheSameBatch(t *testing.T) {
	cfg := Config{DatabaseURL: pgtest.Database(t), Logger: quiet}
	cfg.defaults()
	pool := newPool(t, cfg)
	var records []*pb.WindowAggregate
	// session at minute 0 ends at 2:30; session at 5 ends at 7:30 in the window of the next
	// start (at 7, the window's latest event), so its windows never show the end
	for m := 0; m <= 2; m++ {
		records = append(records, sessionWindow("demo_stream", m, 0, 2))
	}
	for m := 5; m <= 6; m++ {
		records = append(records, sessionWindow("demo_stream", m, 5, -1))
	}
	for m := 7; m <= 9; m++ {
		records = append(records, sessionWindow("demo_stream", m, 7, -1))
	}
	var batch []*kgo.Record
	for k, w := range records {
		batch = append(batch, record(kafka.TopicAggregates, int64(k), w))
	}
	if err := write(ctx, pool, cfg, decoded(t, cfg, batch...)); err != nil {
		t.Fatal(err)
	}
	want := map[int]*time.Time{
		0: ptr(t0.Add(2*time.Minute + 30*time.Second)),
		5: ptr(t0.Add(7 * time.Minute)),
		7: nil, // live
	}
	for start, end := range want {
		got := sessionEnd(t, pool, t0.Add(time.Duration(start)*time.Minute))
		switch {
		case end == nil && got != nil:
			t.Errorf("session at minute %d ended at %v, want live", start, got)
		case end != nil && (got == nil || !got.Equal(*end)):
			t.Errorf("session at minute %d ended at %v, want %v", start, got, *end)
		}
	}
}

func ptr[T any](v T) *T { return &v }

func sessionEnd(t *testing.T, pool *pgxpool.Pool, started time.Time) *time.Time {
	t.Helper()
	var end *time.Time
	err := pool.QueryRow(ctx, "SELECT ended_at FROM stream_sessions WHERE channel = 'demo_stream' AND session_id = $1",
		fmt.Sprint(started.Unix())).Scan(&end)
	if errors.Is(err, pgx.ErrNoRows) {
		t.Fatalf("no session started at %v", started)
	}
	if err != nil {
		t.Fatal(err)
	}
	return end
}

// TestASessionWithoutASeenEndEndsAtTheNextStartBatchedOrNot: a session whose windows never saw
// its end ends at the next session's start, whether that start is projected in the same batch
// (a replay) or in a later one (live): a rebuild must equal the live projection.
func TestASessionWithoutASeenEndEndsAtTheNextStartBatchedOrNot(t *testing.T) {
	cfg := Config{DatabaseURL: pgtest.Database(t), Logger: quiet}
	cfg.defaults()
	pool := newPool(t, cfg)
	first := []*kgo.Record{record(kafka.TopicAggregates, 0, sessionWindow("demo_stream", 0, 0, -1)),
		record(kafka.TopicAggregates, 1, sessionWindow("demo_stream", 1, 0, -1))}
	second := []*kgo.Record{record(kafka.TopicAggregates, 2, sessionWindow("demo_stream", 2, 2, -1))}
	for _, batch := range [][]*kgo.Record{first, second} {
		if err := write(ctx, pool, cfg, decoded(t, cfg, batch...)); err != nil {
			t.Fatal(err)
		}
	}
	if got, want := sessionEnd(t, pool, t0), t0.Add(2*time.Minute); got == nil || !got.Equal(want) {
		t.Errorf("the first session ended at %v, want %v (the next start, projected a batch later)", got, want)
	}
	if got := sessionEnd(t, pool, t0.Add(2*time.Minute)); got != nil {
		t.Errorf("the live session ended at %v", got)
	}
}
