package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/telemetra/telemetra/internal/pgtest"
	"github.com/telemetra/telemetra/internal/testkit"
)

// The documents whose command lines TestDocExamples runs, relative to the repository root.
func docFiles(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob("../../docs/*.md")
	if err != nil || len(files) == 0 {
		t.Fatalf("no docs/*.md (%v)", err)
	}
	return append([]string{"../../README.md"}, files...)
}

// docSkips are the command lines TestDocExamples does not run, by prefix, each with the reason.
// A command line that is neither here nor in docRuns nor a variable assignment fails the test:
// nobody adds an untested example silently.
var docSkips = []struct{ prefix, reason string }{
	{"make run", "what this test starts: telemetra dev (on free ports, with 5 s windows)"},
	{"make test", "the suite this test is part of"},
	{"make fuzz", "the schema decoders' fuzzers, 30 s each: a development tool, not an example against an instance"},
	{"make bench", "the benchmark suite: many minutes of CPU on this machine (figures in docs/performance.md)"},
	{"make ", "generation, lint and unit-test targets; make test runs their checks itself (scripts/test.sh: check-generated, lint, go test ./...)"},
	{"go build ", "the test builds the binary itself and puts it in its work directory's bin/"},
	{"go test -run '^$' -bench ", "a benchmark: minutes of CPU on this machine; make bench runs the benchmarks"},
	{"bin/telemetra broker", "a second broker in the background; the instance's embedded broker stands in for it"},
	{"bin/telemetra produce", "runs until Ctrl-C and would add a second simulation to the instance's channels; the instance runs its own producer"},
	{"scripts/kafka-cluster.sh ", "the three-broker cluster: make test starts one and tests it (scripts/kafka_cluster_test.sh with kcat, e2e/TestClusterLosesABrokerAProcessorAndAProjector)"},
	{"bin/telemetra topics create --brokers 127.0.0.1:19392,", "topics on the three-broker cluster: e2e/TestClusterLosesABrokerAProcessorAndAProjector creates them so and checks them"},
	{"bin/telemetra topics describe --brokers 127.0.0.1:19392,", "topics on the three-broker cluster: e2e/TestClusterLosesABrokerAProcessorAndAProjector checks what describe reports"},
	{"scripts/kafka.sh ", "the real Apache Kafka broker: make test starts one and tests it with kcat (scripts/kafka_test.sh) and the e2e suite"},
	{"scripts/", "developer tooling (tools.sh, check-generated.sh) that make test runs itself"},
	{"bin/buf ", "code generation, lint and format of the protos; make test's check-generated step runs them"},
	{"cd web && npm ", "the dashboard's own tests (node, headless Chromium): make test runs them with TELEMETRA_BROWSER_TEST=1"},
	{"bin/telemetra alert", "the alert role runs inside the instance already, and a sample delivery needs a subscription with a receiver: alerts/ and cmd/telemetra/alert_test.go test both against a loopback receiver"},
	{"TELEMETRA_BROWSER_TEST=1 ", "the dashboard's browser tests: make test runs them (scripts/test.sh sets TELEMETRA_BROWSER_TEST=1)"},
}

// docRuns are the prefixes of the command lines run against the instance.
var docRuns = []string{
	"curl ", "grpcurl ", "kcat ",
	"bin/telemetra topics ", "bin/telemetra tail ", "bin/telemetra validate ", "bin/telemetra replay ",
	"printf '%s.%s' ", // docs/alerts.md's signature check with openssl
}

// docStreams mark the command lines that stream until interrupted: they pass when they print a
// line, and are then stopped.
var docStreams = []string{"/v1/events:subscribe", "/v1/events:sse", "/SubscribeChannelEvents", "/v1/rankings:subscribe", "/SubscribeRankings"}

// docMayBeEmpty are the curl and grpcurl lines whose answer may be empty in a short run, with
// the reason; every other answer must hold something (not `{}`, not only empty lists).
var docMayBeEmpty = []struct{ contains, reason string }{
	{"/moments?kinds=", "moments (z-score spikes against a baseline of windows, raids) are rare in a run of seconds"},
	{"TelemetraService/ListMoments", "moments (z-score spikes against a baseline of windows, raids) are rare in a run of seconds"},
	{"/v1/trending?limit=", "trending now sums the final windows the gateway's feed has seen since it started: none in its first seconds"},
}

