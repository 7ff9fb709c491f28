// Package replay rebuilds Telemetra's PostgreSQL projection from the Kafka topics: into a shadow
// schema, brought to exactly the live projector's position under the projection lock, compared
// row by row with the live one if asked, and swapped in under the live name in one transaction,
// so queries keep working during the rebuild. With RebuildState it first reprocesses the input
// topics into a new processor generation (new window logic) and projects that generation.
package replay

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/telemetra/telemetra/processors/window"
	"github.com/telemetra/telemetra/views/projector"
)

// Config configures a replay.
type Config struct {
	Brokers     []string
	DatabaseURL string
	// Schema is the live projection, replaced by the rebuilt one.
	Schema string
	// Shadow receives the rebuild (default <Schema>_replay); dropped and recreated first.
	Shadow string
	// Consumer names the projection's offsets (the live projector's, so it resumes after a swap).
	Consumer string
	// Generation is the processor generation whose topics are projected.
	Generation int
	// RebuildState first reprocesses the input topics into Generation (which must be new) with
	// Window, then projects its outputs. The processor runs until the swap.
	RebuildState bool
	Window       window.Config
	// Settle is how long the rebuilt processor keeps running after catching up with the inputs
	// before the projection is taken, so that windows closing by idleness are final in it.
	Settle time.Duration
	// Swap replaces the live schema with the rebuilt one; the replaced one is kept as
	// <Schema>_previous if KeepPrevious, else dropped.
	Swap         bool
	KeepPrevious bool
	// Verify compares the rebuilt projection with the live one at the same position before the
	// swap; differences cancel the swap unless SwapOnDifferences.
	Verify            bool
	SwapOnDifferences bool
	MaxDiffRows       int
	BatchSize         int
	ProgressEvery     time.Duration
	Now               func() time.Time
	Logger            *slog.Logger
}

