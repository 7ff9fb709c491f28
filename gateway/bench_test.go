package gateway_test

import (
	"context"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/telemetra/telemetra/gateway"
	"github.com/telemetra/telemetra/internal/kafka"
	"github.com/telemetra/telemetra/internal/kafka/kafkatest"
	"github.com/telemetra/telemetra/internal/pgtest"
	"github.com/telemetra/telemetra/producer"
	pb "github.com/telemetra/telemetra/proto/telemetra/v1"
)

// BenchmarkGatewayQueries runs the pipeline over 24 hours of seeded history (432,000 events,
// three channels), then loads the gateway with ghz (gRPC) and wrk (REST): the live snapshot
// (GetChannel, from the goka View) and a 24-hour metrics range (from PostgreSQL, at 1 hour and
// at 1 minute resolution). Run with -benchtime 1x; needs bin/ghz (scripts/tools.sh) and wrk
// (apt-get install wrk). Figures in docs/api.md.
func BenchmarkGatewayQueries(b *testing.B) {
	end := time.Now().Truncate(time.Hour).Add(-time.Hour)
	start := end.Add(-24 * time.Hour)
	p := startPipelineWith(b, producer.RunConfig{
		Sim:   producer.Config{Channels: []string{"demo_stream", "gaming", "cozy_cafe"}, Seed: 41},
		Count: 432_000, StartTime: start, TimeStep: 200 * time.Millisecond, MarkEvery: time.Minute, Logger: kafkatest.Quiet(),
	}, 24*time.Hour, time.Minute)
	rangeJSON := p.rangeJSON()
	q := fmt.Sprintf("start_time=%s&end_time=%s", start.Format(time.RFC3339), end.Format(time.RFC3339))
	b.ResetTimer()
	for range b.N {
		for _, tc := range []struct{ name, method, data string }{
			{"GetChannel", "GetChannel", `{"name":"channels/demo_stream"}`},
			{"ListWindowMetrics 24h@1h", "ListWindowMetrics", `{"parent":"channels/demo_stream",` + rangeJSON + `,"resolution":"RESOLUTION_ONE_HOUR"}`},
			{"ListWindowMetrics 24h@1m", "ListWindowMetrics", `{"parent":"channels/demo_stream",` + rangeJSON + `,"page_size":1440}`},
		} {
			out, err := runTool(b, "ghz", "--insecure", "--call", "telemetra.v1.TelemetraService/"+tc.method, "-d", tc.data,
				"-c", "16", "-z", "10s", "--format", "json", p.grpcAddr)
			if err != nil {
				b.Fatalf("ghz %s: %v\n%.500s", tc.name, err, out)
			}
			r := decode[ghzReport](b, out)
			b.Logf("gRPC %-26s %8.0f req/s  p50 %7s  p99 %7s  errors %d", tc.name, r.RPS, r.percentile(50), r.percentile(99), r.errors())
			reportQuery(b, "grpc-"+tc.name, r.RPS, r.percentile(99))
		}
		for _, tc := range []struct{ name, path string }{
			{"GET channel", "/v1/channels/demo_stream"},
			{"GET metrics 24h@1h", "/v1/channels/demo_stream/metrics?resolution=RESOLUTION_ONE_HOUR&" + q},
			{"GET metrics 24h@1m", "/v1/channels/demo_stream/metrics?page_size=1440&" + q},
		} {
			out, err := runTool(b, "wrk", "-t2", "-c16", "-d10s", "--latency", "http://"+p.httpAddr+tc.path)
			if err != nil {
				b.Fatalf("wrk %s: %v\n%s", tc.name, err, out)
			}
			b.Logf("REST %-26s %8s req/s  p50 %7s  p99 %7s  non-2xx %s", tc.name, wrkField(out, `Requests/sec:\s+([\d.]+)`),
				wrkField(out, `\s50%\s+(\S+)`), wrkField(out, `\s99%\s+(\S+)`), orZero(wrkField(out, `Non-2xx or 3xx responses: (\d+)`)))
			rps, _ := strconv.ParseFloat(wrkField(out, `Requests/sec:\s+([\d.]+)`), 64)
			p99, _ := time.ParseDuration(wrkField(out, `\s99%\s+(\S+)`))
			reportQuery(b, "rest-"+tc.name, rps, p99)
		}
	}
}