// A docCommand is one command line of the docs: a command of a fenced sh/bash/shell/console
// block (with its continuation lines), or an inline `curl ...` or `grpcurl ...` span.
type docCommand struct {
	file   string   // as given to extractCommands
	line   int      // where it starts
	text   string   // as bash runs it: prompt removed, continuation lines kept
	setup  []string // earlier variable assignments of the same block that it uses, in order
	expect int      // the HTTP status a `# expect: NNN` comment documents; 0: success (2xx)
}

func (c docCommand) name() string { return filepath.Base(c.file) + ":" + strconv.Itoa(c.line) }

var (
	fenceRE      = regexp.MustCompile("^(\\s*)(```+|~~~+)\\s*([A-Za-z0-9_+-]*)")
	expectRE     = regexp.MustCompile(`#\s*expect:\s*(\d{3})\b`)
	assignRE     = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*=`)
	assignNameRE = regexp.MustCompile(`(?:^|\s)([A-Za-z_][A-Za-z0-9_]*)=`)
	inlineRE     = regexp.MustCompile("`((?:curl|grpcurl) [^`]+)`")
	// a line of a block not tagged as shell that looks like a command: it would go untested
	commandishRE = regexp.MustCompile(`^\s*(\$ |(curl|grpcurl|kcat|make|go|telemetra|psql|docker|bin/\S+|scripts/\S+|\./\S+)(\s|$))`)
	curlRE       = regexp.MustCompile(`(^|[\s|;&(])curl\s`)
	statusRE     = regexp.MustCompile(`(?m)^HTTP/[0-9.]+ (\d{3})`)
	addrRE       = regexp.MustCompile(`\b(127\.0\.0\.1|localhost):(8080|9090|9092)\b`)
)

var shellTags = map[string]bool{"sh": true, "bash": true, "shell": true, "console": true}

// extractCommands returns the command lines of a markdown document, and its problems: a line
// that looks like a command in a block not tagged sh, bash, shell or console (it would go
// untested), an unterminated block, quote or continuation.
func extractCommands(file, src string) (cmds []docCommand, problems []string) {
	lines := strings.Split(src, "\n")
	for i := 0; i < len(lines); i++ {
		m := fenceRE.FindStringSubmatch(lines[i])
		if m == nil {
			for _, span := range inlineRE.FindAllStringSubmatch(lines[i], -1) {
				cmds = append(cmds, docCommand{file: file, line: i + 1, text: span[1]})
			}
			continue
		}
		indent, fence, tag := m[1], m[2], m[3]
		open := i
		var body []string
		closed := false
		for i++; i < len(lines); i++ {
			if t := strings.TrimSpace(lines[i]); len(t) >= len(fence) && strings.Trim(t, fence[:1]) == "" {
				closed = true
				break
			}
			body = append(body, strings.TrimPrefix(lines[i], indent))
		}
		if !closed {
			problems = append(problems, fmt.Sprintf("%s:%d: code block never closed", file, open+1))
			break
		}
		if !shellTags[tag] {
			for k, l := range body {
				if commandishRE.MatchString(l) {
					problems = append(problems, fmt.Sprintf("%s:%d: %q looks like a command in a block tagged %q: tag it sh (or console, with $ prompts) so that TestDocExamples runs or skips it",
						file, open+2+k, l, tag))
				}
			}
			continue
		}
		got, probs := blockCommands(file, open+2, body, tag == "console")
		cmds, problems = append(cmds, got...), append(problems, probs...)
	}
	return cmds, problems
}

// blockCommands splits a shell block into commands. In a console block only lines after a "$ "
// prompt are commands (with their continuation lines), the others are output. A "# expect: NNN"
// comment on a command, or on the comment line before it, documents an HTTP error status.
func blockCommands(file string, first int, body []string, console bool) (cmds []docCommand, problems []string) {
	var setups []docCommand
	var cur *docCommand
	expect := 0
	for k, l := range body {
		if cur != nil {
			cur.text += "\n" + l
		} else {
			t := strings.TrimSpace(l)
			if console {
				if !strings.HasPrefix(t, "$ ") {
					expect = 0
					continue
				}
				t = strings.TrimSpace(strings.TrimPrefix(t, "$ "))
			}
			switch {
			case t == "":
				continue
			case strings.HasPrefix(t, "#"):
				if m := expectRE.FindStringSubmatch(t); m != nil {
					expect, _ = strconv.Atoi(m[1])
				}
				continue
			}
			cur = &docCommand{file: file, line: first + k, text: t, expect: expect}
			expect = 0
		}
		if unfinished(cur.text) {
			continue
		}
		if m := expectRE.FindStringSubmatch(cur.text); m != nil {
			cur.expect, _ = strconv.Atoi(m[1])
		}
		for _, s := range setups {
			if usesAny(cur.text, s.text) {
				for _, dep := range append(slices.Clone(s.setup), s.text) {
					if !slices.Contains(cur.setup, dep) {
						cur.setup = append(cur.setup, dep)
					}
				}
			}
		}
		if assignRE.MatchString(cur.text) {
			setups = append(setups, *cur)
		}
		cmds = append(cmds, *cur)
		cur = nil
	}
	if cur != nil {
		problems = append(problems, fmt.Sprintf("%s:%d: command not finished at the end of its block (open quote or trailing backslash)", file, cur.line))
	}
	return cmds, problems
}

// usesAny reports whether text refers to a variable that the assignments in setup set.
func usesAny(text, setup string) bool {
	for _, m := range assignNameRE.FindAllStringSubmatch(setup, -1) {
		if regexp.MustCompile(`\$\{?` + m[1] + `\b`).MatchString(text) {
			return true
		}
	}
	return false
}

// unfinished reports whether a shell command goes on on the next line: an open single or double
// quote, or a backslash at the end. Comments (# at the start of a word) end at the line's end.
func unfinished(s string) bool {
	var quote byte
	wordStart := true
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch quote {
		case '\'':
			if c == '\'' {
				quote = 0
			}
			continue
		case '"':
			switch c {
			case '\\':
				if i+1 == len(s) {
					return true
				}
				i++
			case '"':
				quote = 0
			}
			continue
		}
		switch {
		case c == '\\':
			if i+1 == len(s) {
				return true
			}
			i++
		case c == '\'' || c == '"':
			quote = c
		case c == '#' && wordStart:
			for i < len(s) && s[i] != '\n' {
				i++
			}
		}
		wordStart = strings.IndexByte(" \t\n;&|()<>", c) >= 0
	}
	return quote != 0
}

// classify says what TestDocExamples does with a command: "run", "stream", "setup" (a variable
// assignment, run before the commands that use it and checked on its own), or "skip" with the
// reason; "" if it is unclassified.
func classify(c docCommand) (kind, reason string) {
	for _, s := range docSkips {
		if strings.HasPrefix(c.text, s.prefix) {
			return "skip", s.reason
		}
	}
	if assignRE.MatchString(c.text) {
		return "setup", ""
	}
	for _, p := range docRuns {
		if strings.HasPrefix(c.text, p) {
			for _, s := range docStreams {
				if strings.Contains(c.text, s) {
					return "stream", ""
				}
			}
			return "run", ""
		}
	}
	return "", ""
}

func TestDocCommandExtraction(t *testing.T) {
	doc := "Text with `curl -s http://127.0.0.1:8080/v1/channels` inline, and `curl` alone.\n" +
		"```sh\n" +
		"make run    # a comment's apostrophe\n" +
		"# kcat's partitioner\n" +
		"p=$(bin/telemetra topics partition demo_stream | cut -f2)\n" +
		"kcat -P -p \"$p\" <<< '{\"a\":\n" +
		"  1}'\n" +
		"grpcurl -d '{\"x\": 1}' \\\n" +
		"  localhost:9090 svc/Method\n" +
		"\n" +
		"# expect: 400\n" +
		"curl -s 'localhost:8080/v1/x'\n" +
		"curl -s localhost:8080/v1/y   # expect: 404\n" +
		"```\n" +
		"```console\n" +
		"$ bin/telemetra replay \\\n" +
		"    --verify\n" +
		"projection: 1 records\n" +
		"```\n" +
		"```\n" +
		"channels/{channel}   Channel\n" +
		"go test ./...\n" +
		"```\n"
	cmds, problems := extractCommands("x.md", doc)
	var got []string
	for _, c := range cmds {
		got = append(got, fmt.Sprintf("%d %q setup=%d expect=%d", c.line, c.text, len(c.setup), c.expect))
	}
	want := []string{
		`1 "curl -s http://127.0.0.1:8080/v1/channels" setup=0 expect=0`,
		`3 "make run    # a comment's apostrophe" setup=0 expect=0`,
		`5 "p=$(bin/telemetra topics partition demo_stream | cut -f2)" setup=0 expect=0`,
		`6 "kcat -P -p \"$p\" <<< '{\"a\":\n  1}'" setup=1 expect=0`,
		`8 "grpcurl -d '{\"x\": 1}' \\\n  localhost:9090 svc/Method" setup=0 expect=0`,
		`12 "curl -s 'localhost:8080/v1/x'" setup=0 expect=400`,
		`13 "curl -s localhost:8080/v1/y   # expect: 404" setup=0 expect=404`,
		`16 "bin/telemetra replay \\\n    --verify" setup=0 expect=0`,
	}
	if !slices.Equal(got, want) {
		t.Errorf("commands:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if len(problems) != 1 || !strings.Contains(problems[0], "x.md:22") {
		t.Errorf("problems %q, want one for the command in the untagged block at x.md:22", problems)
	}
	for answer, empty := range map[string]bool{
		`{}`: true, "{\n  \n}\n{}": true, `{"metrics":[], "nextPageToken":""}`: true,
		`{"name":"channels/demo_stream", "startTime":"2025-10-16T00:00:00Z", "windows":"0", "chat":{"messages":"0", "topEmotes":[]}}`: true,
		`{"name":"channels/demo_stream", "windows":"3"}`: false, `{"status":"SERVING"}`: false,
		"grpc.health.v1.Health\ntelemetra.v1.TelemetraService": false,
	} {
		if got := emptyAnswer([]byte(answer)); got != empty {
			t.Errorf("emptyAnswer(%s) = %v", answer, got)
		}
	}
	if _, probs := extractCommands("y.md", "```sh\ncurl -s 'oops\n```\n"); len(probs) != 1 {
		t.Errorf("an open quote at the end of a block: problems %q", probs)
	}
}

// TestDocExamples runs every command line of README.md and docs/*.md against a `telemetra dev`
// (5 s windows, so the history calls have final windows within seconds), as written but for the
// addresses: 127.0.0.1 or localhost on :8080, :9090 and :9092 become the instance's. curl, grpcurl,
// kcat and the read-only or idempotent telemetra commands run (bin/telemetra is the test's
// build, DATABASE_URL and KAFKA_BOOTSTRAP_SERVERS point at the instance); the others are in
// docSkips with a reason. A command fails on a non-zero exit, an HTTP status other than 2xx
// (or than the one a `# expect: NNN` comment documents), or an empty answer (docMayBeEmpty
// lists the exceptions).
func TestDocExamples(t *testing.T) {
	var cmds []docCommand
	for _, f := range docFiles(t) {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		got, problems := extractCommands(strings.TrimPrefix(f, "../../"), string(src))
		for _, p := range problems {
			t.Error(p)
		}
		cmds = append(cmds, got...)
	}
	var unclassified []string
	for _, c := range cmds {
		if kind, _ := classify(c); kind == "" {
			unclassified = append(unclassified, fmt.Sprintf("%s: %s", c.name(), c.text))
		}
	}
	if len(unclassified) > 0 {
		t.Fatalf("command lines neither run nor skipped (add their prefix to docRuns, or to docSkips with a reason):\n%s", strings.Join(unclassified, "\n"))
	}
	if testing.Short() {
		t.Skip("starts the whole pipeline")
	}
	env := newDocEnv(t)
	for _, c := range cmds {
		t.Run(c.name(), func(t *testing.T) {
			kind, reason := classify(c)
			if kind == "skip" {
				t.Skipf("%s: %s", firstLine(c.text), reason)
			}
			t.Logf("%s", c.text)
			if c.expect != 0 && !curlRE.MatchString(c.text) {
				t.Fatalf("# expect: %d on a command that is not curl", c.expect)
			}
			switch kind {
			case "stream":
				env.stream(t, c)
			default:
				env.run(t, c, kind)
			}
		})
	}
	var ran []string
	for _, c := range cmds {
		if kind, _ := classify(c); kind == "run" || kind == "stream" {
			ran = append(ran, strings.Fields(c.text)[0])
		}
	}
	for _, tool := range []string{"curl", "grpcurl", "kcat", "bin/telemetra"} {
		if !slices.Contains(ran, tool) {
			t.Errorf("no %s line found in the docs: is the extraction broken?", tool)
		}
	}
}

func firstLine(s string) string { return strings.SplitN(s, "\n", 2)[0] }

func shorten(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + fmt.Sprintf("... (%d bytes)", len(s))
}

// docEnv runs doc commands against a dev instance.
type docEnv struct {
	dev *devPipeline
	dir string   // the work directory: bin/telemetra, bin/grpcurl, bin/curl
	env []string // PATH with dir/bin first, DATABASE_URL and KAFKA_BOOTSTRAP_SERVERS of the instance
}

// newDocEnv starts the instance, prepares the work directory and waits for final windows and a
// stream session of demo_stream in the projection.
func newDocEnv(t *testing.T) *docEnv {
	t.Helper()
	for _, tool := range []string{"curl", "kcat", "bash", "date"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is not installed (apt-get install %s)", tool, tool)
		}
	}
	realCurl, _ := exec.LookPath("curl")
	grpcurl, err := exec.LookPath("grpcurl")
	if err != nil {
		if grpcurl, err = filepath.Abs("../../bin/grpcurl"); err == nil {
			_, err = os.Stat(grpcurl)
		}
		if err != nil {
			t.Fatal("grpcurl is not installed: run scripts/tools.sh (into bin/)")
		}
	}
	db := pgtest.Database(t)
	d := startDev(t, "--window", "5s", "--allowed-lateness", "2s", "--database-url", db)

	e := &docEnv{dev: d, dir: t.TempDir()}
	bin := filepath.Join(e.dir, "bin")
	if err := os.Mkdir(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, target := range map[string]string{"telemetra": d.bin, "grpcurl": grpcurl} {
		if err := os.Symlink(target, filepath.Join(bin, name)); err != nil {
			t.Fatal(err)
		}
	}
	// curl as written, with the response headers on stderr, where the test reads the status
	shim := "#!/bin/sh\nexec " + strconv.Quote(realCurl) + " --dump-header /dev/stderr \"$@\"\n"
	if err := os.WriteFile(filepath.Join(bin, "curl"), []byte(shim), 0o755); err != nil {
		t.Fatal(err)
	}
	e.env = append(os.Environ(), "PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"),
		"DATABASE_URL="+db, "KAFKA_BOOTSTRAP_SERVERS="+d.brokerAddr, "LOG_LEVEL=warn")

	d.awaitLiveData(t, 30*time.Second)
	for _, path := range []string{"/v1/channels/demo_stream/metrics", "/v1/channels/demo_stream/sessions"} {
		awaitNonEmpty(t, d.base+path, 2*time.Minute)
	}
	return e
}

// awaitNonEmpty waits until a GET of url answers 200 with something in it.
func awaitNonEmpty(t *testing.T, url string, within time.Duration) {
	t.Helper()
	testkit.WaitFor(t, url+" to answer 200 with something in it", within, func() error {
		resp, err := http.Get(url)
		if err != nil {
			return err
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || emptyAnswer(body) {
			return fmt.Errorf("%s %s", resp.Status, body)
		}
		return nil
	})
}

// script is the command as bash runs it: the instance's addresses, its setup first.
func (e *docEnv) script(c docCommand) string {
	rest := strings.TrimPrefix(e.dev.base, "http://")
	addr := func(s string) string {
		switch s[strings.LastIndexByte(s, ':')+1:] {
		case "8080":
			return rest
		case "9090":
			return e.dev.grpcAddr
		default:
			return e.dev.brokerAddr
		}
	}
	lines := append(slices.Clone(c.setup), c.text)
	return "set -eo pipefail\n" + addrRE.ReplaceAllStringFunc(strings.Join(lines, "\n"), addr)
}

func (e *docEnv) command(ctx context.Context, c docCommand) *exec.Cmd {
	cmd := exec.CommandContext(ctx, "bash", "-c", e.script(c))
	cmd.Dir, cmd.Env = e.dir, e.env
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	return cmd
}

// run runs a command to its end and checks its exit status, the HTTP statuses curl saw, and
// (curl and grpcurl) that the answer holds something.
func (e *docEnv) run(t *testing.T, c docCommand, kind string) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := e.command(ctx, c)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	out := strings.TrimSpace(stdout.String())
	if err != nil {
		t.Fatalf("%v\nstdout:\n%s\nstderr:\n%s", err, out, stderr.String())
	}
	t.Logf("output: %s", shorten(out, 400))
	e.checkStatus(t, c, stderr.String(), out)
	if kind == "setup" || !(strings.HasPrefix(c.text, "curl ") || strings.HasPrefix(c.text, "grpcurl ")) || c.expect != 0 {
		return
	}
	if out == "" || emptyAnswer([]byte(out)) {
		for _, m := range docMayBeEmpty {
			if strings.Contains(c.text, m.contains) {
				t.Logf("empty answer, allowed: %s", m.reason)
				return
			}
		}
		t.Fatalf("empty answer %q (if that is right in a short run, add the line to docMayBeEmpty with the reason)", out)
	}
}

// checkStatus checks the HTTP statuses of the curl calls of a command (their headers are on
// stderr): all 2xx, but for the last one when `# expect: NNN` documents another.
func (e *docEnv) checkStatus(t *testing.T, c docCommand, stderr, stdout string) {
	t.Helper()
	var statuses []int
	for _, m := range statusRE.FindAllStringSubmatch(stderr, -1) {
		s, _ := strconv.Atoi(m[1])
		statuses = append(statuses, s)
	}
	if curlRE.MatchString(c.text) && len(statuses) == 0 {
		t.Fatalf("curl got no HTTP response\nstdout:\n%s\nstderr:\n%s", stdout, stderr)
	}
	for k, s := range statuses {
		want := "2xx"
		ok := s/100 == 2
		if k == len(statuses)-1 && c.expect != 0 {
			want, ok = strconv.Itoa(c.expect), s == c.expect
		}
		if !ok {
			t.Fatalf("HTTP %d, want %s\nstdout:\n%s\nstderr:\n%s", s, want, stdout, stderr)
		}
	}
}

// stream runs a command that streams until interrupted, waits for its first line of output,
// then stops it.
func (e *docEnv) stream(t *testing.T, c docCommand) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cmd := e.command(ctx, c)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	pipe, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	first := make(chan string, 1)
	read := make(chan struct{})
	go func() {
		defer close(read)
		lines := bufio.NewScanner(pipe)
		for lines.Scan() {
			if l := strings.TrimSpace(lines.Text()); l != "" {
				select {
				case first <- l:
				default:
				}
			}
		}
	}()
	var line string
	select {
	case line = <-first:
	case <-read: // it ended without a line
	case <-time.After(30 * time.Second):
	}
	cancel() // kills its process group
	<-read
	err = cmd.Wait()
	if line == "" {
		t.Fatalf("no output within 30s (%v)\nstderr:\n%s", err, stderr.String())
	}
	t.Logf("first line: %s", shorten(line, 400))
	if strings.HasPrefix(line, `{"error"`) || strings.Contains(line, "ERROR") {
		t.Fatalf("the stream began with an error\nstderr:\n%s", stderr.String())
	}
	e.checkStatus(t, c, stderr.String(), line)
}

// emptyAnswer reports whether a JSON answer (one or more values, as grpcurl prints them) holds
// nothing: only empty objects, lists, strings, zeros (int64s are strings: "0"), false or null,
// besides the request's echo (a summary of a range without windows names the channel and range).
func emptyAnswer(out []byte) bool {
	dec := json.NewDecoder(bytes.NewReader(out))
	seen := false
	for {
		var v any
		if err := dec.Decode(&v); errors.Is(err, io.EOF) {
			return seen
		} else if err != nil {
			return false // not JSON: text such as grpcurl's list holds what it shows
		}
		seen = true
		if !emptyValue(v) {
			return false
		}
	}
}

// echoKeys are the fields of an answer that repeat the request.
var echoKeys = map[string]bool{"name": true, "parent": true, "startTime": true, "endTime": true, "resolution": true}

func emptyValue(v any) bool {
	switch v := v.(type) {
	case nil:
		return true
	case bool:
		return !v
	case float64:
		return v == 0
	case string:
		return v == "" || v == "0"
	case []any:
		return len(v) == 0
	case map[string]any:
		for k, x := range v {
			if !echoKeys[k] && !emptyValue(x) {
				return false
			}
		}
		return true
	}
	return false
}