func (c *Config) defaults() {
	if c.Schema == "" {
		c.Schema = "public"
	}
	if c.Shadow == "" {
		c.Shadow = c.Schema + "_replay"
	}
	if c.Consumer == "" {
		c.Consumer = "telemetra-projector"
	}
	if c.Generation <= 0 {
		c.Generation = 1
	}
	if c.ProgressEvery <= 0 {
		c.ProgressEvery = 5 * time.Second
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

func (c *Config) pollEvery() time.Duration { return min(c.ProgressEvery, 500*time.Millisecond) }

func (c *Config) previous() string { return c.Schema + "_previous" }

// Report says what a replay did.
type Report struct {
	// Events is the number of input events reprocessed (RebuildState).
	Events    int64
	StateTook time.Duration
	// Records is the number of output records projected into the shadow schema.
	Records        int64
	ProjectionTook time.Duration
	// Diff is the comparison with the live projection (Verify).
	Diff     *Diff
	Swapped  bool
	Previous string // the replaced schema, if kept
}

// ErrDifferences means Verify found differences, so the rebuilt projection was not swapped in.
var ErrDifferences = errors.New("the rebuilt projection differs from the live one")

// ErrNoLiveProjection means the live schema does not exist or no projector has written to it, so
// there is nothing to verify against or replace (most likely a mistyped Schema). Run refuses
// before it creates anything.
var ErrNoLiveProjection = errors.New("no live projection")

// Run performs the replay.
func Run(ctx context.Context, cfg Config) (Report, error) {
	cfg.defaults()
	var rep Report
	if cfg.Shadow == cfg.Schema || cfg.Shadow == cfg.previous() {
		return rep, fmt.Errorf("shadow schema %q must differ from %q and %q", cfg.Shadow, cfg.Schema, cfg.previous())
	}
	pool, err := pgxpool.New(ctx, cfg.DatabaseURL)
	if err != nil {
		return rep, fmt.Errorf("database config: %w", err)
	}
	defer pool.Close()

	liveGen, err := liveGeneration(ctx, pool, cfg.Schema)
	if err != nil {
		return rep, err
	}
	if liveGen == 0 {
		return rep, noLiveProjection(ctx, pool, cfg.Schema)
	}
	if cfg.RebuildState {
		if cfg.Generation <= max(liveGen, 1) {
			return rep, fmt.Errorf("rebuilding the state needs a new generation: schema %s projects generation %d, asked for %d", cfg.Schema, max(liveGen, 1), cfg.Generation)
		}
		rebuild, events, took, err := rebuildState(ctx, cfg)
		if err != nil {
			return rep, fmt.Errorf("rebuild state: %w", err)
		}
		rep.Events, rep.StateTook = events, took
		defer func() {
			if err := rebuild.stop(); err != nil {
				cfg.Logger.Error("processor of the rebuilt generation stopped with an error", "err", err)
			}
		}()
	}

	shadow := projector.Config{
		Brokers: cfg.Brokers, DatabaseURL: cfg.DatabaseURL, Schema: cfg.Shadow, Consumer: cfg.Consumer,
		Generation: cfg.Generation, BatchSize: cfg.BatchSize, Logger: cfg.Logger.With("schema", cfg.Shadow),
	}
	if _, err := pool.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{cfg.Shadow}.Sanitize()+" CASCADE"); err != nil {
		return rep, fmt.Errorf("drop old shadow schema %s: %w", cfg.Shadow, err)
	}
	if err := projector.Prepare(ctx, pool, shadow); err != nil {
		return rep, fmt.Errorf("prepare shadow schema: %w", err)
	}
	// the live projector's position is the target when it projects the same topics
	sameTopics := liveGen == cfg.Generation
	target := func(ctx context.Context) (projector.Offsets, error) {
		if sameTopics {
			live, err := projector.StoredOffsets(ctx, pool, projector.Config{Schema: cfg.Schema, Consumer: cfg.Consumer})
			if err != nil {
				return nil, err
			}
			if len(live) > 0 {
				return live, nil
			}
		}
		return endOffsets(ctx, cfg.Brokers, projector.Topics(cfg.Generation))
	}

	prog := newProgress("projection", "records", cfg.ProgressEvery, cfg.Now, cfg.Logger)
	cfg.Logger.Info("replaying the projection", "generation", cfg.Generation, "shadow", cfg.Shadow, "live", cfg.Schema)
	// rounds without the lock while the live projector moves on, until little is left
	for round := 0; round < 10; round++ {
		before := prog.done
		if err := catchUp(ctx, pool, shadow, target, prog); err != nil {
			return rep, err
		}
		if prog.done-before < int64(max(shadow.BatchSize, 2000)) {
			break
		}
	}

	// the last round holds the live projection's lock: no live batch commits until the swap
	tx, err := pool.Begin(ctx)
	if err != nil {
		return rep, fmt.Errorf("begin swap: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	if err := projector.LockForSwap(ctx, tx, cfg.Schema); err != nil {
		return rep, err
	}
	if err := catchUp(ctx, pool, shadow, target, prog); err != nil {
		return rep, err
	}
	rep.Records, rep.ProjectionTook = prog.done, prog.finish()

	if cfg.Verify {
		exists, err := schemaExists(ctx, tx, cfg.Schema)
		if err != nil {
			return rep, err
		}
		if !exists { // dropped while the shadow was built: never report a verify that did not compare
			return rep, fmt.Errorf("%w: schema %s was dropped during the replay, nothing to verify against; the rebuild is kept in schema %s, not swapped",
				ErrNoLiveProjection, cfg.Schema, cfg.Shadow)
		}
		d, err := Compare(ctx, tx, cfg.Schema, cfg.Shadow, CompareOptions{AcrossGenerations: !sameTopics, MaxRows: cfg.MaxDiffRows})
		if err != nil {
			return rep, err
		}
		rep.Diff = &d
		cfg.Logger.Info("verified the rebuilt projection", "rows", d.Rows, "differing", d.Total)
		if !d.Identical() && cfg.Swap && !cfg.SwapOnDifferences {
			return rep, fmt.Errorf("%w: %d rows; kept in schema %s, not swapped", ErrDifferences, d.Total, cfg.Shadow)
		}
	}
	if !cfg.Swap {
		return rep, tx.Commit(ctx)
	}
	if err := swap(ctx, tx, cfg); err != nil {
		return rep, err
	}
	if err := tx.Commit(ctx); err != nil {
		return rep, fmt.Errorf("commit swap: %w", err)
	}
	rep.Swapped = true
	cfg.Logger.Info("rebuilt projection swapped in", "schema", cfg.Schema, "generation", cfg.Generation)
	if cfg.KeepPrevious {
		rep.Previous = cfg.previous()
	} else if _, err := pool.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{cfg.previous()}.Sanitize()+" CASCADE"); err != nil {
		return rep, fmt.Errorf("drop the replaced schema %s: %w", cfg.previous(), err)
	}
	return rep, nil
}

func catchUp(ctx context.Context, pool *pgxpool.Pool, shadow projector.Config, target func(context.Context) (projector.Offsets, error), prog *progress) error {
	until, err := target(ctx)
	if err != nil {
		return err
	}
	have, err := projector.StoredOffsets(ctx, pool, shadow)
	if err != nil {
		return err
	}
	for topic, parts := range until {
		for p, limit := range parts {
			prog.grow(max(limit-have[topic][p], 0))
		}
	}
	if err := projector.CatchUp(ctx, pool, shadow, until, prog.add); err != nil {
		return fmt.Errorf("project into shadow schema %s: %w", shadow.Schema, err)
	}
	return nil
}

// swap renames the live schema to <schema>_previous and the shadow to the live name, in tx.
func swap(ctx context.Context, tx pgx.Tx, cfg Config) error {
	live, shadow, prev := pgx.Identifier{cfg.Schema}.Sanitize(), pgx.Identifier{cfg.Shadow}.Sanitize(), pgx.Identifier{cfg.previous()}.Sanitize()
	exists, err := schemaExists(ctx, tx, cfg.Schema)
	if err != nil {
		return err
	}
	stmts := []string{"DROP SCHEMA IF EXISTS " + prev + " CASCADE"}
	if exists {
		stmts = append(stmts, "ALTER SCHEMA "+live+" RENAME TO "+prev)
	}
	stmts = append(stmts, "ALTER SCHEMA "+shadow+" RENAME TO "+live,
		"UPDATE "+live+".projection_info SET rebuilt_at = now()")
	for _, s := range stmts {
		if _, err := tx.Exec(ctx, s); err != nil {
			return fmt.Errorf("swap (%s): %w", s, err)
		}
	}
	return nil
}

type queryRower interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

func schemaExists(ctx context.Context, q queryRower, schema string) (bool, error) {
	var ok bool
	err := q.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)", schema).Scan(&ok)
	if err != nil {
		return false, fmt.Errorf("look up schema %s: %w", schema, err)
	}
	return ok, nil
}

