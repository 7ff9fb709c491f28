package main

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/telemetra/telemetra/internal/testkit"
)

// historyTotals sums the final windows that ended before cut: what a restart must keep as it is.
type historyTotals struct{ windows, chat, late int64 }

func queryHistory(url string, cut time.Time) (historyTotals, error) {
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return historyTotals{}, err
	}
	defer conn.Close(ctx)
	var h historyTotals
	err = conn.QueryRow(ctx, `SELECT count(*), coalesce(sum(chat_messages), 0), coalesce(sum(late_events), 0)
		FROM window_aggregates WHERE final AND window_end < $1`, cut).Scan(&h.windows, &h.chat, &h.late)
	return h, err
}

// TestDevKeepsItsHistoryAcrossRestarts: `telemetra dev --data-dir D --history 10m` writes ten
// minutes of past events before going live, and their final windows reach PostgreSQL. Stopped
// with Ctrl-C and started again on D, it finds the same history (the broker's log and the
// projection were kept) and does not write it again: no window of it changes, and no event of
// a second copy turns up late.
func TestDevKeepsItsHistoryAcrossRestarts(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the whole pipeline twice")
	}
	dir := filepath.Join(testkit.EnterableTempDir(t), "data")
	cut := time.Now().Add(-2 * time.Minute) // well inside the history

	d := startDev(t, "--data-dir", dir, "--history", "10m")
	if d.databaseURL == "" {
		t.Fatal("dev printed no PostgreSQL URL: the test needs the projection")
	}
	var before historyTotals
	testkit.WaitFor(t, "the history's final windows in PostgreSQL", 2*time.Minute, func() error {
		h, err := queryHistory(d.databaseURL, cut)
		if err != nil {
			return err
		}
		if h.windows < 10 || h != before {
			before = h
			return fmt.Errorf("%+v so far, and still changing", h)
		}
		return nil
	})
	if stopped, err := d.stop(30 * time.Second); !stopped || err != nil {
		t.Fatalf("first run after Ctrl-C: stopped %v, %v", stopped, err)
	}

	again := startDev(t, "--data-dir", dir, "--history", "10m")
	again.awaitLiveData(t, 60*time.Second)
	time.Sleep(5 * time.Second) // a second copy of the history would be read by now (it is not written)
	after, err := queryHistory(again.databaseURL, cut)
	if err != nil {
		t.Fatal(err)
	}
	if after != before {
		t.Errorf("the history before %v changed across the restart: %+v, then %+v", cut.Format(time.RFC3339), before, after)
	}
	if stopped, err := again.stop(30 * time.Second); !stopped || err != nil {
		t.Fatalf("second run after Ctrl-C: stopped %v, %v", stopped, err)
	}
}
