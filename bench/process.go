package bench

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// clockTicks is USER_HZ, the unit of utime and stime in /proc/<pid>/stat (100 on Linux).
const clockTicks = 100

// Usage is what a role cost during a phase.
type Usage struct {
	CPU     time.Duration // user + system
	PeakRSS int64         // bytes; the process's high-water mark since the phase began
}

// role is one Telemetra process (or the baseline consumer) started by the bench.
type role struct {
	name     string
	cmd      *exec.Cmd
	done     chan struct{}
	waitErr  error
	cpuMark  time.Duration // CPU at the start of the current phase
	stopFunc func()        // for a resource that is not a process (the PostgreSQL cluster)
}

// startRole runs the telemetra binary with args; its log goes to logDir/name.log.
func startRole(binary, name, logDir string, args ...string) (*role, error) {
	logFile, err := os.Create(filepath.Join(logDir, name+".log"))
	if err != nil {
		return nil, fmt.Errorf("log of %s: %w", name, err)
	}
	cmd := exec.Command(binary, args...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		_ = logFile.Close() // nothing was written to it; the start error is the one to report
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	r := &role{name: name, cmd: cmd, done: make(chan struct{})}
	go func() {
		r.waitErr = cmd.Wait()
		_ = logFile.Close() // the child wrote through its own descriptor: ours has nothing buffered
		close(r.done)
	}()
	return r, nil
}

// exited reports whether the process ended.
func (r *role) exited() bool {
	select {
	case <-r.done:
		return true
	default:
		return false
	}
}

// beginPhase marks the start of a measured phase: CPU is counted from here and the peak
// resident set is reset to the current one (Linux: clear_refs 5).
func (r *role) beginPhase() {
	if r.cmd == nil || r.exited() {
		return
	}
	r.cpuMark, _ = procCPU(r.cmd.Process.Pid)
	_ = os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", r.cmd.Process.Pid), []byte("5"), 0)
}

// usage is the role's cost since beginPhase, read from /proc while it runs, or from its
// rusage once it exited.
func (r *role) usage() Usage {
	if r.cmd == nil {
		return Usage{}
	}
	if r.exited() {
		ru, ok := r.cmd.ProcessState.SysUsage().(*syscall.Rusage)
		if !ok {
			return Usage{}
		}
		cpu := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
		return Usage{CPU: cpu - r.cpuMark, PeakRSS: ru.Maxrss * 1024}
	}
	cpu, _ := procCPU(r.cmd.Process.Pid)
	return Usage{CPU: cpu - r.cpuMark, PeakRSS: procPeakRSS(r.cmd.Process.Pid)}
}

// rss is the role's resident set now (0 once it exited).
func (r *role) rss() int64 {
	if r.cmd == nil || r.exited() {
		return 0
	}
	return procRSS(r.cmd.Process.Pid)
}

// stop ends the process (SIGTERM, SIGKILL after a grace period) and waits for it.
func (r *role) stop(grace time.Duration) error {
	if r.stopFunc != nil {
		r.stopFunc()
		r.stopFunc = nil
		return nil
	}
	if r.exited() {
		return nil
	}
	_ = r.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-r.done:
	case <-time.After(grace):
		_ = r.cmd.Process.Kill()
		<-r.done
		return fmt.Errorf("%s did not stop within %s", r.name, grace)
	}
	return nil
}

// wait waits for the process to exit by itself.
func (r *role) wait(ctx context.Context) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-r.done:
		var exit *exec.ExitError
		if errors.As(r.waitErr, &exit) {
			return fmt.Errorf("%s exited with %d (see its log)", r.name, exit.ExitCode())
		}
		return r.waitErr
	}
}

// procCPU is the CPU time a process used. /proc/<pid>/stat counts in clock ticks (10 ms), so a
// role that worked a few milliseconds in a short phase reads 0 there; the per-thread
// schedstat counts in nanoseconds, and the larger of the two wins (stat also holds threads
// that have exited).
func procCPU(pid int) (time.Duration, error) {
	ticks, err := procStatCPU(pid)
	if err != nil {
		return 0, err
	}
	return max(ticks, procSchedCPU(pid)), nil
}

// procSchedCPU sums the run time of a process's live threads (/proc/<pid>/task/*/schedstat),
// 0 where the kernel has no schedstat.
func procSchedCPU(pid int) time.Duration {
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/schedstat", pid))
	var total time.Duration
	for _, path := range tasks {
		raw, err := os.ReadFile(path)
		if err != nil {
			continue
		}
		if f := strings.Fields(string(raw)); len(f) > 0 {
			ns, _ := strconv.ParseInt(f[0], 10, 64)
			total += time.Duration(ns)
		}
	}
	return total
}

func procStatCPU(pid int) (time.Duration, error) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// the command name may hold spaces; the fields after it are fixed
	fields := strings.Fields(string(raw[strings.LastIndexByte(string(raw), ')')+1:]))
	if len(fields) < 13 {
		return 0, fmt.Errorf("short /proc/%d/stat", pid)
	}
	utime, _ := strconv.ParseInt(fields[11], 10, 64)
	stime, _ := strconv.ParseInt(fields[12], 10, 64)
	return time.Duration(utime+stime) * time.Second / clockTicks, nil
}

// procPeakRSS is VmHWM, the resident set's high-water mark, in bytes.
func procPeakRSS(pid int) int64 { return procStatusBytes(pid, "VmHWM:") }

// procRSS is VmRSS, the resident set now, in bytes.
func procRSS(pid int) int64 { return procStatusBytes(pid, "VmRSS:") }

// procStatusBytes is a kB field of /proc/<pid>/status, in bytes (0 if unreadable).
func procStatusBytes(pid int, field string) int64 {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if rest, ok := strings.CutPrefix(line, field); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb * 1024
		}
	}
	return 0
}

// freeAddr returns a free 127.0.0.1 port address.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}