// noLiveProjection says why schema holds no projection, naming it.
func noLiveProjection(ctx context.Context, pool *pgxpool.Pool, schema string) error {
	exists, err := schemaExists(ctx, pool, schema)
	if err != nil {
		return err
	}
	why := "does not exist"
	if exists {
		why = "exists but holds no projection (no projector has written to it)"
	}
	return fmt.Errorf("%w: schema %s %s, so there is nothing to verify against or replace; "+
		"check --schema (telemetra dev and telemetra project use public unless told otherwise); "+
		"a first projection is built by telemetra project, not by a replay", ErrNoLiveProjection, schema, why)
}

// liveGeneration is the generation the live schema projects, 0 if it holds no projection yet.
func liveGeneration(ctx context.Context, pool *pgxpool.Pool, schema string) (int, error) {
	table := pgx.Identifier{schema, "projection_info"}.Sanitize()
	var exists bool
	if err := pool.QueryRow(ctx, "SELECT to_regclass($1) IS NOT NULL", table).Scan(&exists); err != nil {
		return 0, fmt.Errorf("look up %s: %w", table, err)
	}
	if !exists {
		return 0, nil
	}
	var gen int
	err := pool.QueryRow(ctx, "SELECT generation FROM "+table).Scan(&gen)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("read the generation of schema %s: %w", schema, err)
	}
	return gen, nil
}

func endOffsets(ctx context.Context, brokers []string, topics []string) (projector.Offsets, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		return nil, fmt.Errorf("admin client: %w", err)
	}
	defer cl.Close()
	ends, err := kadm.NewClient(cl).ListEndOffsets(ctx, topics...)
	if err != nil {
		return nil, fmt.Errorf("list end offsets: %w", err)
	}
	out := projector.Offsets{}
	var missing error
	ends.Each(func(o kadm.ListedOffset) {
		if o.Err != nil {
			missing = fmt.Errorf("end offset of %s/%d: %w", o.Topic, o.Partition, o.Err)
			return
		}
		if out[o.Topic] == nil {
			out[o.Topic] = map[int32]int64{}
		}
		out[o.Topic][o.Partition] = o.Offset
	})
	return out, missing
}
