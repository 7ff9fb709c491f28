package gateway_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/telemetra/telemetra/gateway"
	"github.com/telemetra/telemetra/internal/kafka"
	"github.com/telemetra/telemetra/internal/kafka/kafkatest"
	"github.com/telemetra/telemetra/internal/pgtest"
	"github.com/telemetra/telemetra/migrations"
	pb "github.com/telemetra/telemetra/proto/telemetra/v1"
)

// rankedChannels is how many channels the ranking benchmarks rank.
const rankedChannels = 100_000

// manyChannels is a live view of n live channels in 20 categories, each with a status and a
// last final window.
type manyChannels struct {
	names  []string
	states map[string]*pb.ChannelState
}

func newManyChannels(n int) *manyChannels {
	m := &manyChannels{states: make(map[string]*pb.ChannelState, n)}
	at := timestamppb.New(time.Now().Truncate(time.Minute))
	for k := range n {
		ch := fmt.Sprintf("ch%06d", k)
		viewers := int64((k * 7919) % 40_000)
		m.names = append(m.names, ch)
		m.states[ch] = &pb.ChannelState{Channel: ch,
			Status: &pb.StreamStatus{Live: true, Category: fmt.Sprintf("category_%02d", k%20), Title: ch, Viewers: viewers, LastEventTime: at},
			LastFinal: &pb.WindowAggregate{Channel: ch, Final: true, WindowStart: timestamppb.New(at.AsTime().Add(-time.Minute)), WindowEnd: at,
				Chat:         &pb.ChatStats{Messages: viewers / 20, UniqueChatters: viewers / 50},
				Transactions: &pb.TransactionStats{RevenueCents: viewers % 997}}}
	}
	sort.Strings(m.names)
	return m
}

func (m *manyChannels) Get(ch string) (*pb.ChannelState, error) { return m.states[ch], nil }
func (m *manyChannels) Channels() ([]string, error)             { return slices.Clone(m.names), nil }
func (m *manyChannels) Recovered() bool                         { return true }

// latencies are the durations of a sequence of calls.
type latencies []time.Duration

func (l latencies) percentile(p float64) time.Duration {
	s := slices.Clone(l)
	slices.Sort(s)
	return s[min(len(s)-1, int(float64(len(s))*p/100))]
}

// report adds the case's p50 and p99 to the benchmark line and logs them.
func (l latencies) report(b *testing.B, name string) {
	p50, p99 := l.percentile(50), l.percentile(99)
	b.Logf("%-40s %6d calls  p50 %9s  p99 %9s", name, len(l), p50.Round(time.Microsecond), p99.Round(time.Microsecond))
	b.ReportMetric(float64(p50.Microseconds())/1000, name+"-p50-ms")
	b.ReportMetric(float64(p99.Microseconds())/1000, name+"-p99-ms")
}

// measure calls fn n times, one call at a time (one client: the machine is shared).
func measure(b *testing.B, n int, fn func() error) latencies {
	out := make(latencies, 0, n)
	for range n {
		began := time.Now()
		if err := fn(); err != nil {
			b.Fatal(err)
		}
		out = append(out, time.Since(began))
	}
	return out
}

func rankingClient(b *testing.B, addr string) pb.TelemetraServiceClient {
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = conn.Close() })
	return pb.NewTelemetraServiceClient(conn)
}

func startRankingGateway(b *testing.B, cfg gateway.Config) *gateway.Server {
	gwCtx, stop := context.WithCancel(ctx)
	cfg.GRPCAddr, cfg.HTTPAddr, cfg.Logger = "127.0.0.1:0", "127.0.0.1:0", kafkatest.Quiet()
	if cfg.Brokers == nil {
		cfg.Brokers = []string{kafkatest.StartBroker(b)}
	}
	srv, err := gateway.Start(gwCtx, cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		stop()
		_ = srv.Wait()
	})
	return srv
}

