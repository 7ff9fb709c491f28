package gateway_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/telemetra/telemetra/gateway"
	"github.com/telemetra/telemetra/internal/kafka"
	"github.com/telemetra/telemetra/internal/kafka/kafkatest"
	"github.com/telemetra/telemetra/internal/pgtest"
	"github.com/telemetra/telemetra/internal/pipelinetest"
	"github.com/telemetra/telemetra/internal/testkit"
	"github.com/telemetra/telemetra/processors/aggregator"
	"github.com/telemetra/telemetra/processors/window"
	"github.com/telemetra/telemetra/producer"
	pb "github.com/telemetra/telemetra/proto/telemetra/v1"
	"github.com/telemetra/telemetra/views/projector"
)

func TestMain(m *testing.M) { testkit.VerifyNoLeaks(pgtest.M(m), testkit.IgnoreGokaViews...) }

var ctx = context.Background()

// pipeline is producer (fixed seed) → processor → projector → gateway on the embedded broker
// and a real PostgreSQL, and what the producer sent.
type pipeline struct {
	addr, grpcAddr, httpAddr string
	dbURL                    string
	want                     map[string]pipelinetest.Totals
	chatters                 map[string]int64 // distinct chatters per channel
	start, end               time.Time
	metrics                  *prometheus.Registry // the gateway's
}

func background(t testing.TB, fn func(context.Context) error) {
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- fn(runCtx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("background: %v", err)
		}
	})
}

func startPipeline(t *testing.T) *pipeline {
	t.Helper()
	start := time.Now().Add(-2 * time.Hour).Truncate(time.Hour)
	return startPipelineWith(t, producer.RunConfig{
		Sim:   producer.Config{Channels: []string{"demo_stream", "gaming", "cozy_cafe"}, Seed: 31},
		Count: 15_000, StartTime: start, TimeStep: 20 * time.Millisecond, Logger: kafkatest.Quiet(),
	}, time.Hour, shortWindows)
}

// shortWindows are the tests' windows: a short run spans several, and its last ones close soon
// after it (the markers wait window + lateness + delay).
const shortWindows = 5 * time.Second

// startPipelineWith runs the pipeline, with windows of windowSize, over a seeded producer run;
// the pipeline's range is span from the run's start.
func startPipelineWith(t testing.TB, run producer.RunConfig, span, windowSize time.Duration) *pipeline {
	t.Helper()
	addr := kafkatest.StartBroker(t)
	dbURL := pgtest.Database(t)
	start := run.StartTime
	run.Brokers = []string{addr}
	if _, err := producer.Run(ctx, run); err != nil {
		t.Fatal(err)
	}
	wcfg := window.DefaultConfig()
	wcfg.Size, wcfg.AllowedLateness = windowSize, 2*time.Second
	background(t, func(ctx context.Context) error {
		return aggregator.Run(ctx, aggregator.Config{Brokers: []string{addr}, Window: wcfg, Logger: kafkatest.Quiet()})
	})
	background(t, func(ctx context.Context) error {
		return projector.Run(ctx, projector.Config{Brokers: []string{addr}, DatabaseURL: dbURL, Logger: kafkatest.Quiet()})
	})
	gwCtx, stop := context.WithCancel(ctx)
	reg := prometheus.NewRegistry()
	srv, err := gateway.Start(gwCtx, gateway.Config{GRPCAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0", Brokers: []string{addr},
		DatabaseURL: dbURL, Logger: kafkatest.Quiet(), Registry: reg})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stop()
		if err := srv.Wait(); err != nil {
			t.Errorf("gateway: %v", err)
		}
	})
	p := &pipeline{addr: addr, dbURL: dbURL, grpcAddr: srv.GRPCAddr(), httpAddr: srv.HTTPAddr(), want: pipelinetest.Expected(t, run),
		chatters: pipelinetest.Chatters(t, run), start: start, end: start.Add(span), metrics: reg}
	awaitFinals(t, dbURL, p.want)
	return p
}

