package ranking

import (
	"fmt"
	"testing"
	"time"

	pb "github.com/telemetra/telemetra/proto/telemetra/v1"
)

// BenchmarkSnapshot100k is one rebuild of a metric's snapshot of 100,000 live channels in 20
// categories: the copy out of the index and the sort.
func BenchmarkSnapshot100k(b *testing.B) {
	x := NewIndex(20 * time.Minute)
	for k := range 100_000 {
		x.ApplyWindow(window(fmt.Sprintf("ch%06d", k), 0, fmt.Sprintf("category_%02d", k%20), int64((k*7919)%40_000), int64(k%500), 0))
	}
	now := t0
	r := newRankings(x, &now)
	b.ResetTimer()
	for range b.N {
		r.build(pb.RankingMetric_RANKING_METRIC_VIEWERS)
	}
}