// reportQuery adds a query's figures to the benchmark result line, so make bench's summary
// table has them ("grpc-GetChannel-req/s", "rest-GET-metrics-24h-at-1h-p99-ms").
func reportQuery(b *testing.B, name string, rps float64, p99 time.Duration) {
	slug := strings.NewReplacer(" ", "-", "@", "-at-").Replace(name)
	b.ReportMetric(rps, slug+"-req/s")
	b.ReportMetric(float64(p99)/float64(time.Millisecond), slug+"-p99-ms")
}

type ghzReport struct {
	RPS                 float64        `json:"rps"`
	StatusCodeDist      map[string]int `json:"statusCodeDistribution"`
	LatencyDistribution []struct {
		Percentage int   `json:"percentage"`
		Latency    int64 `json:"latency"` // nanoseconds
	} `json:"latencyDistribution"`
}

func (r ghzReport) percentile(p int) time.Duration {
	for _, l := range r.LatencyDistribution {
		if l.Percentage == p {
			return time.Duration(l.Latency).Round(10 * time.Microsecond)
		}
	}
	return 0
}

func (r ghzReport) errors() int {
	n := 0
	for code, c := range r.StatusCodeDist {
		if code != "OK" {
			n += c
		}
	}
	return n
}

func wrkField(out, pattern string) string {
	if m := regexp.MustCompile(pattern).FindStringSubmatch(out); m != nil {
		return m[1]
	}
	return "?"
}

func orZero(s string) string {
	if s == "?" {
		return "0"
	}
	return s
}

// BenchmarkSubscriptionFanout holds N gRPC subscribers on one gateway and sends 50 final
// windows a second for 10 s through Kafka; each window carries its send time (in version, for
// this benchmark only), so subscribers measure Kafka produce → delivery. Reports how many
// subscribers were still held at the end and the delivery latency percentiles.
func BenchmarkSubscriptionFanout(b *testing.B) {
	for _, n := range []int{100, 1000, 5000} {
		b.Run(fmt.Sprintf("subscribers=%d", n), func(b *testing.B) {
			for range b.N {
				fanout(b, n)
			}
		})
	}
}

