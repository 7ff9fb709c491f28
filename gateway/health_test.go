package gateway_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/telemetra/telemetra/gateway"
	"github.com/telemetra/telemetra/internal/kafka"
	"github.com/telemetra/telemetra/internal/kafka/kafkatest"
	"github.com/telemetra/telemetra/internal/pgtest"
	"github.com/telemetra/telemetra/internal/testkit"
	"github.com/telemetra/telemetra/migrations"
	"github.com/telemetra/telemetra/processors/table"
	pb "github.com/telemetra/telemetra/proto/telemetra/v1"
)

// pipelineHealthREST is GET /v1/pipeline:health.
func pipelineHealthREST(t testing.TB, httpAddr string) *pb.PipelineHealth {
	t.Helper()
	resp, err := http.Get("http://" + httpAddr + "/v1/pipeline:health")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /v1/pipeline:health: %d %s", resp.StatusCode, body)
	}
	h := &pb.PipelineHealth{}
	if err := protojson.Unmarshal(body, h); err != nil {
		t.Fatalf("decode %s: %v", body, err)
	}
	return h
}

// lagOf is a reader's lag in h, -1 when h has none for it.
func lagOf(h *pb.PipelineHealth, consumer string) int64 {
	for _, c := range h.GetConsumers() {
		if c.GetConsumer() == consumer {
			return c.GetLagRecords()
		}
	}
	return -1
}

