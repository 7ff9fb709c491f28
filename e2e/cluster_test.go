package e2e

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/telemetra/telemetra/internal/kafka"
	"github.com/telemetra/telemetra/internal/pgtest"
	"github.com/telemetra/telemetra/internal/pipelinetest"
	"github.com/telemetra/telemetra/internal/testkit"
	"github.com/telemetra/telemetra/processors/table"
	"github.com/telemetra/telemetra/producer"
	pb "github.com/telemetra/telemetra/proto/telemetra/v1"
	"github.com/telemetra/telemetra/views/projector"
)

// The cluster test's shape, as issue #16 asks for it.
const (
	clusterPartitions = 12
	clusterWindow     = 10 * time.Second
)

// realCluster returns the three-broker cluster's bootstrap list or skips the test.
func realCluster(t *testing.T) string {
	t.Helper()
	addr := os.Getenv("TELEMETRA_E2E_CLUSTER")
	if addr == "" {
		t.Skip("TELEMETRA_E2E_CLUSTER not set (make test starts a three-broker cluster)")
	}
	return addr
}

// clusterScript runs scripts/kafka-cluster.sh with args, for the cluster the test runs on (the
// script's environment, KAFKA_CLUSTER_*, is the one scripts/test.sh started it with).
func clusterScript(t *testing.T, args ...string) {
	t.Helper()
	run(t, 5*time.Minute, filepath.Join("..", "scripts", "kafka-cluster.sh"), args...)
}