func awaitFinals(t testing.TB, dbURL string, want map[string]pipelinetest.Totals) {
	pool, err := pgxpool.New(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	testkit.WaitFor(t, "the final windows in PostgreSQL", 2*time.Minute, func() error {
		got := map[string]pipelinetest.Totals{}
		rows, err := pool.Query(ctx, "SELECT channel, sum(chat_messages), sum(viewer_samples), sum(transactions), sum(revenue_cents) FROM window_aggregates WHERE final GROUP BY channel")
		if err == nil {
			for rows.Next() {
				var ch string
				var tot pipelinetest.Totals
				_ = rows.Scan(&ch, &tot.Chat, &tot.ViewerSamples, &tot.Transactions, &tot.RevenueCents)
				got[ch] = tot
			}
			rows.Close()
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			return fmt.Errorf("got %v, want %v", got, want)
		}
		return nil
	})
}

// gauge is the value of an unlabelled gauge of the registry (0 if it has none of that name).
func gauge(t testing.TB, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() == name && len(f.GetMetric()) == 1 {
			return f.GetMetric()[0].GetGauge().GetValue()
		}
	}
	return 0
}

// tool finds a client binary on PATH or in the repository's bin/ (scripts/tools.sh).
func tool(t testing.TB, name string) string {
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	p, _ := filepath.Abs(filepath.Join("..", "bin", name))
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("%s is not installed: run scripts/tools.sh (grpcurl) or apt-get install %s", name, name)
	}
	return p
}

func runTool(t testing.TB, name string, args ...string) (string, error) {
	t.Helper()
	out, err := exec.Command(tool(t, name), args...).CombinedOutput()
	return string(out), err
}

func (p *pipeline) grpcurl(t *testing.T, args ...string) string {
	t.Helper()
	out, err := runTool(t, "grpcurl", append([]string{"-plaintext"}, args...)...)
	if err != nil {
		t.Fatalf("grpcurl %v: %v\n%s", args, err, out)
	}
	return out
}

func (p *pipeline) rangeJSON() string {
	return fmt.Sprintf(`"start_time":%q,"end_time":%q`, p.start.Format(time.RFC3339), p.end.Format(time.RFC3339))
}

func decode[T any](t testing.TB, s string) T {
	t.Helper()
	var v T
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("decode %q: %v", s, err)
	}
	return v
}

// summary is the part of SummarizeChannelResponse (protojson: int64 as strings) checked here.
type summary struct {
	Windows string `json:"windows"`
	Chat    struct {
		Messages          string `json:"messages"`
		FirstTimeChatters string `json:"firstTimeChatters"`
	} `json:"chat"`
	Viewers struct {
		Samples string `json:"samples"`
	} `json:"viewers"`
	Transactions struct {
		RevenueCents string `json:"revenueCents"`
		Transactions string `json:"transactions"`
	} `json:"transactions"`
}

func (p *pipeline) checkSummary(t *testing.T, channel string, s summary) {
	t.Helper()
	w := p.want[channel]
	// no chat of the run is late (awaitFinals), and every channel has fewer than the 2,048
	// chatters the processor's memory of them holds (600 to 1,055): each is new exactly once
	// proto3 JSON leaves zero values out (a small channel may have no transaction in the run)
	n := func(v string) string {
		if v == "" {
			return "0"
		}
		return v
	}
	got := fmt.Sprintf("chat=%s chatters=%s samples=%s txns=%s revenue=%s", n(s.Chat.Messages), n(s.Chat.FirstTimeChatters),
		n(s.Viewers.Samples), n(s.Transactions.Transactions), n(s.Transactions.RevenueCents))
	want := fmt.Sprintf("chat=%d chatters=%d samples=%d txns=%d revenue=%d", w.Chat, p.chatters[channel],
		w.ViewerSamples, w.Transactions, w.RevenueCents)
	if got != want {
		t.Fatalf("summary of %s: %s, want %s", channel, got, want)
	}
}

