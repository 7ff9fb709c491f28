package ranking

import (
	pb "github.com/telemetra/telemetra/proto/telemetra/v1"
)

// Figures are a channel's latest figures, one per metric, and what a ranking shows beside them.
type Figures struct {
	Live              bool
	Category, Title   string
	Viewers           float64
	MessagesPerMinute float64
	UniqueChatters    int64
	RevenueCents      int64
	Sentiment         float64
	Moments           int64
}

// Value is the figure a metric ranks by; false for a metric that is not one.
func (f *Figures) Value(m pb.RankingMetric) (float64, bool) {
	switch m {
	case pb.RankingMetric_RANKING_METRIC_VIEWERS:
		return f.Viewers, true
	case pb.RankingMetric_RANKING_METRIC_CHAT_RATE:
		return f.MessagesPerMinute, true
	case pb.RankingMetric_RANKING_METRIC_UNIQUE_CHATTERS:
		return float64(f.UniqueChatters), true
	case pb.RankingMetric_RANKING_METRIC_REVENUE:
		return float64(f.RevenueCents), true
	case pb.RankingMetric_RANKING_METRIC_SENTIMENT:
		return f.Sentiment, true
	case pb.RankingMetric_RANKING_METRIC_MOMENTS:
		return float64(f.Moments), true
	}
	return 0, false
}

// AllMetrics are the metrics a ranking can be by.
func AllMetrics() []pb.RankingMetric {
	return []pb.RankingMetric{
		pb.RankingMetric_RANKING_METRIC_VIEWERS, pb.RankingMetric_RANKING_METRIC_CHAT_RATE,
		pb.RankingMetric_RANKING_METRIC_UNIQUE_CHATTERS, pb.RankingMetric_RANKING_METRIC_REVENUE,
		pb.RankingMetric_RANKING_METRIC_SENTIMENT, pb.RankingMetric_RANKING_METRIC_MOMENTS,
	}
}

// Entry is one ranked channel.
type Entry struct {
	Channel string
	Value   float64
	Figures Figures
}

// Rank is e as ranking entry number rank (1 for the first).
func (e *Entry) Rank(rank int64) *pb.ChannelRank {
	f := &e.Figures
	return &pb.ChannelRank{
		Rank: rank, Channel: e.Channel, Value: e.Value, Live: f.Live, Category: f.Category, Title: f.Title,
		Viewers: f.Viewers, MessagesPerMinute: f.MessagesPerMinute, UniqueChatters: f.UniqueChatters,
		RevenueCents: f.RevenueCents, Sentiment: f.Sentiment, Moments: f.Moments,
	}
}

// before is the ranking order: value descending, then channel ascending.
func before(a, b *Entry) bool {
	if a.Value != b.Value {
		return a.Value > b.Value
	}
	return a.Channel < b.Channel
}
