package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/telemetra/telemetra/views/replay"
)

type replayCmd struct {
	kafkaFlags
	postgresFlags
	windowFlags
	Shadow            string        `name:"shadow-schema" help:"Schema the rebuild goes into (default: <schema>_replay); dropped and recreated first."`
	Consumer          string        `name:"consumer" default:"telemetra-projector" help:"The live projector's --consumer: the rebuild catches up to its stored offsets and it resumes from the rebuilt ones."`
	Generation        int           `name:"generation" env:"TELEMETRA_GENERATION" default:"1" help:"Project the output topics of this processor generation."`
	RebuildState      bool          `name:"rebuild-state" help:"First reprocess the input topics into --generation (a new one, with the --window-* settings given here), then project it."`
	Settle            time.Duration `name:"settle" help:"With --rebuild-state: keep processing this long after catching up with the inputs, so the last windows close (default: --allowed-lateness + 2 × --producer-delay + 5s)."`
	NoSwap            bool          `name:"no-swap" help:"Build (and verify) the shadow schema but leave the live one in place."`
	KeepPrevious      bool          `name:"keep-previous" help:"Keep the replaced schema as <schema>_previous instead of dropping it."`
	Verify            bool          `name:"verify" help:"Compare the rebuilt projection with the live one, row by row, at the same position; differences cancel the swap."`
	SwapOnDifferences bool          `name:"swap-on-differences" help:"With --verify: swap even if rows differ (expected when the window logic changed)."`
	MaxDiffs          int           `name:"max-diffs" default:"50" help:"Differing rows printed by --verify (all are counted)."`
	BatchSize         int           `name:"batch-size" default:"2000" help:"Most records written in one transaction."`
	ProgressEvery     time.Duration `name:"progress-every" default:"5s" help:"Log progress (records/s, lag, ETA) this often."`
}

func (r *replayCmd) Run(ctx context.Context, g *globals) error {
	wcfg := r.config()
	if err := wcfg.Validate(); err != nil {
		return err
	}
	settle := r.Settle
	if settle <= 0 {
		settle = wcfg.AllowedLateness + 2*wcfg.ProducerDelay + 5*time.Second
	}
	rep, err := replay.Run(ctx, replay.Config{
		Brokers: r.Brokers, DatabaseURL: r.url(), Schema: r.Schema, Shadow: r.Shadow, Consumer: r.Consumer,
		Generation: r.Generation, RebuildState: r.RebuildState, Window: wcfg, Settle: settle,
		Swap: !r.NoSwap, KeepPrevious: r.KeepPrevious, Verify: r.Verify, SwapOnDifferences: r.SwapOnDifferences,
		MaxDiffRows: r.MaxDiffs, BatchSize: r.BatchSize, ProgressEvery: r.ProgressEvery,
		Logger: g.logger.With("role", "replay"),
	})
	if err == nil || rep != (replay.Report{}) { // a replay refused at the start has nothing to report
		if _, werr := io.WriteString(g.stdout, report(rep)); werr != nil && err == nil {
			err = werr
		}
	}
	if errors.Is(err, replay.ErrDifferences) {
		return exitError{code: 3, msg: err.Error()}
	}
	return err
}

// report renders what a replay did, for the terminal.
func report(rep replay.Report) string {
	var b strings.Builder
	w := &b
	if rep.Events > 0 {
		fmt.Fprintf(w, "state:      %d events reprocessed in %s (%.0f events/s)\n", rep.Events, rep.StateTook.Round(time.Millisecond), perSecond(rep.Events, rep.StateTook))
	}
	fmt.Fprintf(w, "projection: %d records replayed in %s (%.0f records/s)\n", rep.Records, rep.ProjectionTook.Round(time.Millisecond), perSecond(rep.Records, rep.ProjectionTook))
	if d := rep.Diff; d != nil {
		if d.Identical() {
			fmt.Fprintf(w, "verify:     identical (%v rows compared)\n", d.Rows)
		} else {
			fmt.Fprintf(w, "verify:     %d rows differ %v of %v\n", d.Total, d.Differ, d.Rows)
			for _, s := range d.Samples {
				fmt.Fprintln(w, "  "+s.String())
			}
			if len(d.Samples) < d.Total {
				fmt.Fprintf(w, "  ... and %d more\n", d.Total-len(d.Samples))
			}
		}
	}
	switch {
	case rep.Swapped && rep.Previous != "":
		fmt.Fprintf(w, "swapped:    the rebuilt projection is live; the replaced one is in schema %s\n", rep.Previous)
	case rep.Swapped:
		fmt.Fprintln(w, "swapped:    the rebuilt projection is live")
	}
	return b.String()
}

func perSecond(n int64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}