type metricsPage struct {
	Metrics []struct {
		Chat struct {
			Messages string `json:"messages"`
		} `json:"chat"`
		Final bool `json:"final"`
	} `json:"metrics"`
	NextPageToken string `json:"nextPageToken"`
}

func (m metricsPage) messages(t *testing.T) int64 {
	var n int64
	for _, b := range m.Metrics {
		var v int64
		if b.Chat.Messages != "" { // a zero count is left out of the JSON
			if _, err := fmt.Sscan(b.Chat.Messages, &v); err != nil {
				t.Fatalf("messages %q: %v", b.Chat.Messages, err)
			}
		}
		if !b.Final {
			t.Fatalf("provisional bucket without include_provisional: %+v", b)
		}
		n += v
	}
	return n
}

// TestGatewayWithRealClients: grpcurl and curl against the running pipeline; the answers add up
// to what the producer sent.
func TestGatewayWithRealClients(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test")
	}
	p := startPipeline(t)

	t.Run("grpcurl list and describe (reflection)", func(t *testing.T) {
		out := p.grpcurl(t, p.grpcAddr, "list")
		for _, svc := range []string{"telemetra.v1.TelemetraService", "grpc.health.v1.Health"} {
			if !strings.Contains(out, svc) {
				t.Fatalf("list: %s missing in\n%s", svc, out)
			}
		}
		if out := p.grpcurl(t, p.grpcAddr, "describe", "telemetra.v1.TelemetraService"); !strings.Contains(out, "rpc SubscribeChannelEvents") {
			t.Fatalf("describe:\n%s", out)
		}
		if out := p.grpcurl(t, p.grpcAddr, "grpc.health.v1.Health/Check"); !strings.Contains(out, "SERVING") {
			t.Fatalf("health:\n%s", out)
		}
	})
	t.Run("grpcurl unary RPCs", func(t *testing.T) {
		ch := decode[struct {
			ChannelID string `json:"channelId"`
			Status    struct {
				Title string `json:"title"`
			} `json:"status"`
			LastFinalWindow map[string]any `json:"lastFinalWindow"`
			Staleness       string         `json:"staleness"`
		}](t, p.grpcurl(t, "-d", `{"name":"channels/demo_stream"}`, p.grpcAddr, "telemetra.v1.TelemetraService/GetChannel"))
		if ch.ChannelID != "demo_stream" || ch.Status.Title == "" || ch.LastFinalWindow == nil || ch.Staleness == "" {
			t.Fatalf("GetChannel: %+v", ch)
		}
		list := decode[struct {
			Channels []struct {
				ChannelID string `json:"channelId"`
			} `json:"channels"`
			NextPageToken string `json:"nextPageToken"`
		}](t, p.grpcurl(t, "-d", `{"page_size":2}`, p.grpcAddr, "telemetra.v1.TelemetraService/ListChannels"))
		if len(list.Channels) != 2 || list.Channels[0].ChannelID != "cozy_cafe" || list.NextPageToken == "" {
			t.Fatalf("ListChannels page 1: %+v", list)
		}
		next := decode[struct {
			Channels []struct {
				ChannelID string `json:"channelId"`
			} `json:"channels"`
			NextPageToken string `json:"nextPageToken"`
		}](t, p.grpcurl(t, "-d", fmt.Sprintf(`{"page_size":2,"page_token":%q}`, list.NextPageToken), p.grpcAddr, "telemetra.v1.TelemetraService/ListChannels"))
		if len(next.Channels) != 1 || next.Channels[0].ChannelID != "gaming" || next.NextPageToken != "" {
			t.Fatalf("ListChannels page 2: %+v", next)
		}
		for _, channel := range []string{"demo_stream", "gaming", "cozy_cafe"} {
			s := decode[summary](t, p.grpcurl(t, "-d", fmt.Sprintf(`{"name":"channels/%s",%s}`, channel, p.rangeJSON()), p.grpcAddr,
				"telemetra.v1.TelemetraService/SummarizeChannel"))
			p.checkSummary(t, channel, s)
		}
		for _, res := range []string{"RESOLUTION_ONE_MINUTE", "RESOLUTION_FIFTEEN_MINUTES", "RESOLUTION_ONE_HOUR"} {
			m := decode[metricsPage](t, p.grpcurl(t, "-d", fmt.Sprintf(`{"parent":"channels/gaming",%s,"resolution":%q,"page_size":5000}`, p.rangeJSON(), res),
				p.grpcAddr, "telemetra.v1.TelemetraService/ListWindowMetrics"))
			if got := m.messages(t); got != p.want["gaming"].Chat {
				t.Fatalf("ListWindowMetrics %s: %d chat messages, want %d", res, got, p.want["gaming"].Chat)
			}
		}
		moments := p.grpcurl(t, "-d", fmt.Sprintf(`{"parent":"channels/-",%s}`, p.rangeJSON()), p.grpcAddr, "telemetra.v1.TelemetraService/ListMoments")
		if !strings.Contains(moments, `"moments"`) {
			t.Fatalf("ListMoments:\n%s", moments)
		}
		sessions := p.grpcurl(t, "-d", fmt.Sprintf(`{"parent":"channels/demo_stream",%s}`, p.rangeJSON()), p.grpcAddr, "telemetra.v1.TelemetraService/ListStreamSessions")
		if !strings.Contains(sessions, `"channels/demo_stream/sessions/`) {
			t.Fatalf("ListStreamSessions:\n%s", sessions)
		}
	})
	t.Run("pipeline health", func(t *testing.T) { checkPipelineHealth(t, p) })
	t.Run("grpcurl subscription with snapshot", func(t *testing.T) {
		out, _ := runTool(t, "grpcurl", "-plaintext", "-max-time", "3", "-d", `{"channels":["demo_stream"],"include_snapshot":true}`,
			p.grpcAddr, "telemetra.v1.TelemetraService/SubscribeChannelEvents")
		if !strings.Contains(out, `"snapshot": true`) || !strings.Contains(out, `"status"`) {
			t.Fatalf("subscription:\n%s", out)
		}
	})
	t.Run("curl REST routes", func(t *testing.T) {
		base := "http://" + p.httpAddr
		q := fmt.Sprintf("start_time=%s&end_time=%s", p.start.Format(time.RFC3339), p.end.Format(time.RFC3339))
		for _, tc := range []struct{ path, want string }{
			{"/v1/channels?live_filter=LIVE_FILTER_UNSPECIFIED", `"channelId":"cozy_cafe"`},
			{"/v1/channels/demo_stream", `"name":"channels/demo_stream"`},
			{"/v1/channels/gaming/metrics?resolution=RESOLUTION_FIVE_MINUTES&" + q, `"resolution":"RESOLUTION_FIVE_MINUTES"`},
			{"/v1/channels/gaming/moments?" + q, `"moments"`},
			{"/v1/channels/gaming/sessions?" + q, `"sessions"`},
			{"/openapi.json", `"swagger"`},
			{"/healthz", `SERVING`},
		} {
			out, err := runTool(t, "curl", "-sS", "--fail-with-body", base+tc.path)
			if err != nil || !strings.Contains(out, tc.want) {
				t.Fatalf("curl %s: %v\n%s", tc.path, err, out)
			}
		}
		out, err := runTool(t, "curl", "-sS", "--fail-with-body", base+"/v1/channels/cozy_cafe:summarize?"+q)
		if err != nil {
			t.Fatalf("summarize: %v\n%s", err, out)
		}
		p.checkSummary(t, "cozy_cafe", decode[summary](t, out))
	})
	t.Run("curl streams live updates (NDJSON and SSE)", func(t *testing.T) {
		base := "http://" + p.httpAddr
		type result struct {
			out string
			err error
		}
		ndjson, sse := make(chan result, 1), make(chan result, 1)
		go func() {
			out, err := runTool(t, "curl", "-sSN", "--max-time", "8", base+"/v1/events:subscribe?channels=demo_stream&channels=gaming")
			ndjson <- result{out, err}
		}()
		go func() {
			out, err := runTool(t, "curl", "-sSN", "--max-time", "8", base+"/v1/events:sse?channels=gaming&types=CHANNEL_EVENT_TYPE_PROVISIONAL_WINDOW")
			sse <- result{out, err}
		}()
		testkit.WaitFor(t, "both curl streams to subscribe", 5*time.Second, func() error {
			if n := gauge(t, p.metrics, "telemetra_gateway_subscribers"); n < 2 {
				return fmt.Errorf("%v subscribers", n)
			}
			return nil
		})
		// new events now: they must reach both streams as provisional window updates
		if _, err := producer.Run(ctx, producer.RunConfig{Brokers: []string{p.addr},
			Sim:   producer.Config{Channels: []string{"demo_stream", "gaming"}, Seed: 32},
			Count: 3000, Rate: 1000, Logger: kafkatest.Quiet()}); err != nil {
			t.Fatal(err)
		}
		n, s := <-ndjson, <-sse
		if !strings.Contains(n.out, `{"result":{"sequence":"1"`) || !strings.Contains(n.out, `"window":{"channel":"gaming"`) {
			t.Fatalf("NDJSON stream (%v):\n%.2000s", n.err, n.out)
		}
		if !strings.Contains(s.out, "event: window\ndata: {\"channel\":\"gaming\"") {
			t.Fatalf("SSE stream (%v):\n%.2000s", s.err, s.out)
		}
	})
}