// TestClusterLosesABrokerAProcessorAndAProjector runs the whole pipeline on a real three-broker
// cluster, as a deployment would: every topic with twelve partitions, replication factor 3 and
// min.insync.replicas 2; three processors, two projectors and two gateways, each its own process
// of the binary. A seeded producer writes while, mid-stream, one broker is SIGKILLed, then one
// processor and one projector; then the broker is restarted. Every final window holds exactly
// what the run put in it: in Kafka, in PostgreSQL, and at a subscriber of each gateway, whose
// subscription goes on across the faults.
func TestClusterLosesABrokerAProcessorAndAProjector(t *testing.T) {
	addr := realCluster(t)
	brokers := pipelinetest.Brokers(addr)
	dbURL := pgtest.Database(t)
	suffix := strconv.FormatInt(time.Now().UnixNano()%1_000_000, 10)
	var channels []string
	for i := range 8 {
		channels = append(channels, fmt.Sprintf("clu_%d_%s", i, suffix))
	}

	// the topics as an operator creates them for a replicated cluster
	run(t, 2*time.Minute, binary, "topics", "create", "--brokers", addr, "--partitions", strconv.Itoa(clusterPartitions),
		"--replication-factor", "3", "--min-insync-replicas", "2", "--log-level", "warn")
	checkReplicated(t, brokers)

	// the gateways read generation 1's table, so the processors run the default group
	group := string(table.Group(1))
	processors := map[string]*exec.Cmd{}
	for _, id := range []string{"p1", "p2", "p3"} {
		// the default producer delay (2 s) and failover grace: the records stalled by the lost
		// broker must not turn late (docs/operations.md, "Losing a broker"); a processor whose
		// group coordinator was on the lost broker is restarted in its process
		processors[id] = role(t, "process", "--brokers", addr, "--client-id", id, "--metrics-addr", "",
			"--window", clusterWindow.String(), "--allowed-lateness", "3s", "--restart-on-error")
	}
	awaitMembers(t, addr, group, []string{"p1", "p2", "p3"}, 3*time.Minute)
	consumer := "cluster-" + suffix
	var projectors []*exec.Cmd
	for range 2 {
		projectors = append(projectors, role(t, "project", "--brokers", addr, "--database-url", dbURL, "--consumer", consumer,
			"--batch-size", "200", "--metrics-addr", ""))
	}
	var subscribers []*finalsSeen
	var grpcAddrs []string
	for range 2 {
		grpcAddr := freeAddr(t)
		role(t, "serve", "--brokers", addr, "--database-url", dbURL, "--grpc-addr", grpcAddr, "--http-addr", freeAddr(t), "--metrics-addr", "")
		grpcAddrs = append(grpcAddrs, grpcAddr)
		subscribers = append(subscribers, subscribeFinals(t, grpcAddr, channels))
	}
	for _, s := range subscribers {
		s.awaitSubscribed(t, 3*time.Minute)
	}

	// about 50 s of event time at the wall clock's pace: the faults land while it is written
	const count, rate = 40_000, 800
	step := time.Second / rate
	runCfg := producer.RunConfig{Sim: producer.Config{Channels: channels, Seed: 16}, Count: count,
		StartTime: eventStart(count * step), TimeStep: step}
	want := pipelinetest.ExpectedWindows(t, runCfg, clusterWindow)
	base := endOffsets(t, addr, kafka.InputTopics()...)
	produced := produceInBackground(t, "--brokers", addr, "--channels", strings.Join(channels, ","),
		"--count", strconv.Itoa(count), "--rate", strconv.Itoa(rate), "--seed", "16",
		"--start-time", runCfg.StartTime.Format(time.RFC3339), "--time-step", step.String())

	// 1. a broker that leads some of the input partitions dies
	awaitCommitted(t, addr, group, base, count/5, 2*time.Minute)
	victim, led := busiestLeader(t, brokers)
	clusterScript(t, "kill", strconv.Itoa(int(victim)))
	// node i listens at the i-th address of the bootstrap list (scripts/kafka-cluster.sh)
	testkit.WaitFor(t, fmt.Sprintf("broker %d to refuse connections", victim), 30*time.Second, func() error {
		c, err := net.DialTimeout("tcp", brokers[victim-1], time.Second)
		if err != nil {
			return nil
		}
		_ = c.Close()
		return fmt.Errorf("%s still accepts connections", brokers[victim-1])
	})
	checkKilledMidStream(t, addr, group, base, count)
	t.Logf("broker %d SIGKILLed; it led %d of the %d input partitions", victim, led, 4*clusterPartitions)

	// 2. then a processor: the two others take its partitions over
	awaitCommitted(t, addr, group, base, count*2/5, 3*time.Minute)
	killRole(t, processors["p2"])
	checkKilledMidStream(t, addr, group, base, count)

	// 3. then a projector, once it has written some of the run: the other takes its partitions
	db, err := pgx.Connect(context.Background(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close(context.Background())
	projected := func() int64 {
		var n int64
		if hasTable(t, db, "projector_offsets") {
			if err := db.QueryRow(context.Background(), "SELECT coalesce(sum(next_offset), 0)::bigint FROM projector_offsets WHERE consumer = $1",
				consumer).Scan(&n); err != nil {
				t.Fatal(err)
			}
		}
		return n
	}
	testkit.WaitFor(t, "the projectors to write some of the run", 3*time.Minute, func() error {
		if projected() == 0 {
			return errors.New("nothing projected yet")
		}
		return nil
	})
	killRole(t, projectors[0])
	projectedAtKill := projected()

	// 4. the broker comes back and catches up
	clusterScript(t, "start-node", strconv.Itoa(int(victim)))
	if out := produced(); strings.Contains(string(out), "level=ERROR") {
		t.Fatalf("producer: %s", out)
	}

	pipelinetest.AwaitFinalWindows(t, addr, want, 5*time.Minute)
	awaitProjectedWindows(t, db, channels, want, 3*time.Minute)
	for i, s := range subscribers {
		s.awaitWindows(t, fmt.Sprintf("the subscriber of gateway %d", i+1), want, 2*time.Minute)
	}
	if total := endOffsets(t, addr, projector.Topics(1)...); projectedAtKill <= 0 || projectedAtKill >= total {
		t.Fatalf("the projector kill did not land mid-stream: %d of %d records projected", projectedAtKill, total)
	} else {
		t.Logf("projector SIGKILLed mid-stream: %d of the %d records projected", projectedAtKill, total)
	}
	// both gateways serve the live table
	for _, g := range grpcAddrs {
		if out := string(run(t, time.Minute, "grpcurl", "-plaintext", "-d", fmt.Sprintf(`{"name":"channels/%s"}`, channels[0]),
			g, "telemetra.v1.TelemetraService/GetChannel")); !strings.Contains(out, `"lastFinalWindow"`) {
			t.Fatalf("GetChannel on %s:\n%s", g, out)
		}
	}
	awaitInSync(t, brokers, 3*time.Minute)
}

// checkReplicated fails unless every topic of generation 1 has the cluster test's partitions,
// three replicas and min.insync.replicas 2.
func checkReplicated(t *testing.T, brokers []string) {
	t.Helper()
	names := append(append(kafka.InputTopics(), kafka.OutputsFor(1).Written()...), string(table.Name(1)))
	infos, err := kafka.DescribeTopics(context.Background(), brokers, names)
	if err != nil {
		t.Fatal(err)
	}
	for _, info := range infos {
		if info.Partitions != clusterPartitions || info.ReplicationFactor != 3 || info.MinInsyncReplicas != "2" {
			t.Errorf("topic %s: %d partitions, replication %d, min.insync.replicas %q", info.Name, info.Partitions,
				info.ReplicationFactor, info.MinInsyncReplicas)
		}
	}
}

// busiestLeader returns the broker that leads the most input partitions, and how many: its loss
// makes the most of them elect a new leader.
func busiestLeader(t *testing.T, brokers []string) (node int32, led int) {
	t.Helper()
	adm := admin(t, brokers)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	topics, err := adm.ListTopics(ctx, kafka.InputTopics()...)
	if err != nil {
		t.Fatal(err)
	}
	leads := map[int32]int{}
	for _, topic := range topics {
		for _, p := range topic.Partitions {
			leads[p.Leader]++
		}
	}
	for n, c := range leads {
		if c > led || (c == led && n < node) {
			node, led = n, c
		}
	}
	if node < 1 || int(node) > len(brokers) {
		t.Fatalf("leaders %v: node ids are not 1..%d", leads, len(brokers))
	}
	return node, led
}

// awaitInSync waits until every replica of every input partition is in sync again: the
// restarted broker caught up.
func awaitInSync(t *testing.T, brokers []string, timeout time.Duration) {
	t.Helper()
	adm := admin(t, brokers)
	testkit.WaitFor(t, "every input partition to have its three replicas in sync", timeout, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		topics, err := adm.ListTopics(ctx, kafka.InputTopics()...)
		if err != nil {
			return err
		}
		for _, topic := range topics {
			for _, p := range topic.Partitions {
				if len(p.ISR) != 3 {
					return fmt.Errorf("%s/%d: in sync %v", topic.Topic, p.Partition, p.ISR)
				}
			}
		}
		return nil
	})
}

func admin(t *testing.T, brokers []string) *kadm.Client {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return kadm.NewClient(cl)
}

// killRole SIGKILLs a role started with role.
func killRole(t *testing.T, cmd *exec.Cmd) {
	t.Helper()
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
}

// awaitProjectedWindows waits until the final window rows of channels in PostgreSQL hold what
// want says, window by window.
func awaitProjectedWindows(t *testing.T, db *pgx.Conn, channels []string, want map[string]pipelinetest.Totals, timeout time.Duration) {
	t.Helper()
	testkit.WaitFor(t, "the projected final windows to hold the run", timeout, func() error {
		rows, err := db.Query(context.Background(), `SELECT channel, window_start, chat_messages, viewer_samples, transactions, revenue_cents
			FROM window_aggregates WHERE channel = ANY($1) AND final`, channels)
		if err != nil {
			return err
		}
		got := map[string]pipelinetest.Totals{}
		for rows.Next() {
			var channel string
			var start time.Time
			var tot pipelinetest.Totals
			if err := rows.Scan(&channel, &start, &tot.Chat, &tot.ViewerSamples, &tot.Transactions, &tot.RevenueCents); err != nil {
				return err
			}
			got[pipelinetest.WindowID(channel, start)] = tot
		}
		if err := rows.Err(); err != nil {
			return err
		}
		return windowsDiffer(got, want)
	})
}

// windowsDiffer describes how got differs from want, window by window, or returns nil.
func windowsDiffer(got, want map[string]pipelinetest.Totals) error {
	var diffs []string
	for id, w := range want {
		if g, ok := got[id]; !ok {
			diffs = append(diffs, id+": missing")
		} else if g != w {
			diffs = append(diffs, fmt.Sprintf("%s: %+v, want %+v", id, g, w))
		}
	}
	for id := range got {
		if _, ok := want[id]; !ok {
			diffs = append(diffs, id+": not in the run")
		}
	}
	if len(diffs) == 0 {
		return nil
	}
	slices.Sort(diffs)
	return fmt.Errorf("%d of %d windows differ: %s", len(diffs), len(want), strings.Join(diffs[:min(len(diffs), 5)], "; "))
}

// finalsSeen is what a subscriber of one gateway received: the final windows of its channels,
// and how often its subscription had to be made again.
type finalsSeen struct {
	mu         sync.Mutex
	subscribed bool
	windows    map[string]pipelinetest.Totals
	conflicts  []string // a window final twice with other counts
	ended      []string // why confirmed subscriptions ended
}

// subscribeFinals subscribes to channels on a gateway until the test ends, resubscribing if a
// subscription ends, and collects the final windows.
func subscribeFinals(t *testing.T, grpcAddr string, channels []string) *finalsSeen {
	t.Helper()
	conn, err := grpc.NewClient(grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	t.Cleanup(func() { cancel(); <-done; _ = conn.Close() })
	seen := &finalsSeen{windows: map[string]pipelinetest.Totals{}}
	client := pb.NewTelemetraServiceClient(conn)
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			confirmed, err := seen.follow(ctx, client, channels)
			if ctx.Err() != nil {
				return
			}
			if confirmed { // not a gateway that is still starting
				seen.mu.Lock()
				seen.ended = append(seen.ended, err.Error())
				seen.mu.Unlock()
			}
			select {
			case <-ctx.Done():
			case <-time.After(time.Second):
			}
		}
	}()
	return seen
}

