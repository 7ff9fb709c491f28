package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/telemetra/telemetra/internal/kafka"
	"github.com/telemetra/telemetra/internal/pipelinetest"
	"github.com/telemetra/telemetra/internal/testkit"
	"github.com/telemetra/telemetra/producer"
)

// TestProcessorOnRealKafkaAddsUp runs the telemetra binary's producer and processor against
// the real broker: the final windows hold every chat message, viewer sample and transaction
// of the seeded run exactly once, also across a SIGKILL of the processor mid-stream.
func TestProcessorOnRealKafkaAddsUp(t *testing.T) {
	addr := realKafka(t)
	suffix := strconv.FormatInt(time.Now().UnixNano()%1_000_000, 10)
	channels := []string{"proc_a_" + suffix, "proc_b_" + suffix, "proc_c_" + suffix}
	// a minute of event time in 8s of wall clock (2500 events/s): the run ends less than a
	// minute ahead of the wall clock (see eventStart)
	run := producer.RunConfig{
		Sim:   producer.Config{Channels: channels, Seed: 7},
		Count: 20_000, StartTime: eventStart(20_000 * 3 * time.Millisecond), TimeStep: 3 * time.Millisecond,
	}
	group := "e2e-windows-" + suffix
	start := func() *exec.Cmd {
		cmd := exec.Command(binary, "process", "--brokers", addr, "--group", group, "--metrics-addr", "", "--log-level", "warn")
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }) // when the test fails before its end
		return cmd
	}
	first := start()
	// the group reads the input topics from the start: what earlier tests wrote is not the run's
	base := endOffsets(t, addr, kafka.InputTopics()...)
	produced := produceInBackground(t, "--brokers", addr, "--channels", strings.Join(channels, ","),
		"--count", "20000", "--rate", "2500", "--seed", "7", "--start-time", run.StartTime.Format(time.RFC3339),
		"--time-step", "3ms")
	// killed once some of the run is committed, while the producer is still writing
	awaitCommitted(t, addr, group, base, run.Count/10, time.Minute)
	if err := first.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = first.Wait()
	checkKilledMidStream(t, addr, group, base, run.Count)
	second := start()
	t.Cleanup(func() { _ = second.Process.Signal(syscall.SIGTERM); _ = second.Wait() })
	if out := produced(); strings.Contains(string(out), "level=ERROR") {
		t.Fatalf("producer: %s", out)
	}
	pipelinetest.AwaitFinals(t, addr, pipelinetest.Expected(t, run), 3*time.Minute)
}

// TestTwoProcessorsOneKilledOnRealKafka runs two processor instances in one group; one is
// killed with SIGKILL mid-stream and not restarted. The survivor takes its partitions over
// (rebalance, state recovered from the table) and the final windows are still exact.
func TestTwoProcessorsOneKilledOnRealKafka(t *testing.T) {
	addr := realKafka(t)
	suffix := strconv.FormatInt(time.Now().UnixNano()%1_000_000, 10)
	channels := []string{"reb_a_" + suffix, "reb_b_" + suffix, "reb_c_" + suffix, "reb_d_" + suffix}
	group := "e2e-rebalance-" + suffix
	metricsAddr := freeAddr(t) // the survivor's, read when the test fails
	start := func(id, metrics string) *exec.Cmd {
		cmd := exec.Command(binary, "process", "--brokers", addr, "--group", group,
			"--client-id", id, "--metrics-addr", metrics, "--log-level", "warn")
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd
	}
	victim, survivor := start("victim", ""), start("survivor", metricsAddr)
	t.Cleanup(func() { _ = victim.Process.Kill(); _ = victim.Wait() }) // when the test fails before the kill
	t.Cleanup(func() {
		if t.Failed() {
			// the survivor's view of its lag, and a goroutine dump on stderr, for the stall below
			if out, err := exec.Command("curl", "-sS", "http://"+metricsAddr+"/metrics").Output(); err == nil {
				for _, line := range strings.Split(string(out), "\n") {
					if strings.HasPrefix(line, "telemetra_processor_lag_records") || strings.HasPrefix(line, "telemetra_processor_partition_lagging") ||
						strings.HasPrefix(line, "telemetra_processor_events_total") {
						t.Log(line)
					}
				}
			}
			_ = survivor.Process.Signal(syscall.SIGQUIT)
		} else {
			_ = survivor.Process.Signal(syscall.SIGTERM)
		}
		_ = survivor.Wait()
	})
	// both have joined and hold partitions before the run starts
	awaitMembers(t, addr, group, []string{"victim", "survivor"}, 2*time.Minute)
	run := producer.RunConfig{
		Sim:   producer.Config{Channels: channels, Seed: 11},
		Count: 20_000, StartTime: eventStart(20_000 * 3 * time.Millisecond), TimeStep: 3 * time.Millisecond,
	}
	base := endOffsets(t, addr, kafka.InputTopics()...)
	produced := produceInBackground(t, "--brokers", addr, "--channels", strings.Join(channels, ","),
		"--count", "20000", "--rate", "2500", "--seed", "11", "--start-time", run.StartTime.Format(time.RFC3339),
		"--time-step", "3ms")
	awaitCommitted(t, addr, group, base, run.Count/10, time.Minute)
	if err := victim.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = victim.Wait()
	checkKilledMidStream(t, addr, group, base, run.Count)
	if out := produced(); strings.Contains(string(out), "level=ERROR") {
		t.Fatalf("producer: %s", out)
	}
	pipelinetest.AwaitFinals(t, addr, pipelinetest.Expected(t, run), 3*time.Minute)
}

// produceInBackground starts telemetra produce with args and returns a function that waits
// for it and returns its output; the test waits for it in any case before it ends, so the
// next test's groups do not read the topics while it writes.
func produceInBackground(t *testing.T, args ...string) func() []byte {
	t.Helper()
	var out []byte
	done := make(chan struct{})
	go func() {
		defer close(done)
		out, _ = exec.Command(binary, append([]string{"produce"}, append(args, "--log-level", "warn")...)...).CombinedOutput()
	}()
	t.Cleanup(func() { <-done })
	return func() []byte { <-done; return out }
}

// awaitMembers waits until group is stable with exactly the members of the given client IDs,
// each assigned some input partitions.
func awaitMembers(t *testing.T, addr, group string, clientIDs []string, timeout time.Duration) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(pipelinetest.Brokers(addr)...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	want := slices.Sorted(slices.Values(clientIDs))
	testkit.WaitFor(t, fmt.Sprintf("group %s to be stable with members %v holding input partitions", group, want), timeout, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		groups, err := adm.DescribeGroups(ctx, group)
		cancel()
		if err != nil {
			return err
		}
		var got []string
		g := groups[group]
		for _, m := range g.Members {
			if a, ok := m.Assigned.AsConsumer(); ok && g.State == "Stable" {
				for _, tp := range a.Topics {
					if slices.Contains(kafka.InputTopics(), tp.Topic) && len(tp.Partitions) > 0 {
						got = append(got, m.ClientID)
						break
					}
				}
			}
		}
		slices.Sort(got)
		if !slices.Equal(got, want) {
			return fmt.Errorf("members holding input partitions: %v", got)
		}
		return nil
	})
}
