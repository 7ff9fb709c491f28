package main

import (
	"net"
	"strings"
	"testing"

	"github.com/telemetra/telemetra/internal/kafka"
)

// refusingAddr is an address where connections are refused.
func refusingAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// With the default timeout these would wait a minute for the broker: the flag must reach the
// retry.
func TestStartupTimeoutZeroFailsAtTheFirstRefusedConnection(t *testing.T) {
	addr := refusingAddr(t)
	for _, args := range [][]string{
		{"process", "--brokers", addr, "--startup-timeout", "0", "--metrics-addr", ""},
		{"produce", "--brokers", addr, "--startup-timeout", "0", "--count", "1"},
		{"project", "--brokers", addr, "--startup-timeout", "0", "--metrics-addr", ""},
		{"serve", "--brokers", addr, "--startup-timeout", "0", "--metrics-addr", ""},
	} {
		t.Run(args[0], func(t *testing.T) {
			code, _, errOut := runCLI(t, args...)
			if code == 0 || !strings.Contains(errOut, "connection refused") || strings.Contains(errOut, "retrying") {
				t.Fatalf("exit %d, stderr:\n%s", code, errOut)
			}
		})
	}
}

func TestStartupTimeoutComesFromTheEnvironment(t *testing.T) {
	t.Setenv("TELEMETRA_STARTUP_TIMEOUT", "0")
	code, _, errOut := runCLI(t, "process", "--brokers", refusingAddr(t), "--metrics-addr", "")
	if code == 0 || !strings.Contains(errOut, "topic telemetra.events.chat") || !strings.Contains(errOut, "connection refused") {
		t.Fatalf("exit %d, stderr:\n%s", code, errOut)
	}
}

func TestStartupTimeoutIsDocumentedOnEveryRole(t *testing.T) {
	for _, cmd := range []string{"process", "produce", "project", "serve"} {
		_, out, _ := runCLI(t, append(strings.Fields(cmd), "--help")...)
		if !strings.Contains(out, "--startup-timeout="+kafka.DefaultStartupTimeout.String()) || !strings.Contains(out, "TELEMETRA_STARTUP_TIMEOUT") {
			t.Errorf("%s --help does not document --startup-timeout:\n%s", cmd, out)
		}
	}
}
