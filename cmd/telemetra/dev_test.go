package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/telemetra/telemetra/internal/testkit"
)

// devPipeline is `telemetra dev` running as its own process on free ports.
type devPipeline struct {
	cmd         *exec.Cmd
	bin         string        // the binary it runs
	base        string        // the printed REST base URL
	grpcAddr    string        // the printed gRPC address
	brokerAddr  string        // the printed Kafka bootstrap address
	databaseURL string        // the printed PostgreSQL URL ("" without the projection)
	exited      chan struct{} // closed when the process has exited; err is then set
	err         error
	authToken   string // the gateway's --auth-token, if any
}

// stop sends Ctrl-C (so dev stops its private PostgreSQL cluster too) and waits up to timeout,
// then kills it. It reports whether the process stopped by itself, and its exit error.
func (d *devPipeline) stop(timeout time.Duration) (stopped bool, err error) {
	_ = d.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-d.exited:
		return true, d.err
	case <-time.After(timeout):
		_ = d.cmd.Process.Kill()
		<-d.exited
		return false, d.err
	}
}

// startDev builds the binary and starts `telemetra dev` with extra flags after its own, returning
// once it printed its URLs.
func startDev(t *testing.T, extra ...string) *devPipeline {
	t.Helper()
	if _, err := exec.LookPath("curl"); err != nil {
		t.Fatal("curl is not installed (apt-get install curl)")
	}
	bin := filepath.Join(t.TempDir(), "telemetra")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	free := func() string {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		return l.Addr().String()
	}
	// in memory and without history unless a test asks (later flags win)
	args := []string{"dev", "--broker-addr", free(), "--grpc-addr", free(), "--http-addr", free(),
		"--metrics-addr", free(), "--rate", "100", "--log-level", "warn", "--data-dir=", "--history=0"}
	cmd := exec.Command(bin, append(args, extra...)...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	d := &devPipeline{cmd: cmd, bin: bin, exited: make(chan struct{})}
	for k, arg := range extra {
		if arg == "--auth-token" && k+1 < len(extra) {
			d.authToken = extra[k+1]
		}
	}
	go func() { d.err = cmd.Wait(); close(d.exited) }()
	t.Cleanup(func() { _, _ = d.stop(30 * time.Second) }) // the tests of how it stops call stop themselves
	printed := []struct {
		re   *regexp.Regexp
		into *string
	}{
		{regexp.MustCompile(`PostgreSQL:\s+psql '([^']+)'`), &d.databaseURL},
		{regexp.MustCompile(`REST:\s+(http://\S+)/v1/channels`), &d.base},
		{regexp.MustCompile(`gRPC:\s+(\S+)`), &d.grpcAddr},
		{regexp.MustCompile(`Kafka bootstrap:\s+(\S+)`), &d.brokerAddr},
	}
	lines := bufio.NewScanner(stdout)
	for lines.Scan() && strings.TrimSpace(lines.Text()) != "Try:" { // the addresses come before it
		for _, p := range printed {
			if m := p.re.FindStringSubmatch(lines.Text()); m != nil {
				*p.into = m[1]
			}
		}
	}
	if d.base == "" || d.grpcAddr == "" || d.brokerAddr == "" {
		t.Fatalf("dev printed no REST URL, gRPC or Kafka address (REST %q, gRPC %q, Kafka %q)", d.base, d.grpcAddr, d.brokerAddr)
	}
	go func() { // keep draining stdout
		for lines.Scan() {
		}
	}()
	return d
}

// get answers a GET of path (from /v1) on the REST gateway, with the pipeline's token if it has
// one.
func (d *devPipeline) get(path string) ([]byte, error) {
	args := []string{"-sS", "--fail-with-body", d.base + path}
	if d.authToken != "" {
		args = append(args, "-H", "Authorization: Bearer "+d.authToken)
	}
	out, err := exec.Command("curl", args...).Output()
	if err != nil {
		return out, fmt.Errorf("GET %s: %w: %s", path, err, out)
	}
	return out, nil
}

// awaitLiveData waits until some channel has a window in progress.
func (d *devPipeline) awaitLiveData(t *testing.T, within time.Duration) {
	t.Helper()
	testkit.WaitFor(t, "live data from "+d.base+"/v1/channels", within, func() error {
		if out, _ := d.get("/v1/channels"); !strings.Contains(string(out), `"currentWindow"`) {
			return fmt.Errorf("no current window in %s", out)
		}
		return nil
	})
}

// awaitOfflineChannel waits until some channel is offline with a finished stream session, and
// the history's final windows of the last 10 minutes are in PostgreSQL (the projection caught up
// with the backfill). It returns that channel.
func (d *devPipeline) awaitOfflineChannel(t *testing.T, within time.Duration) string {
	t.Helper()
	var offline string
	testkit.WaitFor(t, "an offline channel with a finished session", within, func() error {
		out, err := d.get("/v1/channels?page_size=1000")
		if err != nil {
			return err
		}
		var list struct {
			Channels []struct {
				ChannelID string `json:"channelId"`
				Status    struct {
					Live bool `json:"live"`
				} `json:"status"`
			} `json:"channels"`
		}
		if err := json.Unmarshal(out, &list); err != nil {
			return fmt.Errorf("channels: %w", err)
		}
		now := time.Now().UTC()
		recent := false
		offline = ""
		for _, c := range list.Channels {
			q := fmt.Sprintf("?start_time=%s&end_time=%s", now.Add(-10*time.Minute).Format(time.RFC3339), now.Format(time.RFC3339))
			if w, _ := d.get("/v1/channels/" + c.ChannelID + "/metrics" + q); strings.Contains(string(w), `"windowStart"`) {
				recent = true
			}
			if s, _ := d.get("/v1/channels/" + c.ChannelID + "/sessions?page_size=1&start_time=1970-01-01T00:00:00Z"); !c.Status.Live && offline == "" && strings.Contains(string(s), `"startedAt"`) {
				offline = c.ChannelID
			}
		}
		if !recent || offline == "" {
			return fmt.Errorf("final windows of the last 10 minutes: %v; offline channel with a session: %q", recent, offline)
		}
		return nil
	})
	return offline
}

// TestDevRunsWithMetricsOff: an empty --metrics-addr turns metrics off; the pipeline still runs.
func TestDevRunsWithMetricsOff(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the whole pipeline")
	}
	d := startDev(t, "--metrics-addr", "")
	d.awaitLiveData(t, 60*time.Second)
	if stopped, err := d.stop(30 * time.Second); !stopped || err != nil {
		t.Fatalf("dev with metrics off: stopped %v, %v; want a clean exit", stopped, err)
	}
}

