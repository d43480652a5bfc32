package testenv

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// azuriteAccountKey is the fixed, publicly documented key of azurite's
// devstoreaccount1. It is not a secret: every emulator install has it.
const azuriteAccountKey = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="

// AzuriteDir is where .ci/install-azurite.sh puts azurite, so tests find
// azurite-queue without anyone having to put node_modules/.bin on PATH.
// PLUMB_AZURITE_DIR overrides it, for both the script and the tests.
func AzuriteDir() string {
	if d := os.Getenv("PLUMB_AZURITE_DIR"); d != "" {
		return d
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return filepath.Join(os.TempDir(), "plumb-azurite")
	}
	return filepath.Join(home, ".cache", "plumb", "azurite")
}

// findAzuriteQueue prefers a PATH install (a developer's global npm
// install) over the script's directory.
func findAzuriteQueue() (string, error) {
	if p, err := exec.LookPath("azurite-queue"); err == nil {
		return p, nil
	}
	p := filepath.Join(AzuriteDir(), "node_modules", ".bin", "azurite-queue")
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("azurite-queue neither on PATH nor at %s (run .ci/install-azurite.sh): %w", p, err)
	}
	return p, nil
}

// StartAzuriteQueue starts azurite's queue service on a free port with its
// data in a temporary directory, and stops it when the test ends. It
// returns a connection string for the emulator's well-known account. As
// with Require, a missing azurite fails the test under CI=true (so CI
// cannot pass by skipping) and skips it elsewhere.
func StartAzuriteQueue(t testing.TB) (connectionString string) {
	t.Helper()
	bin, err := findAzuriteQueue()
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("azurite is required under CI=true: %v", err)
		}
		t.Skipf("azurite not installed: %v", err)
	}
	dir := t.TempDir()
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		port := FreePort(t)
		stop, err := startAzurite(bin, dir, port)
		if err != nil {
			lastErr = err
			continue
		}
		t.Cleanup(stop)
		return AzuriteConnectionString(port)
	}
	t.Fatalf("start azurite-queue: %v", lastErr)
	return ""
}

// StartAzuriteQueueAt starts azurite's queue service on a given port, for
// tests of a client that was pointed at the port while nothing listened
// there (storage that comes up late). It returns the connection string
// and stops azurite when the test ends.
func StartAzuriteQueueAt(t testing.TB, port int) (connectionString string) {
	t.Helper()
	bin, err := findAzuriteQueue()
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("azurite is required under CI=true: %v", err)
		}
		t.Skipf("azurite not installed: %v", err)
	}
	stop, err := startAzurite(bin, t.TempDir(), port)
	if err != nil {
		t.Fatalf("start azurite-queue: %v", err)
	}
	t.Cleanup(stop)
	return AzuriteConnectionString(port)
}

// AzuriteConnectionString is the connection string of azurite's
// devstoreaccount1 with the queue service on port.
func AzuriteConnectionString(port int) string {
	return "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=" + azuriteAccountKey +
		";QueueEndpoint=http://127.0.0.1:" + strconv.Itoa(port) + "/devstoreaccount1;"
}

func startAzurite(bin, dir string, port int) (func(), error) {
	location, err := os.MkdirTemp(dir, "azurite-*")
	if err != nil {
		return nil, err
	}
	logPath := filepath.Join(location, "azurite-output.log")
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	output := func() string {
		b, _ := os.ReadFile(logPath)
		return string(b)
	}
	cmd := exec.Command(bin,
		"--queueHost", "127.0.0.1",
		"--queuePort", strconv.Itoa(port),
		"--location", location,
		"--silent",
		"--skipApiVersionCheck",
		"--disableTelemetry",
	)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(done)
	}()
	// azurite shuts down gracefully on the first SIGTERM only after a
	// second one; SIGKILL is the last resort so a test never hangs.
	stop := func() {
		for _, sig := range []os.Signal{syscall.SIGTERM, syscall.SIGTERM} {
			_ = cmd.Process.Signal(sig)
			select {
			case <-done:
				return
			case <-time.After(time.Second):
			}
		}
		_ = cmd.Process.Kill()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
		}
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-done:
			return nil, fmt.Errorf("azurite-queue on port %d exited early: %s", port, output())
		default:
		}
		conn, err := net.DialTimeout("tcp", addr, 500*time.Millisecond)
		if err == nil {
			conn.Close()
			return stop, nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	stop()
	return nil, fmt.Errorf("azurite-queue on port %d did not accept connections within 30s: %s", port, output())
}