// TestBadRequests: every invalid input gets InvalidArgument (HTTP 400) naming the field, an
// unknown channel NotFound (404), over gRPC and REST alike.
func TestBadRequests(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test")
	}
	p := startPipeline(t)
	conn, err := grpc.NewClient(p.grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	client := pb.NewTelemetraServiceClient(conn)
	ts := timestamppb.New
	for _, tc := range []struct {
		name     string
		call     func() error
		rest     string
		code     codes.Code
		httpCode int
		field    string
	}{
		{"bad channel name", func() error {
			_, err := client.GetChannel(ctx, &pb.GetChannelRequest{Name: "channels/Bad Name"})
			return err
		},
			"/v1/channels/Bad%20Name", codes.InvalidArgument, 400, "name"}, // REST: the path parameter "channel"
		{"not a channel resource", func() error { _, err := client.GetChannel(ctx, &pb.GetChannelRequest{Name: "users/x"}); return err },
			"", codes.InvalidArgument, 400, "name"},
		{"unknown channel", func() error {
			_, err := client.GetChannel(ctx, &pb.GetChannelRequest{Name: "channels/nobody_here"})
			return err
		},
			"/v1/channels/nobody_here", codes.NotFound, 404, "nobody_here"},
		{"unknown channel's metrics", func() error {
			_, err := client.ListWindowMetrics(ctx, &pb.ListWindowMetricsRequest{Parent: "channels/nobody_here"})
			return err
		}, "/v1/channels/nobody_here/metrics", codes.NotFound, 404, "nobody_here"},
		{"negative page size", func() error {
			_, err := client.ListMoments(ctx, &pb.ListMomentsRequest{Parent: "channels/-", PageSize: -1})
			return err
		}, "/v1/channels/-/moments?page_size=-1", codes.InvalidArgument, 400, "page_size"},
		{"unknown resolution", func() error {
			_, err := client.ListWindowMetrics(ctx, &pb.ListWindowMetricsRequest{Parent: "channels/gaming", Resolution: 99})
			return err
		}, "/v1/channels/gaming/metrics?resolution=99", codes.InvalidArgument, 400, "resolution"},
		{"unknown moment kind", func() error {
			_, err := client.ListMoments(ctx, &pb.ListMomentsRequest{Parent: "channels/gaming", Kinds: []pb.MomentKind{42}})
			return err
		}, "/v1/channels/gaming/moments?kinds=42", codes.InvalidArgument, 400, "kinds"},
		{"foreign page token", func() error {
			_, err := client.ListChannels(ctx, &pb.ListChannelsRequest{PageToken: "garbage"})
			return err
		}, "/v1/channels?page_token=garbage", codes.InvalidArgument, 400, "page_token"},
		{"bad subscription channel", func() error {
			s, err := client.SubscribeChannelEvents(ctx, &pb.SubscribeChannelEventsRequest{Channels: []string{"ok_channel", "NO!"}})
			if err != nil {
				return err
			}
			_, err = s.Recv()
			return err
		}, "/v1/events:subscribe?channels=ok_channel&channels=NO!", codes.InvalidArgument, 400, "channels[1]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call()
			st := status.Convert(err)
			if st.Code() != tc.code || !strings.Contains(st.Message(), tc.field) {
				t.Fatalf("gRPC: %v; want %s naming %q", err, tc.code, tc.field)
			}
			if tc.rest == "" {
				return
			}
			resp, err := http.Get("http://" + p.httpAddr + tc.rest)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			// a status; a streaming route wraps it as {"error": status}
			var body struct {
				Code    int    `json:"code"`
				Message string `json:"message"`
				Error   *struct {
					Code    int    `json:"code"`
					Message string `json:"message"`
				} `json:"error"`
			}
			_ = json.NewDecoder(resp.Body).Decode(&body)
			if body.Error != nil {
				body.Code, body.Message = body.Error.Code, body.Error.Message
			}
			field := tc.field
			if field == "name" {
				field = "channel"
			}
			if resp.StatusCode != tc.httpCode || codes.Code(body.Code) != tc.code || !strings.Contains(body.Message, field) {
				t.Fatalf("REST %s: HTTP %d %+v; want %d naming %q", tc.rest, resp.StatusCode, body, tc.httpCode, field)
			}
		})
	}
	// OpenAPI cannot declare a rule between two parameters, so every range the document allows is
	// served: an inverted one is empty, a long one costs what its data costs
	t.Run("an inverted range is empty", func(t *testing.T) {
		resp, err := client.ListWindowMetrics(ctx, &pb.ListWindowMetricsRequest{Parent: "channels/gaming", StartTime: ts(p.end), EndTime: ts(p.start)})
		if err != nil || len(resp.GetMetrics()) != 0 {
			t.Fatalf("ListWindowMetrics(end, start) = %v, %v; want an empty page", resp, err)
		}
		sum, err := client.SummarizeChannel(ctx, &pb.SummarizeChannelRequest{Name: "channels/gaming", StartTime: ts(p.end), EndTime: ts(p.start)})
		if err != nil || sum.GetWindows() != 0 || sum.GetChat().GetMessagesPerMinute() != 0 {
			t.Fatalf("SummarizeChannel(end, start) = %v, %v; want no windows", sum, err)
		}
	})
	t.Run("a year-long range is served", func(t *testing.T) {
		sum, err := client.SummarizeChannel(ctx, &pb.SummarizeChannelRequest{Name: "channels/gaming", StartTime: ts(p.start.Add(-365 * 24 * time.Hour)), EndTime: ts(p.end)})
		if err != nil || sum.GetWindows() == 0 {
			t.Fatalf("SummarizeChannel(a year) = %v, %v; want the pipeline's windows", sum, err)
		}
	})
}