// BenchmarkRankChannelsNow ranks 100,000 live channels (seeded from the live view) through the
// gateway's gRPC server, one client calling one at a time, while 2,000 channel updates a second
// reach the index through its feed's path, so the rankings are rebuilt every second. Run with
// -benchtime 1x; p50 and p99 per case are in the result line.
func BenchmarkRankChannelsNow(b *testing.B) {
	live := newManyChannels(rankedChannels)
	reg := prometheus.NewRegistry()
	broker := kafkatest.StartBroker(b)
	srv := startRankingGateway(b, gateway.Config{Live: live, Registry: reg, Brokers: []string{broker}})
	client := rankingClient(b, srv.GRPCAddr())
	viewers := func(req *pb.RankChannelsRequest) func() error {
		return func() error {
			resp, err := client.RankChannels(ctx, req)
			if err == nil && resp.GetTotalSize() < 1 {
				err = fmt.Errorf("nothing ranked: %v", resp)
			}
			return err
		}
	}
	// wait for the seed
	for {
		resp, err := client.RankChannels(ctx, &pb.RankChannelsRequest{Metric: pb.RankingMetric_RANKING_METRIC_VIEWERS})
		if err == nil && resp.GetTotalSize() == rankedChannels {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	stopChurn := churn(b, broker, live)
	defer stopChurn()
	b.ResetTimer()
	for range b.N {
		measure(b, 20_000, viewers(&pb.RankChannelsRequest{Metric: pb.RankingMetric_RANKING_METRIC_VIEWERS})).report(b, "now-top50")
		measure(b, 20_000, viewers(&pb.RankChannelsRequest{Metric: pb.RankingMetric_RANKING_METRIC_REVENUE, Category: "category_07", PageSize: 100})).report(b, "now-category-top100")
		token := ""
		for range 50 { // page 51 of 1000 entries: rank 50,001 on
			resp, err := client.RankChannels(ctx, &pb.RankChannelsRequest{Metric: pb.RankingMetric_RANKING_METRIC_CHAT_RATE, PageSize: 1000, PageToken: token})
			if err != nil {
				b.Fatal(err)
			}
			token = resp.GetNextPageToken()
		}
		measure(b, 5_000, viewers(&pb.RankChannelsRequest{Metric: pb.RankingMetric_RANKING_METRIC_CHAT_RATE, PageSize: 1000, PageToken: token})).report(b, "now-page51-of-1000")
	}
	b.StopTimer()
	b.Logf("rebuilds: %s", histogramSummary(b, reg, "telemetra_gateway_ranking_rebuild_seconds"))
}

// churn sends 2,000 window records a second with new viewer counts of random channels to the
// aggregates topic, which the gateway's feed applies to the index, until stopped: the
// snapshots are rebuilt every second, as with a live pipeline.
func churn(b *testing.B, broker string, live *manyChannels) func() {
	cl, err := kgo.NewClient(kgo.SeedBrokers(broker), kgo.RecordPartitioner(kafka.GokaPartitioner()))
	if err != nil {
		b.Fatal(err)
	}
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		r := rand.New(rand.NewPCG(1, 2))
		t := time.NewTicker(10 * time.Millisecond)
		defer t.Stop()
		for tick := 1; ; tick++ {
			select {
			case <-done:
				return
			case <-t.C:
			}
			for range 20 {
				st := live.states[live.names[r.IntN(len(live.names))]].GetStatus()
				at := timestamppb.New(st.GetLastEventTime().AsTime().Add(time.Duration(tick) * time.Millisecond))
				raw, _ := proto.Marshal(&pb.WindowAggregate{Channel: st.GetTitle(), WindowStart: at, WindowEnd: at,
					Status: &pb.StreamStatus{Live: true, Category: st.GetCategory(), Title: st.GetTitle(), Viewers: int64(r.IntN(40_000)), LastEventTime: at}})
				cl.Produce(ctx, &kgo.Record{Topic: kafka.TopicAggregates, Key: []byte(st.GetTitle()), Value: raw}, nil)
			}
		}
	}()
	return func() {
		close(done)
		<-finished
		cl.Close()
	}
}

// histogramSummary is a histogram's count and mean.
func histogramSummary(b *testing.B, reg *prometheus.Registry, name string) string {
	families, err := reg.Gather()
	if err != nil {
		b.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() == name && len(f.GetMetric()) == 1 {
			h := f.GetMetric()[0].GetHistogram()
			return fmt.Sprintf("%d, mean %s", h.GetSampleCount(), time.Duration(h.GetSampleSum()/float64(max(h.GetSampleCount(), 1))*float64(time.Second)).Round(time.Microsecond))
		}
	}
	return "none"
}

// BenchmarkRankChannelsRange ranks 100,000 channels over a range from PostgreSQL: one hour of
// minute windows each (6,000,000 rows, rolled up by refresh_channel_hours as the projector
// does), and a day (23 more hours of roll-up rows). One client, one call at a time.
func BenchmarkRankChannelsRange(b *testing.B) {
	dbURL := pgtest.Database(b)
	conn := pgtest.Connect(b, dbURL)
	if _, err := migrations.Apply(ctx, conn, "public", slog.New(slog.NewTextHandler(io.Discard, nil))); err != nil {
		b.Fatal(err)
	}
	hour := time.Now().UTC().Truncate(time.Hour).Add(-2 * time.Hour)
	began := time.Now()
	if _, err := conn.Exec(ctx, `
INSERT INTO window_aggregates (channel, window_start, window_end, final, version, chat_messages, unique_chatters,
    viewer_samples, viewer_sum, revenue_cents, sentiment_sum, sentiment_scored, category, title, live, top_emotes)
SELECT 'ch' || lpad(c::text, 6, '0'), $1::timestamptz + m * interval '1 minute', $1::timestamptz + (m + 1) * interval '1 minute',
       true, 1, (c * 7 + m) % 500, (c * 3 + m) % 100, 6, 6 * ((c * 13) % 4000), (c * 11 + m) % 300, ((c + m) % 7) * 0.1, 7,
       'category_' || lpad((c % 20)::text, 2, '0'), 'title', true,
       '[{"emote": "PogChamp", "count": 3}, {"emote": "Kappa", "count": 2}]'
FROM generate_series(1, $2::int) AS c, generate_series(0, 59) AS m`, hour, rankedChannels); err != nil {
		b.Fatal(err)
	}
	b.Logf("6,000,000 windows written in %s", time.Since(began).Round(time.Second))
	began = time.Now()
	if _, err := conn.Exec(ctx, `SELECT refresh_channel_hours(array_agg(channel), array_agg($1::timestamptz))
		FROM (SELECT DISTINCT channel FROM window_aggregates) AS c`, hour); err != nil {
		b.Fatal(err)
	}
	b.Logf("100,000 channel hours rolled up (refresh_channel_hours) in %s", time.Since(began).Round(time.Second))
	if _, err := conn.Exec(ctx, `
INSERT INTO channel_hours (channel, hour, windows, window_seconds, chat_messages, unique_chatters, viewer_sum, viewer_samples,
    viewer_minutes, revenue_cents, sentiment_sum, sentiment_scored, moments, top_emotes, live, title, category)
SELECT channel, hour - h * interval '1 hour', windows, window_seconds, chat_messages + h, unique_chatters, viewer_sum, viewer_samples,
       viewer_minutes, revenue_cents + h, sentiment_sum, sentiment_scored, moments, top_emotes, live, title, category
FROM channel_hours, generate_series(1, 23) AS h`); err != nil {
		b.Fatal(err)
	}
	if _, err := conn.Exec(ctx, "VACUUM ANALYZE channel_hours"); err != nil {
		b.Fatal(err)
	}
	// one core's worth: no parallel workers for the gateway's queries (the machine is shared)
	if _, err := conn.Exec(ctx, "DO $$ BEGIN EXECUTE format('ALTER DATABASE %I SET max_parallel_workers_per_gather = 0', current_database()); END $$"); err != nil {
		b.Fatal(err)
	}
	srv := startRankingGateway(b, gateway.Config{DatabaseURL: dbURL, Live: loadedLive{}})
	client := rankingClient(b, srv.GRPCAddr())
	rank := func(req *pb.RankChannelsRequest) func() error {
		return func() error {
			resp, err := client.RankChannels(ctx, req)
			if err == nil && (resp.GetTotalSize() == 0 || req.GetCategory() == "" && resp.GetTotalSize() != rankedChannels) {
				err = fmt.Errorf("ranked %d channels of %d", resp.GetTotalSize(), rankedChannels)
			}
			return err
		}
	}
	ranged := func(metric pb.RankingMetric, hours int, category string) *pb.RankChannelsRequest {
		return &pb.RankChannelsRequest{Metric: metric, Scope: pb.RankingScope_RANKING_SCOPE_RANGE, Category: category,
			StartTime: timestamppb.New(hour.Add(time.Duration(1-hours) * time.Hour)), EndTime: timestamppb.New(hour.Add(time.Hour))}
	}
	b.ResetTimer()
	for range b.N {
		measure(b, 40, rank(ranged(pb.RankingMetric_RANKING_METRIC_VIEWERS, 1, ""))).report(b, "range-1h-top50")
		measure(b, 40, rank(ranged(pb.RankingMetric_RANKING_METRIC_REVENUE, 1, "category_07"))).report(b, "range-1h-category-top50")
		measure(b, 10, rank(ranged(pb.RankingMetric_RANKING_METRIC_REVENUE, 24, ""))).report(b, "range-24h-top50")
		measure(b, 10, func() error {
			_, err := client.ListTrending(ctx, &pb.ListTrendingRequest{Scope: pb.RankingScope_RANKING_SCOPE_RANGE,
				StartTime: timestamppb.New(hour), EndTime: timestamppb.New(hour.Add(time.Hour))})
			return err
		}).report(b, "trending-range-1h")
	}
}

// loadedLive is a live view that has loaded and holds no channel.
type loadedLive struct{}

func (loadedLive) Get(string) (*pb.ChannelState, error) { return nil, nil }
func (loadedLive) Channels() ([]string, error)          { return nil, nil }
func (loadedLive) Recovered() bool                      { return true }