// TestPipelineHealthFollowsTheTopicsAndTheReaders: records produced to an input topic show as
// the processor's lag until its group commits them, records of the aggregates topic as the
// projector's until its offsets in PostgreSQL say they are projected, and dead letters as
// their total and a rate that makes the pipeline degraded; REST, gRPC and the gauges agree.
func TestPipelineHealthFollowsTheTopicsAndTheReaders(t *testing.T) {
	addr := kafkatest.StartBroker(t)
	dbURL := pgtest.Database(t)
	conn := pgtest.Connect(t, dbURL)
	if _, err := migrations.Apply(ctx, conn, "public", kafkatest.Quiet()); err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	gwCtx, stop := context.WithCancel(ctx)
	srv, err := gateway.Start(gwCtx, gateway.Config{GRPCAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0", Brokers: []string{addr},
		DatabaseURL: dbURL, Logger: kafkatest.Quiet(), Registry: reg, HealthInterval: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stop()
		if err := srv.Wait(); err != nil {
			t.Errorf("gateway: %v", err)
		}
	})
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	produce := func(topic string, n int) {
		t.Helper()
		for k := range n {
			r := &kgo.Record{Topic: topic, Partition: int32(k % 2), Value: []byte(`{"not":"checked here"}`)}
			if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
	}
	await := func(what string, cond func(h *pb.PipelineHealth) error) *pb.PipelineHealth {
		t.Helper()
		var last *pb.PipelineHealth
		testkit.WaitFor(t, what, 30*time.Second, func() error {
			last = pipelineHealthREST(t, srv.HTTPAddr())
			return cond(last)
		})
		return last
	}

	// nothing written yet: no lag, no dead letter, nothing live or projected to judge
	h := await("a first sample", func(h *pb.PipelineHealth) error {
		if h.GetAsOf() == nil || h.GetDeadLettersTotal() != 0 || lagOf(h, "processor") != 0 || lagOf(h, "projector") != 0 {
			return fmt.Errorf("%v", h)
		}
		return nil
	})
	if h.GetState() != "unknown" || h.GetLiveFreshness() != nil || h.GetProjectionFreshness() != nil ||
		!strings.Contains(strings.Join(h.GetProblems(), "\n"), "no window projected yet") {
		t.Errorf("an empty pipeline: %v; want unknown, no freshness, no window projected yet", h)
	}

	produce(kafka.TopicChat, 30)
	produce(kafka.TopicAggregates, 4)
	await("the processor's and the projector's lag", func(h *pb.PipelineHealth) error {
		if lagOf(h, "processor") != 30 || lagOf(h, "projector") != 4 {
			return fmt.Errorf("consumers %v; want processor 30, projector 4", h.GetConsumers())
		}
		return nil
	})

	// the processor's group commits 25 of them, the projector stores that it projected all four
	adm := kadm.NewClient(cl)
	commits := kadm.Offsets{}
	commits.AddOffset(kafka.TopicChat, 0, 15, -1)
	commits.AddOffset(kafka.TopicChat, 1, 10, -1)
	if _, err := adm.CommitOffsets(ctx, string(table.DefaultGroup), commits); err != nil {
		t.Fatal(err)
	}
	pool, err := pgxpool.New(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	for p, next := range []int64{2, 2} {
		if _, err := pool.Exec(ctx, "INSERT INTO projector_offsets (consumer, topic, partition, next_offset) VALUES ('telemetra-projector', $1, $2, $3)",
			kafka.TopicAggregates, p, next); err != nil {
			t.Fatal(err)
		}
	}
	await("the lags going down", func(h *pb.PipelineHealth) error {
		if lagOf(h, "processor") != 5 || lagOf(h, "projector") != 0 {
			return fmt.Errorf("consumers %v; want processor 5, projector 0", h.GetConsumers())
		}
		return nil
	})

	produce(kafka.TopicDLQ, 3)
	produce(kafka.TopicProjectorDLQ, 2)
	produce(kafka.TopicLate, 7)
	h = await("the dead letters", func(h *pb.PipelineHealth) error {
		if h.GetDeadLettersTotal() != 5 || h.GetDeadLettersPerMinute() <= 0 || h.GetLateEventsPerMinute() <= 0 {
			return fmt.Errorf("dead letters %d (%v/min), late %v/min; want 5 and rates above 0",
				h.GetDeadLettersTotal(), h.GetDeadLettersPerMinute(), h.GetLateEventsPerMinute())
		}
		return nil
	})
	if h.GetState() != "degraded" || !strings.Contains(strings.Join(h.GetProblems(), "\n"), "dead letters per minute (threshold 0)") {
		t.Errorf("with dead letters: %s %q; want degraded by them", h.GetState(), h.GetProblems())
	}

	// gRPC answers the same sample, and the gauges hold its figures
	gc, err := grpc.NewClient(srv.GRPCAddr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer gc.Close()
	viaGRPC, err := pb.NewTelemetraServiceClient(gc).GetPipelineHealth(ctx, &pb.GetPipelineHealthRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if viaGRPC.GetDeadLettersTotal() != 5 || lagOf(viaGRPC, "processor") != 5 || viaGRPC.GetState() != "degraded" {
		t.Errorf("over gRPC: %v", viaGRPC)
	}
	if v := gauge(t, reg, "telemetra_gateway_pipeline_dead_letter_records"); v != 5 {
		t.Errorf("telemetra_gateway_pipeline_dead_letter_records = %v, want 5", v)
	}
}

// checkPipelineHealth: on a pipeline that has processed and projected everything, both readers
// are caught up, and the live freshness is the sample's time minus the newest update time the
// live reads serve.
func checkPipelineHealth(t *testing.T, p *pipeline) {
	testkit.WaitFor(t, "a caught-up pipeline's health", time.Minute, func() error {
		h := pipelineHealthREST(t, p.httpAddr)
		if lagOf(h, "processor") != 0 || lagOf(h, "projector") != 0 {
			return fmt.Errorf("consumers %v; want both caught up", h.GetConsumers())
		}
		if h.GetLiveFreshness() == nil || h.GetProjectionFreshness() == nil || h.GetDeadLettersTotal() != 0 {
			return fmt.Errorf("%v; want both freshness figures and no dead letter", h)
		}
		var newest time.Time
		for channel := range p.want {
			resp, err := http.Get("http://" + p.httpAddr + "/v1/channels/" + channel)
			if err != nil {
				return err
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			ch := &pb.Channel{}
			if err := protojson.Unmarshal(body, ch); err != nil {
				return fmt.Errorf("channel %s: %v", channel, err)
			}
			if at := ch.GetUpdateTime().AsTime(); at.After(newest) {
				newest = at
			}
		}
		if seen := h.GetAsOf().AsTime().Add(-h.GetLiveFreshness().AsDuration()); !seen.Equal(newest) {
			return fmt.Errorf("as_of - live_freshness = %v, the newest channel update %v", seen, newest)
		}
		return nil
	})
}

// BenchmarkGetPipelineHealthInProcess serves GetPipelineHealth to 16 in-process gRPC clients
// over 4 connections for 5 s, with the sampler taking a sample every 2 s beside: a call only
// copies the newest sample. Run with -benchtime 1x; figures in docs/api.md.
func BenchmarkGetPipelineHealthInProcess(b *testing.B) {
	addr := kafkatest.StartBroker(b)
	gwCtx, stop := context.WithCancel(ctx)
	srv, err := gateway.Start(gwCtx, gateway.Config{GRPCAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0", Brokers: []string{addr},
		Live: fakeLive{}, Logger: kafkatest.Quiet()})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		stop()
		if err := srv.Wait(); err != nil {
			b.Errorf("gateway: %v", err)
		}
	})
	var clients []pb.TelemetraServiceClient
	for range 4 {
		cc, err := grpc.NewClient(srv.GRPCAddr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = cc.Close() })
		clients = append(clients, pb.NewTelemetraServiceClient(cc))
	}
	const span = 5 * time.Second
	b.ResetTimer()
	for range b.N {
		var served atomic.Int64
		deadline := time.Now().Add(span)
		var wg sync.WaitGroup
		for i := range 16 {
			wg.Go(func() {
				for time.Now().Before(deadline) {
					if _, err := clients[i%len(clients)].GetPipelineHealth(ctx, &pb.GetPipelineHealthRequest{}); err != nil {
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