// TestDevServesLiveDataAndStopsCleanly is `make run` from a user's point of view: the dev
// pipeline prints its REST URL, curl on it returns a live channel within seconds, and SIGINT
// (Ctrl-C) stops everything with exit status 0.
func TestDevServesLiveDataAndStopsCleanly(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the whole pipeline")
	}
	d := startDev(t)
	d.awaitLiveData(t, 30*time.Second)
	stopped, err := d.stop(30 * time.Second)
	if !stopped {
		t.Fatal("dev did not stop within 30s of Ctrl-C")
	}
	if err != nil {
		t.Fatalf("dev after Ctrl-C: %v", err)
	}
}

// TestDashboardInChromium opens the dashboard of a running dev pipeline in Debian's headless
// Chromium (web/test/dashboard.test.mjs, playwright-core): charts render with data, a live
// update arrives, the channel list works from the keyboard. Twice: against a gateway without a
// token (no form may show; screenshot artifacts/dashboard.png), and against one started with
// --auth-token, where the page first says "token required", then "token rejected" for a wrong
// token (artifacts/dashboard-token-rejected.png), then signs in with the right one and shows
// live data (artifacts/dashboard-logged-in.png). scripts/test.sh installs the npm packages and
// sets TELEMETRA_BROWSER_TEST=1; without it the test is skipped.
func TestDashboardInChromium(t *testing.T) {
	if os.Getenv("TELEMETRA_BROWSER_TEST") == "" {
		t.Skip("TELEMETRA_BROWSER_TEST not set (make test sets it after installing web/'s npm packages)")
	}
	artifacts := artifactsDir(t)
	t.Run("without a token", func(t *testing.T) {
		runDashboardTest(t, startDev(t), "SCREENSHOT="+filepath.Join(artifacts, "dashboard.png"))
	})
	t.Run("with --auth-token", func(t *testing.T) {
		const token = "dashboard-test-token"
		runDashboardTest(t, startDev(t, "--auth-token", token), "AUTH_TOKEN="+token,
			"SCREENSHOT="+filepath.Join(artifacts, "dashboard-logged-in.png"),
			"REJECTED_SCREENSHOT="+filepath.Join(artifacts, "dashboard-token-rejected.png"))
	})
}