// follow reads one subscription until it ends, and says whether the gateway confirmed it.
func (s *finalsSeen) follow(ctx context.Context, client pb.TelemetraServiceClient, channels []string) (confirmed bool, err error) {
	stream, err := client.SubscribeChannelEvents(ctx, &pb.SubscribeChannelEventsRequest{Channels: channels})
	if err != nil {
		return false, err
	}
	for {
		ev, err := stream.Recv()
		if err != nil {
			return confirmed, err
		}
		confirmed = true
		s.mu.Lock()
		s.subscribed = true // the first message confirms the subscription
		if w := ev.GetWindow(); w.GetFinal() && !ev.GetSnapshot() {
			id := pipelinetest.WindowID(w.GetChannel(), w.GetWindowStart().AsTime())
			tot := pipelinetest.Totals{Chat: w.GetChat().GetMessages(), ViewerSamples: w.GetViewers().GetSamples(),
				Transactions: w.GetTransactions().GetTransactions(), RevenueCents: w.GetTransactions().GetRevenueCents()}
			if prev, again := s.windows[id]; again && prev != tot {
				s.conflicts = append(s.conflicts, fmt.Sprintf("%s: %+v, then %+v", id, prev, tot))
			}
			s.windows[id] = tot
		}
		s.mu.Unlock()
	}
}

func (s *finalsSeen) awaitSubscribed(t *testing.T, timeout time.Duration) {
	t.Helper()
	testkit.WaitFor(t, "a subscription to be confirmed", timeout, func() error {
		s.mu.Lock()
		defer s.mu.Unlock()
		if !s.subscribed {
			return fmt.Errorf("not yet; ended: %v", s.ended)
		}
		return nil
	})
}

// awaitWindows waits until the subscriber has received every window of want with its counts,
// and fails if it saw a window final twice with other counts or had to resubscribe: a
// resubscription would leave a gap (a snapshot brings the channel's state, not the finals missed).
func (s *finalsSeen) awaitWindows(t *testing.T, who string, want map[string]pipelinetest.Totals, timeout time.Duration) {
	t.Helper()
	testkit.WaitFor(t, who+" to receive every final window of the run", timeout, func() error {
		s.mu.Lock()
		defer s.mu.Unlock()
		return windowsDiffer(s.windows, want)
	})
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.conflicts) > 0 || len(s.ended) > 0 {
		t.Fatalf("%s: windows final twice with other counts %v; subscriptions ended %v", who, s.conflicts, s.ended)
	}
}
