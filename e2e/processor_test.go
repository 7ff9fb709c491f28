package e2e

import (
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/telemetra/telemetra/internal/pipelinetest"
	"github.com/telemetra/telemetra/producer"
)

// TestProcessorOnRealKafkaAddsUp runs the telemetra binary's producer and processor against
// the real broker: the final windows hold every chat message, viewer sample and transaction
// of the seeded run exactly once, also across a SIGKILL of the processor mid-stream.
func TestProcessorOnRealKafkaAddsUp(t *testing.T) {
	addr := realKafka(t)
	suffix := strconv.FormatInt(time.Now().UnixNano()%1_000_000, 10)
	channels := []string{"proc_a_" + suffix, "proc_b_" + suffix, "proc_c_" + suffix}
	run := producer.RunConfig{
		Sim:   producer.Config{Channels: channels, Seed: 7},
		Count: 20_000, StartTime: eventStart(20_000 * 30 * time.Millisecond), TimeStep: 30 * time.Millisecond,
	}
	group := "e2e-windows-" + suffix
	start := func() *exec.Cmd {
		cmd := exec.Command(binary, "process", "--brokers", addr, "--group", group, "--idle-timeout", "3s",
			"--metrics-addr", "", "--log-level", "warn")
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd
	}
	first := start()
	produced := make(chan []byte, 1)
	go func() {
		out, _ := exec.Command(binary, "produce", "--brokers", addr, "--channels", strings.Join(channels, ","),
			"--count", "20000", "--rate", "2500", "--seed", "7", "--start-time", run.StartTime.Format(time.RFC3339),
			"--time-step", "30ms", "--log-level", "warn").CombinedOutput()
		produced <- out
	}()
	time.Sleep(4 * time.Second)
	if err := first.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = first.Wait()
	second := start()
	t.Cleanup(func() { _ = second.Process.Signal(syscall.SIGTERM); _ = second.Wait() })
	if out := <-produced; strings.Contains(string(out), "level=ERROR") {
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
	run := producer.RunConfig{
		Sim:   producer.Config{Channels: channels, Seed: 11},
		Count: 20_000, StartTime: eventStart(20_000 * 30 * time.Millisecond), TimeStep: 30 * time.Millisecond,
	}
	group := "e2e-rebalance-" + suffix
	metricsAddr := freeAddr(t) // the survivor's, read when the test fails
	start := func(id, metrics string) *exec.Cmd {
		cmd := exec.Command(binary, "process", "--brokers", addr, "--group", group, "--idle-timeout", "3s",
			"--client-id", id, "--metrics-addr", metrics, "--log-level", "warn")
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd
	}
	victim, survivor := start("victim", ""), start("survivor", metricsAddr)
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
	produced := make(chan []byte, 1)
	go func() {
		out, _ := exec.Command(binary, "produce", "--brokers", addr, "--channels", strings.Join(channels, ","),
			"--count", "20000", "--rate", "2500", "--seed", "11", "--start-time", run.StartTime.Format(time.RFC3339),
			"--time-step", "30ms", "--log-level", "warn").CombinedOutput()
		produced <- out
	}()
	time.Sleep(5 * time.Second) // both have joined and are processing
	if err := victim.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = victim.Wait()
	if out := <-produced; strings.Contains(string(out), "level=ERROR") {
		t.Fatalf("producer: %s", out)
	}
	pipelinetest.AwaitFinals(t, addr, pipelinetest.Expected(t, run), 3*time.Minute)
}
