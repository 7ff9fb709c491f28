// Package pgcluster starts a private, throwaway PostgreSQL cluster from the system's binaries:
// what tests and `make run` use when DATABASE_URL is not set.
package pgcluster

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Cluster is a running private cluster. Stop stops it, and removes a throwaway one with its data.
type Cluster struct {
	dir        string
	binDir     string
	port       int
	runAs      string // OS user the server runs as ("" = the current one)
	persistent bool   // Open's: kept on disk, and durable
}

// ErrNoBinaries means no PostgreSQL server binaries were found on this machine.
var ErrNoBinaries = errors.New("no PostgreSQL server binaries (initdb, pg_ctl) found: install PostgreSQL (Debian: apt-get install postgresql) or set DATABASE_URL")

// Start creates and starts a throwaway cluster with a database named database, owned by user
// telemetra with trust authentication, listening on 127.0.0.1 on a free port. Durability is
// off (fsync): the cluster is for tests, and Stop deletes it.
func Start(ctx context.Context, database string) (*Cluster, error) {
	dir, err := os.MkdirTemp("", "telemetra-pg-")
	if err != nil {
		return nil, fmt.Errorf("create cluster dir: %w", err)
	}
	c, err := start(ctx, dir, database, false)
	if err != nil {
		_ = os.RemoveAll(dir)
	}
	return c, err
}

// Open starts the cluster kept in dir, creating it (and its database) on first use, like Start
// but durable: its data survives Stop and a crash, for `telemetra dev`'s history. It listens on
// a free port each time.
func Open(ctx context.Context, dir, database string) (*Cluster, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(abs, 0o755); err != nil { // its parents must let user postgres in (below)
		return nil, fmt.Errorf("create cluster dir: %w", err)
	}
	return start(ctx, abs, database, true)
}

func start(ctx context.Context, dir, database string, persistent bool) (*Cluster, error) {
	binDir, err := findBinaries()
	if err != nil {
		return nil, err
	}
	c := &Cluster{dir: dir, binDir: binDir, persistent: persistent}
	// PostgreSQL refuses to run as root; run it as the postgres system user then.
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			return nil, fmt.Errorf("running as root and there is no postgres user to run the server as: %w", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			return nil, fmt.Errorf("hand the cluster dir to postgres: %w", err)
		}
		c.runAs = "postgres"
	}
	_, statErr := os.Stat(filepath.Join(c.dataDir(), "PG_VERSION"))
	created := errors.Is(statErr, os.ErrNotExist)
	if created {
		if out, err := c.run(ctx, "initdb", "-D", c.dataDir(), "-U", "telemetra", "--auth=trust", "-E", "UTF8",
			"--locale=C", "--no-sync"); err != nil {
			if c.runAs != "" {
				// the usual cause for a kept cluster: a parent directory postgres cannot enter
				return nil, fmt.Errorf("initdb in %s as user postgres (every parent directory must let it in): %w\n%s", dir, err, out)
			}
			return nil, fmt.Errorf("initdb: %w\n%s", err, out)
		}
	}
	if c.port, err = freePort(); err != nil {
		return nil, err
	}
	durability := "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
	if persistent {
		// kept data must survive a crash; losing the last commits of one is fine in development
		durability = "-c synchronous_commit=off"
	}
	opts := fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 %s -c max_connections=200", c.port, dir, durability)
	if out, err := c.run(ctx, "pg_ctl", "-D", c.dataDir(), "-o", opts, "-l", filepath.Join(dir, "server.log"), "-w", "-t", "60", "start"); err != nil {
		log, _ := os.ReadFile(filepath.Join(dir, "server.log"))
		return nil, fmt.Errorf("pg_ctl start: %w\n%s\n%s", err, out, log)
	}
	if created && database != "" && database != "postgres" {
		if out, err := c.run(ctx, "createdb", "-h", "127.0.0.1", "-p", strconv.Itoa(c.port), "-U", "telemetra", database); err != nil {
			c.Stop()
			return nil, fmt.Errorf("createdb %s: %w\n%s", database, err, out)
		}
	}
	return c, nil
}

// URL is the connection string of a database in the cluster.
func (c *Cluster) URL(database string) string {
	return fmt.Sprintf("postgres://telemetra@127.0.0.1:%d/%s?sslmode=disable", c.port, database)
}

// Restart stops the server and starts it again on the same port and data (fault tests).
func (c *Cluster) Restart(ctx context.Context) error {
	if out, err := c.run(ctx, "pg_ctl", "-D", c.dataDir(), "-m", "fast", "-w", "restart"); err != nil {
		return fmt.Errorf("pg_ctl restart: %w\n%s", err, out)
	}
	return nil
}

// Stop shuts the server down: a kept cluster (Open) cleanly, a throwaway one at once, and then
// deletes it.
func (c *Cluster) Stop() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if c.persistent {
		_, _ = c.run(ctx, "pg_ctl", "-D", c.dataDir(), "-m", "fast", "-w", "stop")
		return
	}
	_, _ = c.run(ctx, "pg_ctl", "-D", c.dataDir(), "-m", "immediate", "-w", "stop")
	_ = os.RemoveAll(c.dir)
}

func (c *Cluster) dataDir() string { return filepath.Join(c.dir, "data") }

// run runs a PostgreSQL tool and returns its output. The output goes through a file, not a pipe:
// `pg_ctl start` leaves the server running with the tool's output descriptors, and reading a
// pipe would wait for the server to exit.
func (c *Cluster) run(ctx context.Context, tool string, args ...string) ([]byte, error) {
	path := filepath.Join(c.binDir, tool)
	var cmd *exec.Cmd
	if c.runAs != "" {
		cmd = exec.CommandContext(ctx, "runuser", append([]string{"-u", c.runAs, "--", path}, args...)...)
	} else {
		cmd = exec.CommandContext(ctx, path, args...)
	}
	cmd.Dir = c.dir
	out, err := os.CreateTemp("", "telemetra-pg-tool-")
	if err != nil {
		return nil, fmt.Errorf("output file for %s: %w", tool, err)
	}
	defer func() {
		_ = out.Close()           // the tool wrote through its own descriptor: ours has nothing buffered
		_ = os.Remove(out.Name()) // a leftover temporary file is harmless
	}()
	cmd.Stdout, cmd.Stderr = out, out
	runErr := cmd.Run()
	text, _ := os.ReadFile(out.Name())
	return text, runErr
}

// findBinaries looks for initdb and pg_ctl in Debian's versioned directories (newest first),
// then on PATH.
func findBinaries() (string, error) {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return version(dirs[i]) > version(dirs[j]) })
	for _, d := range dirs {
		if isExecutable(filepath.Join(d, "initdb")) && isExecutable(filepath.Join(d, "pg_ctl")) {
			return d, nil
		}
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		d := filepath.Dir(p)
		if isExecutable(filepath.Join(d, "pg_ctl")) {
			return d, nil
		}
	}
	return "", ErrNoBinaries
}

func version(binDir string) int {
	v, _ := strconv.Atoi(strings.Split(filepath.Base(filepath.Dir(binDir)), ".")[0])
	return v
}

func isExecutable(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode()&0o111 != 0
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}
