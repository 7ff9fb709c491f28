package store

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/telemetra/telemetra/internal/projection"
	pb "github.com/telemetra/telemetra/proto/telemetra/v1"
)

// SummaryQuery selects the range a channel is summarised over.
type SummaryQuery struct {
	Channel    string
	Start, End time.Time // final windows with window_start in [Start, End), moments with at in it
	TopEmotes  int       // maximum number of top emotes; <= 0 means 10
}

// summaryWindowsSQL merges the final windows of the range. $1 channel, $2 start, $3 end.
func summaryWindowsSQL(windows string) string {
	return `
SELECT ` + windowTotalsColumns + `
FROM ` + windows + ` w
WHERE w.channel = $1 AND w.final AND w.window_start >= $2 AND w.window_start < $3`
}

// summaryMomentsSQL counts the range's moments per kind. $1 channel, $2 start, $3 end.
func summaryMomentsSQL(moments string) string {
	return `
SELECT m.kind, count(*)
FROM ` + moments + ` m
WHERE m.channel = $1 AND m.at >= $2 AND m.at < $3
GROUP BY m.kind`
}

// Summarize totals the channel's final windows and moments over the query's range. A range
// without windows gives zero totals, not an error: use ChannelExists for unknown channels.
func (s *Store) Summarize(ctx context.Context, q SummaryQuery) (*pb.SummarizeChannelResponse, error) {
	topEmotes := q.TopEmotes
	if topEmotes <= 0 {
		topEmotes = defaultTopEmotes
	}
	var totals windowTotals
	var moments []*pb.MomentKindCount
	// One snapshot for both statements, so the moments belong to the same projection state.
	err := pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly},
		func(tx pgx.Tx) error {
			if err := tx.QueryRow(ctx, summaryWindowsSQL(s.tables.windows), q.Channel, q.Start, q.End).
				Scan(totals.targets()...); err != nil {
				return fmt.Errorf("windows: %w", err)
			}
			rows, err := tx.Query(ctx, summaryMomentsSQL(s.tables.moments), q.Channel, q.Start, q.End)
			if err != nil {
				return fmt.Errorf("moments: %w", err)
			}
			counts, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (*pb.MomentKindCount, error) {
				var kind string
				var c pb.MomentKindCount
				if err := row.Scan(&kind, &c.Count); err != nil {
					return nil, err
				}
				c.Kind = projection.ParseMomentKind(kind)
				return &c, nil
			})
			if err != nil {
				return fmt.Errorf("moments: %w", err)
			}
			moments = sortMomentKindCounts(counts)
			return nil
		})
	if err != nil {
		return nil, fmt.Errorf("summarize channel %s: %w", q.Channel, err)
	}
	chat, err := totals.chat.metrics(max(q.End.Sub(q.Start), 0).Minutes(), topEmotes)
	if err != nil {
		return nil, fmt.Errorf("summarize channel %s: %w", q.Channel, err)
	}
	return &pb.SummarizeChannelResponse{
		Name:         "channels/" + q.Channel,
		StartTime:    timestamppb.New(q.Start),
		EndTime:      timestamppb.New(q.End),
		Windows:      totals.windows,
		Chat:         chat,
		Viewers:      totals.viewers.stats(),
		Transactions: totals.transactions.stats(),
		Moments:      moments,
	}, nil
}

// sortMomentKindCounts orders the counts by kind (enum order), adding up kinds that parse to
// the same value (unknown stored kinds all become UNSPECIFIED) and dropping zero counts.
func sortMomentKindCounts(counts []*pb.MomentKindCount) []*pb.MomentKindCount {
	byKind := map[pb.MomentKind]int64{}
	for _, c := range counts {
		byKind[c.Kind] += c.Count
	}
	out := make([]*pb.MomentKindCount, 0, len(byKind))
	for kind, n := range byKind {
		if n > 0 {
			out = append(out, &pb.MomentKindCount{Kind: kind, Count: n})
		}
	}
	slices.SortFunc(out, func(a, b *pb.MomentKindCount) int { return int(a.Kind) - int(b.Kind) })
	return out
}