// TestDashboardShowsADayOfHistory: a fresh `telemetra dev --history 24h` fills the dashboard's
// 24-hour view (web/test/history.test.mjs, screenshot artifacts/dashboard-24h.png). At 20
// events/s the day is 1.7M events, written and processed in a minute or two.
func TestDashboardShowsADayOfHistory(t *testing.T) {
	if os.Getenv("TELEMETRA_BROWSER_TEST") == "" {
		t.Skip("TELEMETRA_BROWSER_TEST not set (make test sets it after installing web/'s npm packages)")
	}
	artifacts := artifactsDir(t)
	d := startDev(t, "--history", "24h", "--rate", "20")
	// the day is in once some channel has final windows from 22–24 hours ago and some has one
	// from the last 10 minutes: each was live for part of the day only, and the processor
	// reads the history's partitions at their own paces
	windowsBetween := func(from, to time.Time) bool {
		for _, ch := range []string{"demo_stream", "gaming", "speedrun_hub", "cozy_cafe", "esports_arena"} {
			out, _ := d.get(fmt.Sprintf("/v1/channels/%s/metrics?start_time=%s&end_time=%s",
				ch, from.UTC().Format(time.RFC3339), to.UTC().Format(time.RFC3339)))
			if strings.Contains(string(out), `"windowStart"`) {
				return true
			}
		}
		return false
	}
	testkit.WaitFor(t, "the day's final windows in PostgreSQL", 5*time.Minute, func() error {
		now := time.Now()
		if !windowsBetween(now.Add(-24*time.Hour), now.Add(-22*time.Hour)) || !windowsBetween(now.Add(-10*time.Minute), now) {
			return errors.New("no final windows from 22–24 hours ago and from the last 10 minutes yet")
		}
		return nil
	})
	test := exec.Command("node", "test/history.test.mjs")
	test.Dir = "../../web"
	test.Env = append(os.Environ(), "DASHBOARD_URL="+d.base+"/dashboard/", "SCREENSHOT="+filepath.Join(artifacts, "dashboard-24h.png"))
	out, err := test.CombinedOutput()
	t.Logf("%s", out)
	if err != nil {
		t.Fatalf("history browser test against %s/dashboard/: %v", d.base, err)
	}
}

// TestDashboardPages opens every page of the dashboard in Debian's headless Chromium
// (web/test/pages.test.mjs): the overview's rankings, sparklines and trending lists, a live
// channel's legends, labels, currency and brush zoom, an offline channel's last stream, a
// stream report with its CSV download, the compare view and the pipeline-health strip. The
// pipeline is started with --auth-token, so every page first asks for the token and works after
// Sign in, and with four hours of history on a fixed seed over ten channels, so that some are
// offline with finished streams. Screenshots: artifacts/overview.png, channel.png,
// offline-channel.png, report.png, compare.png.
func TestDashboardPages(t *testing.T) {
	if os.Getenv("TELEMETRA_BROWSER_TEST") == "" {
		t.Skip("TELEMETRA_BROWSER_TEST not set (make test sets it after installing web/'s npm packages)")
	}
	artifacts := artifactsDir(t)
	const token = "pages-test-token"
	// seed 1 has two of these ten channels offline at the end of the history, for over an hour
	channels := "demo_stream,gaming,speedrun_hub,cozy_cafe,esports_arena,retro_corner,art_lounge,music_live,chess_club,cooking_show"
	d := startDev(t, "--history", "4h", "--rate", "20", "--seed", "1", "--channels", channels, "--auth-token", token)
	offline := d.awaitOfflineChannel(t, 5*time.Minute)
	t.Logf("offline channel: %s", offline)
	test := exec.Command("node", "test/pages.test.mjs")
	test.Dir = "../../web"
	test.Env = append(os.Environ(), "DASHBOARD_URL="+d.base+"/dashboard/", "AUTH_TOKEN="+token, "SCREENSHOTS="+artifacts)
	out, err := test.CombinedOutput()
	t.Logf("%s", out)
	if err != nil {
		t.Fatalf("pages browser test against %s/dashboard/: %v", d.base, err)
	}
}

// artifactsDir is the repository's artifacts/, where the browser tests leave their screenshots.
func artifactsDir(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs("../../artifacts")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// runDashboardTest waits for live data in d, then runs web/test/dashboard.test.mjs against its
// dashboard with env added.
func runDashboardTest(t *testing.T, d *devPipeline, env ...string) {
	t.Helper()
	d.awaitLiveData(t, 30*time.Second)
	test := exec.Command("node", "test/dashboard.test.mjs")
	test.Dir = "../../web"
	test.Env = append(append(os.Environ(), "DASHBOARD_URL="+d.base+"/dashboard/"), env...)
	out, err := test.CombinedOutput()
	t.Logf("%s", out)
	if err != nil {
		t.Fatalf("browser test against %s/dashboard/: %v", d.base, err)
	}
}

// TestDashboardEventStream runs web/test/sse.test.mjs: the dashboard's fetch-based reader of
// /v1/events:sse (web/src/sse.js) parses the SSE framing however the bytes are split, reconnects
// with backoff, stops on 401 and aborts on close; and web/test/route.test.mjs, the pure helpers
// (hash routes and ranges, localised figures, the NDJSON framing). It needs node, as the browser
// test does, and runs when that one does.
func TestDashboardEventStream(t *testing.T) {
	if os.Getenv("TELEMETRA_BROWSER_TEST") == "" {
		t.Skip("TELEMETRA_BROWSER_TEST not set (make test sets it after installing web/'s npm packages)")
	}
	test := exec.Command("node", "--test", "test/sse.test.mjs", "test/route.test.mjs")
	test.Dir = "../../web"
	test.Env = append(os.Environ(), "LANG=en_US.UTF-8") // route.test.mjs checks en-US figures
	out, err := test.CombinedOutput()
	if err != nil {
		t.Fatalf("node --test test/sse.test.mjs test/route.test.mjs: %v\n%s", err, out)
	}
}
