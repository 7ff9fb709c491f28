package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/telemetra/telemetra/internal/kafka"
	"github.com/telemetra/telemetra/internal/pgcluster"
	"github.com/telemetra/telemetra/views/projector"
)

// prepareDataDir makes --data-dir ready (emptied first with --fresh) and reports whether the
// run starts without history: no data dir at all, or one with nothing in it yet.
func (d *devCmd) prepareDataDir() (fresh bool, err error) {
	if d.DataDir == "" {
		return true, nil
	}
	if d.Fresh {
		if err := os.RemoveAll(d.DataDir); err != nil {
			return false, fmt.Errorf("--fresh: remove %s: %w", d.DataDir, err)
		}
	}
	_, err = os.Stat(filepath.Join(d.DataDir, "kafka"))
	fresh = errors.Is(err, os.ErrNotExist)
	if err := os.MkdirAll(d.DataDir, 0o755); err != nil {
		return false, fmt.Errorf("create --data-dir %s: %w", d.DataDir, err)
	}
	return fresh, nil
}

// simulation is the simulation's seed and run: --seed, or else the seed kept in the data dir,
// or else a new one (kept there). A restart on a kept seed simulates the same channels, with
// the same sizes, as the history it continues, in a run of its own (producer.Config.Run), so
// no event id of the earlier run comes again. --seed, or no data dir, is run 0.
func (d *devCmd) simulation(now time.Time) (seed, run uint64, err error) {
	if d.Seed != 0 {
		return d.Seed, 0, nil
	}
	if d.DataDir == "" {
		return rand.Uint64(), 0, nil
	}
	path := filepath.Join(d.DataDir, "seed")
	if b, err := os.ReadFile(path); err == nil {
		if seed, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64); err == nil && seed != 0 {
			return seed, uint64(now.UnixNano()) | 1, nil
		}
	}
	seed = rand.Uint64() | 1 // never 0, which means "none"
	if err := os.WriteFile(path, []byte(strconv.FormatUint(seed, 10)+"\n"), 0o644); err != nil {
		return 0, 0, fmt.Errorf("keep the simulation's seed in the data dir: %w", err)
	}
	return seed, 0, nil
}

// startPostgres starts the private PostgreSQL: kept in the data dir when there is one. A kept
// cluster that cannot start (as root, PostgreSQL runs as user postgres, who may not be allowed
// into the data dir's parents) falls back to a throwaway one, so `make run` still runs.
func (d *devCmd) startPostgres(ctx context.Context, logger *slog.Logger) (*pgcluster.Cluster, error) {
	if d.DataDir == "" {
		return pgcluster.Start(ctx, "telemetra")
	}
	c, err := pgcluster.Open(ctx, filepath.Join(d.DataDir, "postgres"), "telemetra")
	if err == nil || errors.Is(err, pgcluster.ErrNoBinaries) {
		return c, err
	}
	logger.Warn("cannot keep the PostgreSQL projection in the data dir; using a throwaway one, so its history ends with this run",
		"data_dir", d.DataDir, "err", err)
	return pgcluster.Start(ctx, "telemetra")
}

// trimPeriodically drops, every minute, the stream records older than the retention that every
// reader has read (kafka.TrimConsumed): the embedded broker otherwise keeps all of them, and its
// memory grows for as long as it runs. The projector keeps its offsets in PostgreSQL, not in
// Kafka, so they are read from there (dbURL; empty: no projector). The group table is compacted
// instead (compactPeriodically).
func trimPeriodically(ctx context.Context, broker *kafka.Embedded, dbURL string, retention time.Duration, logger *slog.Logger) {
	if retention <= 0 {
		return
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(broker.Addr()))
	if err != nil {
		logger.Warn("no trimming of the embedded broker", "err", err)
		return
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	var pool *pgxpool.Pool
	if dbURL != "" {
		if pool, err = pgxpool.New(ctx, dbURL); err != nil {
			logger.Warn("no trimming of the embedded broker", "err", err)
			return
		}
		defer pool.Close()
	}
	// the dead-letter and late topics are kept whole: they are small, and what they hold is
	// for a person to look at
	topics := append(kafka.InputTopics(), kafka.TopicAggregates, kafka.TopicMoments)
	tick := time.NewTicker(time.Minute)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		var readers []kafka.Reader
		if pool != nil {
			cfg := projector.Config{}
			stored, err := projector.StoredOffsets(ctx, pool, cfg)
			if err != nil {
				// without the projector's progress nothing it reads may go
				logger.Debug("trimming waits for the projector's offsets", "err", err)
				continue
			}
			readers = append(readers, kafka.Reader{Topics: projector.Topics(1), Next: stored})
		}
		deleted, err := kafka.TrimConsumed(ctx, adm, topics, retention, time.Now(), readers...)
		if err != nil && ctx.Err() == nil {
			logger.Warn("trimming the embedded broker failed; the next minute tries again", "err", err)
			continue
		}
		logger.Debug("trimmed the embedded broker", "records_deleted", deleted, "retention", retention)
	}
}

// grpcurlCommand is how the banner calls grpcurl: bin/grpcurl when `make tools` put it there,
// else grpcurl from PATH; hint says how to get it when neither exists.
func grpcurlCommand() (command, hint string) {
	if st, err := os.Stat(filepath.Join("bin", "grpcurl")); err == nil && !st.IsDir() {
		return filepath.Join("bin", "grpcurl"), ""
	}
	if _, err := exec.LookPath("grpcurl"); err == nil {
		return "grpcurl", ""
	}
	return "grpcurl", "\n  (grpcurl is not installed: `make tools` puts it in bin/)"
}