// TestSlowSubscriberIsDroppedWhileAFastOneKeepsUp: a subscriber that stops reading is cut off
// with RESOURCE_EXHAUSTED once its buffer (and the transport's) fill, and one that reads gets
// every event, in order.
func TestSlowSubscriberIsDroppedWhileAFastOneKeepsUp(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test")
	}
	addr := kafkatest.StartBroker(t)
	gwCtx, stop := context.WithCancel(ctx)
	defer stop()
	srv, err := gateway.Start(gwCtx, gateway.Config{GRPCAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0", Brokers: []string{addr},
		// room for a reader that the race detector and a loaded CI machine slow down; the slow
		// one reads nothing and still overflows it long before the last of 30,000 events
		DatabaseURL: pgtest.Database(t), SubscriberBuffer: 4096, Logger: kafkatest.Quiet()})
	if err != nil {
		t.Fatal(err)
	}
	conn, err := grpc.NewClient(srv.GRPCAddr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	client := pb.NewTelemetraServiceClient(conn)
	subscribe := func() pb.TelemetraService_SubscribeChannelEventsClient {
		s, err := client.SubscribeChannelEvents(ctx, &pb.SubscribeChannelEventsRequest{Channels: []string{"load_test"}})
		if err != nil {
			t.Fatal(err)
		}
		if ev, err := s.Recv(); err != nil || ev.GetHeartbeat() == nil {
			t.Fatalf("first message %v, %v; want the heartbeat that confirms the subscription", ev, err)
		}
		return s
	}
	slow, fast := subscribe(), subscribe()

	const finals = 30_000
	received := make(chan error, 1)
	go func() {
		for k := 0; k < finals; {
			ev, err := fast.Recv()
			if err != nil {
				received <- fmt.Errorf("fast subscriber after %d events: %w", k, err)
				return
			}
			w := ev.GetWindow()
			if w == nil {
				continue // heartbeat
			}
			if want := time.Unix(0, 0).Add(time.Duration(k) * time.Minute); !w.GetWindowStart().AsTime().Equal(want) {
				received <- fmt.Errorf("event %d is the window of %s, want %s", k, w.GetWindowStart().AsTime(), want)
				return
			}
			k++
		}
		received <- nil
	}()
	produceFinals(t, addr, "load_test", finals)
	if err := <-received; err != nil {
		t.Fatal(err)
	}
	for {
		_, err := slow.Recv()
		if err == nil {
			continue // what the transport had buffered before the cut
		}
		if st := status.Convert(err); st.Code() != codes.ResourceExhausted || !strings.Contains(st.Message(), "too slow") {
			t.Fatalf("slow subscriber ended with %v; want RESOURCE_EXHAUSTED, too slow", err)
		}
		break
	}
}

// produceFinals writes n final windows of one channel to telemetra.aggregates, one minute apart,
// at about 10k records/s: a pace a reading subscriber keeps up with even under -race.
func produceFinals(t testing.TB, addr, channel string, n int) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.RecordPartitioner(kafka.GokaPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	for k := range n {
		if k%500 == 499 {
			time.Sleep(50 * time.Millisecond) // the pace above: time passing, not a wait for anything
		}
		start := time.Unix(0, 0).Add(time.Duration(k) * time.Minute)
		raw, _ := proto.Marshal(&pb.WindowAggregate{Channel: channel, WindowStart: timestamppb.New(start),
			WindowEnd: timestamppb.New(start.Add(time.Minute)), Final: true, Version: uint64(k + 1),
			Chat: &pb.ChatStats{Messages: int64(k)}})
		cl.Produce(ctx, &kgo.Record{Topic: kafka.TopicAggregates, Key: []byte(channel), Value: raw}, func(_ *kgo.Record, err error) {
			if err != nil {
				t.Error(err)
			}
		})
	}
	if err := cl.Flush(ctx); err != nil {
		t.Fatal(err)
	}
}