func fanout(b *testing.B, subscribers int) {
	addr := kafkatest.StartBroker(b)
	gwCtx, stop := context.WithCancel(ctx)
	defer stop()
	srv, err := gateway.Start(gwCtx, gateway.Config{GRPCAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0", Brokers: []string{addr},
		DatabaseURL: pgtest.Database(b), MaxSubscribers: subscribers + 10, Logger: kafkatest.Quiet()})
	if err != nil {
		b.Fatal(err)
	}
	// a few connections, as many streams as subscribers (HTTP/2 multiplexes them), within the
	// gateway's streams per connection (Limits.GRPCMaxConcurrentStreams): a subscriber over it
	// would wait for a stream forever
	perConn := int(gateway.DefaultLimits().GRPCMaxConcurrentStreams) / 2
	conns := make([]pb.TelemetraServiceClient, max(4, (subscribers+perConn-1)/perConn))
	for k := range conns {
		c, err := grpc.NewClient(srv.GRPCAddr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		conns[k] = pb.NewTelemetraServiceClient(c)
	}
	const rate, seconds = 50, 10
	var mu sync.Mutex
	var latencies []time.Duration
	dropped := 0
	var wg sync.WaitGroup
	subCtx, cancelSubs := context.WithCancel(ctx)
	defer cancelSubs()
	ready := make(chan struct{}, subscribers)
	for k := range subscribers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := conns[k%len(conns)].SubscribeChannelEvents(subCtx, &pb.SubscribeChannelEventsRequest{Channels: []string{"fanout"}})
			if err != nil {
				b.Error(err)
				return
			}
			ready <- struct{}{}
			local := make([]time.Duration, 0, rate*seconds)
			for len(local) < rate*seconds {
				ev, err := s.Recv()
				if err != nil {
					if subCtx.Err() == nil {
						mu.Lock()
						dropped++
						mu.Unlock()
					}
					break
				}
				if w := ev.GetWindow(); w != nil {
					local = append(local, time.Since(time.Unix(0, int64(w.GetVersion()))))
				}
			}
			mu.Lock()
			latencies = append(latencies, local...)
			mu.Unlock()
		}()
	}
	for range subscribers {
		<-ready
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.RecordPartitioner(kafka.GokaPartitioner()))
	if err != nil {
		b.Fatal(err)
	}
	defer cl.Close()
	tick := time.NewTicker(time.Second / rate)
	for k := range rate * seconds {
		<-tick.C
		start := time.Unix(0, 0).Add(time.Duration(k) * time.Minute)
		raw, _ := proto.Marshal(&pb.WindowAggregate{Channel: "fanout", WindowStart: timestamppb.New(start),
			WindowEnd: timestamppb.New(start.Add(time.Minute)), Final: true, Version: uint64(time.Now().UnixNano())})
		cl.Produce(ctx, &kgo.Record{Topic: kafka.TopicAggregates, Key: []byte("fanout"), Value: raw}, nil)
	}
	tick.Stop()
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		cancelSubs()
		<-done
	}
	sort.Slice(latencies, func(i, j int) bool { return latencies[i] < latencies[j] })
	pct := func(p float64) time.Duration {
		if len(latencies) == 0 {
			return 0
		}
		return latencies[min(len(latencies)-1, int(p*float64(len(latencies))))].Round(10 * time.Microsecond)
	}
	want := subscribers * rate * seconds
	b.ReportMetric(float64(subscribers-dropped), "held")
	b.ReportMetric(float64(pct(0.5).Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(pct(0.99).Microseconds())/1000, "p99-ms")
	b.Logf("%d subscribers: %d held to the end, %d of %d deliveries (%s/s), delivery p50 %s p99 %s max %s",
		subscribers, subscribers-dropped, len(latencies), want, strconv.Itoa(len(latencies)/seconds), pct(0.5), pct(0.99), pct(1))
}

// BenchmarkGetChannelInProcess serves GetChannel to 16 in-process gRPC clients over 4
// connections for 10 s, on the gateway tests' small pipeline: the gateway's own cost, without
// ghz's (which decodes every response by reflection on the same cores). Run with -benchtime 1x
// and -cpuprofile for the profile in docs/api.md.
func BenchmarkGetChannelInProcess(b *testing.B) {
	start := time.Now().Add(-2 * time.Hour).Truncate(time.Hour)
	p := startPipelineWith(b, producer.RunConfig{
		Sim:   producer.Config{Channels: []string{"demo_stream", "gaming", "cozy_cafe"}, Seed: 31},
		Count: 15_000, StartTime: start, TimeStep: 20 * time.Millisecond, Logger: kafkatest.Quiet(),
	}, time.Hour, shortWindows)
	var clients []pb.TelemetraServiceClient
	for range 4 {
		cc, err := grpc.NewClient(p.grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = cc.Close() })
		clients = append(clients, pb.NewTelemetraServiceClient(cc))
	}
	const span = 10 * time.Second
	b.ResetTimer()
	for range b.N {
		var served atomic.Int64
		deadline := time.Now().Add(span)
		var wg sync.WaitGroup
		for i := range 16 {
			wg.Go(func() {
				for time.Now().Before(deadline) {
					if _, err := clients[i%len(clients)].GetChannel(ctx, &pb.GetChannelRequest{Name: "channels/demo_stream"}); err != nil {
						b.Error(err)
						return
					}
					served.Add(1)
				}
			})
		}
		wg.Wait()
		b.ReportMetric(float64(served.Load())/span.Seconds(), "req/s")
	}
}
