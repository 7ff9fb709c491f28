package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/telemetra/telemetra/internal/pgtest"
	"github.com/telemetra/telemetra/internal/pipelinetest"
	"github.com/telemetra/telemetra/internal/testkit"
	"github.com/telemetra/telemetra/producer"
	pb "github.com/telemetra/telemetra/proto/telemetra/v1"
	"github.com/telemetra/telemetra/views/projector"
)

// hasTable reports that the database has a table of that name in its search path.
func hasTable(t *testing.T, db *pgx.Conn, name string) bool {
	t.Helper()
	var ok bool
	if err := db.QueryRow(context.Background(), "SELECT to_regclass($1) IS NOT NULL", name).Scan(&ok); err != nil {
		t.Fatalf("look for table %s: %v", name, err)
	}
	return ok
}

// freeAddr returns a local address nothing listens on (for a process that must keep its port
// across a restart).
func freeAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// role starts the telemetra binary with args until the test ends (SIGTERM, then wait).
func role(t *testing.T, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(binary, append(args, "--log-level", "warn")...)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Signal(syscall.SIGTERM); _ = cmd.Wait() })
	return cmd
}

// TestWholePipelineOnRealKafka runs every role as its own process of the binary against the
// real broker and PostgreSQL: producer → processor → projector → gateway. The projector is
// killed with SIGKILL mid-stream (some of the run's windows projected, not all) and restarted;
// curl's summaries still add up exactly to what the producer sent. Then the gateway is
// restarted under a subscriber, which reconnects with a snapshot and receives live updates
// again.
func TestWholePipelineOnRealKafka(t *testing.T) {
	addr := realKafka(t)
	dbURL := pgtest.Database(t)
	suffix := strconv.FormatInt(time.Now().UnixNano()%1_000_000, 10)
	channels := []string{"pipe_a_" + suffix, "pipe_b_" + suffix}
	// a minute of event time, written at once: it ends about a minute ahead of the wall clock
	// (see eventStart), and its last windows close by markers when the wall clock gets there
	start := eventStart(10_000 * 6 * time.Millisecond)
	runCfg := producer.RunConfig{Sim: producer.Config{Channels: channels, Seed: 5}, Count: 10_000, StartTime: start, TimeStep: 6 * time.Millisecond}
	want := pipelinetest.Expected(t, runCfg)

	// the gateway's view reads generation 1's table, so this test owns group telemetra-windows
	role(t, "process", "--brokers", addr, "--metrics-addr", "")
	consumer := "e2e-" + suffix
	project := func() *exec.Cmd {
		return role(t, "project", "--brokers", addr, "--database-url", dbURL, "--consumer", consumer, "--batch-size", "50", "--metrics-addr", "")
	}
	proj := project()
	grpcAddr, httpAddr := freeAddr(t), freeAddr(t)
	serve := func() *exec.Cmd {
		return role(t, "serve", "--brokers", addr, "--database-url", dbURL, "--grpc-addr", grpcAddr, "--http-addr", httpAddr, "--metrics-addr", "")
	}
	gw := serve()

	// what the projector has written: rows of this run's windows, and its stored offsets
	db, err := pgx.Connect(context.Background(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close(context.Background())
	query := func(sql string, args ...any) int64 {
		t.Helper()
		var n int64
		if err := db.QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
		return n
	}
	windows := func(finalOnly bool) int64 {
		if !hasTable(t, db, "window_aggregates") {
			return 0 // not migrated yet
		}
		return query("SELECT count(*) FROM window_aggregates WHERE channel = ANY($1) AND (final OR NOT $2)", channels, finalOnly)
	}
	projected := func() int64 {
		if !hasTable(t, db, "projector_offsets") {
			return 0
		}
		return query("SELECT coalesce(sum(next_offset), 0)::bigint FROM projector_offsets WHERE consumer = $1", consumer)
	}

	run(t, 2*time.Minute, binary, "produce", "--brokers", addr, "--channels", strings.Join(channels, ","), "--count", "10000",
		"--unthrottled", "--seed", "5", "--start-time", start.Format(time.RFC3339), "--time-step", "6ms", "--log-level", "warn")

	// the projector dies mid-stream (small batches: some committed, one likely in flight) once
	// some of the run's windows are projected, long before its last windows are final, and
	// comes back: it resumes from the offsets committed with its rows
	testkit.WaitFor(t, "the projector to write a window of the run", time.Minute, func() error {
		if windows(false) == 0 {
			return errors.New("none yet")
		}
		return nil
	})
	_ = proj.Process.Signal(syscall.SIGKILL)
	_ = proj.Wait()
	rowsAtKill, finalsAtKill, offsetsAtKill := windows(false), windows(true), projected()
	if offsetsAtKill <= 0 {
		t.Fatalf("the projector had stored no offsets when killed, yet %d rows of the run", rowsAtKill)
	}
	project()

	// summaries count the final windows starting in the range: from the run's first window
	q := fmt.Sprintf("start_time=%s&end_time=%s", start.Truncate(time.Minute).Format(time.RFC3339), start.Add(time.Hour).Format(time.RFC3339))
	for _, ch := range channels {
		testkit.WaitFor(t, "the summary of "+ch+" to add up", 3*time.Minute, func() error {
			out, _ := exec.Command("curl", "-sS", "http://"+httpAddr+"/v1/channels/"+ch+":summarize?"+q).Output()
			var s struct {
				Chat struct {
					Messages string `json:"messages"`
				} `json:"chat"`
				Viewers struct {
					Samples string `json:"samples"`
				} `json:"viewers"`
				Transactions struct {
					RevenueCents string `json:"revenueCents"`
				} `json:"transactions"`
			}
			_ = json.Unmarshal(out, &s)
			if s.Transactions.RevenueCents == "" && s.Chat.Messages != "" {
				s.Transactions.RevenueCents = "0" // proto3 JSON leaves zero out: no transaction in the run
			}
			got := fmt.Sprintf("%s/%s/%s", s.Chat.Messages, s.Viewers.Samples, s.Transactions.RevenueCents)
			w := want[ch]
			if exp := fmt.Sprintf("%d/%d/%d", w.Chat, w.ViewerSamples, w.RevenueCents); got != exp {
				return fmt.Errorf("%s, want %s (chat/samples/revenue)\n%s", got, exp, out)
			}
			return nil
		})
	}
	// the kill landed mid-stream: the restarted projector had records of the run to project
	finals, total := windows(true), endOffsets(t, addr, projector.Topics(1)...)
	if finalsAtKill >= finals || offsetsAtKill >= total {
		t.Fatalf("the projector kill did not land mid-stream: %d of the run's %d final windows and %d of %d records projected when killed",
			finalsAtKill, finals, offsetsAtKill, total)
	}
	t.Logf("projector killed mid-stream: %d rows of the run's windows, %d of its %d finals, %d of %d records projected",
		rowsAtKill, finalsAtKill, finals, offsetsAtKill, total)
	if out := string(run(t, time.Minute, "grpcurl", "-plaintext", "-d", fmt.Sprintf(`{"name":"channels/%s"}`, channels[0]),
		grpcAddr, "telemetra.v1.TelemetraService/GetChannel")); !strings.Contains(out, `"lastFinalWindow"`) {
		t.Fatalf("GetChannel:\n%s", out)
	}

	// a subscriber across a gateway restart
	conn, err := grpc.NewClient(grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	client := pb.NewTelemetraServiceClient(conn)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	subscribe := func() (s pb.TelemetraService_SubscribeChannelEventsClient) {
		deadline, _ := ctx.Deadline()
		testkit.WaitFor(t, "a (re)subscription with the snapshot", time.Until(deadline), func() error {
			var err error
			if s, err = client.SubscribeChannelEvents(ctx, &pb.SubscribeChannelEventsRequest{Channels: channels[:1], IncludeSnapshot: true}); err != nil {
				return err
			}
			ev, err := s.Recv()
			if err != nil {
				return err
			}
			if !ev.GetSnapshot() || ev.GetStatus() == nil {
				return fmt.Errorf("first event %v, want the snapshot's status", ev)
			}
			return nil // the snapshot starts with the channel's status
		})
		return s
	}
	sub := subscribe()
	_ = gw.Process.Signal(syscall.SIGTERM)
	for {
		if _, err := sub.Recv(); err != nil {
			if st := status.Convert(err); st.Code() != codes.Unavailable {
				t.Fatalf("subscription ended with %v, want UNAVAILABLE on shutdown", err)
			}
			break
		}
	}
	_ = gw.Wait()
	serve()
	sub = subscribe()
	// live: event time at the wall clock's pace, after the first run's (see eventStart)
	liveDone := make(chan struct{})
	go func() {
		defer close(liveDone)
		_, _ = exec.Command(binary, "produce", "--brokers", addr, "--channels", channels[0], "--count", "2000",
			"--rate", "500", "--seed", "6", "--start-time", eventStart(4*time.Second).Format(time.RFC3339), "--log-level", "warn").CombinedOutput()
	}()
	defer func() { <-liveDone }() // done before the next test's groups read the topics
	for {
		ev, err := sub.Recv()
		if err != nil {
			t.Fatalf("after the restart: %v", err)
		}
		if w := ev.GetWindow(); w != nil && !ev.GetSnapshot() {
			break // a live update through the restarted gateway
		}
	}
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		t.Fatal("timed out")
	}
}
