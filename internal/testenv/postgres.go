package testenv

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// pgUser is the unprivileged account the PostgreSQL binaries run as when the
// tests run as root: initdb and postgres refuse to run as root, and CI runs
// as root on a fresh machine.
const pgUser = "nobody"

// pgDatabase is the database created for the test, so the test never works
// in the maintenance database "postgres".
const pgDatabase = "plumb"

// StartPostgres starts a throw-away PostgreSQL server on 127.0.0.1 for one
// test and returns a DSN for an empty database in it. The server is stopped
// and its files removed when the test ends. initdb missing fails the test
// under CI=true and skips it elsewhere. fsync is off: these servers are
// killed with "-m immediate" and never need their data back, and the shared
// machine's disk is spared.
func StartPostgres(t testing.TB) string {
	t.Helper()
	Require(t, "initdb")
	Require(t, "pg_ctl")
	dsn, stop, err := startPostgres(false)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	return dsn
}

// StartPostgresProcess starts PostgreSQL outside a test (benchmarks, the
// demo driver) with fsync on, so throughput figures are those of a durable
// server. The caller must call stop.
func StartPostgresProcess() (dsn string, stop func(), err error) {
	for _, bin := range []string{"initdb", "pg_ctl"} {
		if _, err := exec.LookPath(bin); err != nil {
			return "", nil, fmt.Errorf("%s not on PATH: %w", bin, err)
		}
	}
	return startPostgres(true)
}

func startPostgres(durable bool) (string, func(), error) {
	// t.TempDir would be natural, but its parent is mode 0700 and owned by
	// root, so the unprivileged server could not reach it. A directory of
	// our own under the system temp dir is handed to that user instead.
	dir, err := os.MkdirTemp("", "plumb-pg-")
	if err != nil {
		return "", nil, fmt.Errorf("postgres temp dir: %w", err)
	}
	removeDir := func() { _ = os.RemoveAll(dir) }
	asRoot := os.Geteuid() == 0
	if asRoot {
		if err := chownToUser(dir, pgUser); err != nil {
			removeDir()
			return "", nil, err
		}
	}
	data := filepath.Join(dir, "data")
	run := func(ctx context.Context, name string, args ...string) *exec.Cmd {
		var cmd *exec.Cmd
		if asRoot {
			cmd = exec.CommandContext(ctx, "runuser", append([]string{"-u", pgUser, "--", name}, args...)...)
		} else {
			cmd = exec.CommandContext(ctx, name, args...)
		}
		cmd.Dir = dir
		return cmd
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	initArgs := []string{"-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C"}
	if !durable {
		initArgs = append(initArgs, "--no-sync")
	}
	if out, err := run(ctx, "initdb", initArgs...).CombinedOutput(); err != nil {
		removeDir()
		return "", nil, fmt.Errorf("initdb: %w: %s", err, out)
	}

	port, err := freePort()
	if err != nil {
		removeDir()
		return "", nil, err
	}
	opts := fmt.Sprintf("-c listen_addresses=127.0.0.1 -p %d -c unix_socket_directories=%s -c max_connections=200", port, dir)
	if !durable {
		opts += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
	}
	logFile := filepath.Join(dir, "postgres.log")
	if out, err := run(ctx, "pg_ctl", "-D", data, "-l", logFile, "-o", opts, "-w", "-t", "60", "start").CombinedOutput(); err != nil {
		log, _ := os.ReadFile(logFile)
		removeDir()
		return "", nil, fmt.Errorf("pg_ctl start: %w: %s\n%s", err, out, log)
	}
	stop := func() {
		stopCtx, stopCancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer stopCancel()
		_ = run(stopCtx, "pg_ctl", "-D", data, "-m", "immediate", "-w", "stop").Run()
		removeDir()
	}

	base := fmt.Sprintf("postgres://postgres@127.0.0.1:%d/", port)
	if err := createDatabase(ctx, base+"postgres?sslmode=disable", pgDatabase); err != nil {
		stop()
		return "", nil, err
	}
	return base + pgDatabase + "?sslmode=disable", stop, nil
}

// createDatabase waits until the server accepts connections (pg_ctl -w has
// normally seen to that) and creates the test database.
func createDatabase(ctx context.Context, adminDSN, name string) error {
	var lastErr error
	for ctx.Err() == nil {
		conn, err := pgx.Connect(ctx, adminDSN)
		if err != nil {
			lastErr = err
			time.Sleep(50 * time.Millisecond)
			continue
		}
		_, err = conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize())
		_ = conn.Close(ctx)
		if err != nil {
			return fmt.Errorf("create database %s: %w", name, err)
		}
		return nil
	}
	return fmt.Errorf("postgres not ready: %w", lastErr)
}

func chownToUser(dir, name string) error {
	u, err := user.Lookup(name)
	if err != nil {
		return fmt.Errorf("look up user %s: %w", name, err)
	}
	uid, err := strconv.Atoi(u.Uid)
	if err != nil {
		return fmt.Errorf("uid of %s: %w", name, err)
	}
	gid, err := strconv.Atoi(u.Gid)
	if err != nil {
		return fmt.Errorf("gid of %s: %w", name, err)
	}
	if err := os.Chown(dir, uid, gid); err != nil {
		return fmt.Errorf("chown %s to %s: %w", dir, name, err)
	}
	return nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
