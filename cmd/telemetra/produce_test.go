package main

import (
	"strings"
	"testing"

	"github.com/telemetra/telemetra/schemas"
)

// A channel the event schemas reject must stop produce and dev before they start anything:
// otherwise they run cleanly and every event they write is dead-lettered.
func TestChannelsOutsideTheSchemaFailAtStart(t *testing.T) {
	want := `channel "_abc": must match ` + schemas.ChannelPattern
	// --startup-timeout 0 and --rate 0 make a missed check fail fast, with another message
	for name, args := range map[string][]string{
		"produce":         {"produce", "--channels", "_abc", "--brokers", refusingAddr(t), "--startup-timeout", "0", "--count", "1"},
		"produce, second": {"produce", "--channels", "demo_stream,_abc", "--brokers", refusingAddr(t), "--startup-timeout", "0", "--count", "1"},
		"dev":             {"dev", "--channels", "_abc", "--rate", "0"},
	} {
		t.Run(name, func(t *testing.T) {
			code, out, errOut := runCLI(t, args...)
			if code != 2 || !strings.Contains(errOut, want) || out != "" {
				t.Fatalf("exit %d, stdout %q, stderr:\n%s\nwant exit 2 and a message containing %q", code, out, errOut, want)
			}
		})
	}
}

func TestChannelsFromTheEnvironmentAreCheckedToo(t *testing.T) {
	t.Setenv("CHANNELS", "demo_stream,_abc")
	code, _, errOut := runCLI(t, "dev", "--rate", "0")
	if code != 2 || !strings.Contains(errOut, `channel "_abc": must match `+schemas.ChannelPattern) {
		t.Fatalf("exit %d, stderr:\n%s", code, errOut)
	}
}

// --channel-count replaces --channels, so a bad --channels beside it is not an error.
func TestGeneratedChannelsReplaceTheChannelList(t *testing.T) {
	code, _, errOut := runCLI(t, "produce", "--channels", "_abc", "--channel-count", "2",
		"--brokers", refusingAddr(t), "--startup-timeout", "0", "--count", "1")
	if code == 0 || strings.Contains(errOut, "_abc") || !strings.Contains(errOut, "connection refused") {
		t.Fatalf("exit %d, stderr:\n%s", code, errOut)
	}
}
