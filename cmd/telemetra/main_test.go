package main

import (
	"bytes"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/telemetra/telemetra/internal/pgtest"
	"github.com/telemetra/telemetra/internal/testkit"
	"github.com/telemetra/telemetra/migrations"
)

func TestMain(m *testing.M) { testkit.VerifyNoLeaks(pgtest.M(m)) }

func runCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = run(args, &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestEveryCommandHasHelp(t *testing.T) {
	for _, cmd := range []string{"dev", "broker", "process", "project", "produce", "migrate", "validate", "tail", "topics", "topics create", "topics describe", "alert", "alert run", "alert test", "version"} {
		t.Run(cmd, func(t *testing.T) {
			code, out, errOut := runCLI(t, append(strings.Fields(cmd), "--help")...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			if !strings.Contains(out, "Usage: telemetra "+cmd) {
				t.Fatalf("help does not show usage:\n%s", out)
			}
		})
	}
}

func TestHelpNamesTheSeedsEnvironmentVariables(t *testing.T) {
	_, out, _ := runCLI(t, "produce", "--help")
	for _, env := range []string{"KAFKA_BOOTSTRAP_SERVERS", "CHANNELS", "RATE_PER_SEC", "LOG_LEVEL"} {
		if !strings.Contains(out, env) {
			t.Errorf("produce --help does not mention $%s", env)
		}
	}
}

func TestEnvironmentSetsFlags(t *testing.T) {
	t.Setenv("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:1")
	t.Setenv("CHANNELS", "Not A Channel")
	t.Setenv("RATE_PER_SEC", "5")
	// the bad channel from the environment must reach the producer and be refused by it
	code, _, errOut := runCLI(t, "produce", "--no-create-topics", "--count", "1")
	if code == 0 || !strings.Contains(errOut, "Not A Channel") {
		t.Fatalf("exit %d, stderr:\n%s", code, errOut)
	}
}

func TestUnknownCommandIsAUsageError(t *testing.T) {
	code, _, errOut := runCLI(t, "frobnicate")
	if code == 0 || !strings.Contains(errOut, "frobnicate") {
		t.Fatalf("exit %d, stderr: %s", code, errOut)
	}
}

func TestBadLogLevel(t *testing.T) {
	code, _, errOut := runCLI(t, "--log-level", "loud", "version")
	if code == 0 || !strings.Contains(errOut, "loud") {
		t.Fatalf("exit %d, stderr: %s", code, errOut)
	}
}

const seedChat = `{"message_id":"123e4567-e89b-12d3-a456-426614174000","channel":"demo_stream","username":"gamer123","message":"That was insane! PogChamp","emotes":["PogChamp"],"sentiment_hint":"excited","timestamp":"2025-10-16T10:30:00Z"}`

func TestValidate(t *testing.T) {
	file := t.TempDir() + "/viewer.json"
	if err := os.WriteFile(file, []byte(`{"event_id":"123e4567-e89b-12d3-a456-426614174000","channel":"demo_stream","viewer_count":-5,"chatter_count":123,"timestamp":"2025-10-16T10:30:00Z"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		args     []string
		code     int
		contains string
	}{
		{"seed chat", []string{"validate", "chat_message", seedChat}, 0, "valid chat_message.json"},
		{"short schema name", []string{"validate", "chat", seedChat}, 0, "valid"},
		{"names the failing field", []string{"validate", "chat_message", strings.Replace(seedChat, `"2025-10-16T10:30:00Z"`, `"yesterday"`, 1)}, 1, "/timestamp"},
		{"missing field", []string{"validate", "chat_message", strings.Replace(seedChat, `"channel":"demo_stream",`, "", 1)}, 1, "channel"},
		{"from a file", []string{"validate", "viewer_count", "@" + file}, 1, "/viewer_count"},
		{"broken JSON", []string{"validate", "transaction", `{"transaction_id":`}, 1, "invalid transaction.json"},
		{"unknown schema", []string{"validate", "emoji", seedChat}, 2, "emoji"},
		{"missing file", []string{"validate", "chat", "@/nonexistent.json"}, 2, "nonexistent"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := runCLI(t, tc.args...)
			if code != tc.code || !strings.Contains(out+errOut, tc.contains) {
				t.Fatalf("exit %d (want %d), stdout %q, stderr %q; want it to mention %q", code, tc.code, out, errOut, tc.contains)
			}
		})
	}
}

func TestMigrate(t *testing.T) {
	db := pgtest.Database(t)
	all, err := migrations.All()
	if err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runCLI(t, "migrate", "--database-url", db)
	alerts, err := migrations.Alerts()
	if err != nil {
		t.Fatal(err)
	}
	if code != 0 || !strings.Contains(out, fmt.Sprintf("applied %d migration(s) to schema public", len(all))) ||
		!strings.Contains(out, fmt.Sprintf("applied %d migration(s) to schema %s", len(alerts), migrations.DefaultAlertsSchema)) {
		t.Fatalf("first run: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	code, out, errOut = runCLI(t, "migrate", "--database-url", db)
	if code != 0 || strings.Count(out, "up to date") != 2 {
		t.Fatalf("second run: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	code, _, errOut = runCLI(t, "migrate", "--database-url", "postgres://nobody@127.0.0.1:1/none?connect_timeout=2")
	if code == 0 || !strings.Contains(errOut, "connect to PostgreSQL") {
		t.Fatalf("unreachable database: exit %d, stderr %q", code, errOut)
	}
}

func TestPostgresFlagsBuildTheURL(t *testing.T) {
	p := postgresFlags{PGHost: "db", PGPort: 5433, PGDatabase: "tm", PGUser: "app", PGPassword: "s3cr:t"}
	if got := p.url(); got != "postgres://app:s3cr%3At@db:5433/tm" {
		t.Fatalf("url = %s", got)
	}
	p.DatabaseURL = "postgres://x@y/z"
	if p.url() != "postgres://x@y/z" {
		t.Fatal("DATABASE_URL must win")
	}
}
