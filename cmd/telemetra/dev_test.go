package main

import (
	"bufio"
	"net"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestDevServesLiveDataAndStopsCleanly is `make run` from a user's point of view: the dev
// pipeline prints its REST URL, curl on it returns a live channel within seconds, and SIGINT
// (Ctrl-C) stops everything with exit status 0.
func TestDevServesLiveDataAndStopsCleanly(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the whole pipeline")
	}
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
	cmd := exec.Command(bin, "dev", "--broker-addr", free(), "--grpc-addr", free(), "--http-addr", free(),
		"--metrics-addr", free(), "--rate", "100", "--log-level", "warn")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill() }()

	restURL := regexp.MustCompile(`REST:\s+(http://\S+)/v1/channels`)
	var base string
	lines := bufio.NewScanner(stdout)
	for base == "" && lines.Scan() {
		if m := restURL.FindStringSubmatch(lines.Text()); m != nil {
			base = m[1]
		}
	}
	if base == "" {
		t.Fatal("dev printed no REST URL")
	}
	go func() { // keep draining stdout
		for lines.Scan() {
		}
	}()
	deadline := time.Now().Add(30 * time.Second)
	for {
		out, _ := exec.Command("curl", "-sS", base+"/v1/channels").Output()
		if strings.Contains(string(out), `"currentWindow"`) {
			break // some channel has a window in progress: live data
		}
		if time.Now().After(deadline) {
			t.Fatalf("no live data from %s/v1/channels within 30s: %s", base, out)
		}
		time.Sleep(250 * time.Millisecond)
	}
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("dev after Ctrl-C: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("dev did not stop within 30s of Ctrl-C")
	}
}
