package testenv

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// alertmanagerConfig routes every alert to a receiver that does nothing:
// the tests look at Alertmanager's alert state, not at notifications.
// "null" is quoted because bare null is YAML's null, not a name.
const alertmanagerConfig = `route:
  receiver: "null"
receivers:
  - name: "null"
`

// StartAlertmanager starts a real Alertmanager (installed by
// .ci/install-alertmanager.sh) on a free 127.0.0.1 port, with clustering
// disabled and its state in a temporary directory, waits until it is
// ready and stops it when the test ends. It returns the base URL.
func StartAlertmanager(t testing.TB) string {
	t.Helper()
	bin := Require(t, "alertmanager")
	dir := t.TempDir()
	cfg := filepath.Join(dir, "alertmanager.yml")
	if err := os.WriteFile(cfg, []byte(alertmanagerConfig), 0o600); err != nil {
		t.Fatalf("write alertmanager config: %v", err)
	}
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		port := FreePort(t)
		base := "http://127.0.0.1:" + strconv.Itoa(port)
		logPath := filepath.Join(dir, fmt.Sprintf("alertmanager-%d.log", attempt))
		logf, err := os.Create(logPath)
		if err != nil {
			t.Fatalf("alertmanager log: %v", err)
		}
		cmd := exec.Command(bin,
			"--config.file="+cfg,
			"--storage.path="+filepath.Join(dir, fmt.Sprintf("data-%d", attempt)),
			"--web.listen-address=127.0.0.1:"+strconv.Itoa(port),
			"--cluster.listen-address=",
			"--log.level=warn",
		)
		cmd.Stdout, cmd.Stderr = logf, logf
		if err := cmd.Start(); err != nil {
			logf.Close()
			t.Fatalf("start alertmanager: %v", err)
		}
		exited := make(chan struct{})
		go func() {
			_ = cmd.Wait()
			close(exited)
		}()
		stop := func() {
			_ = cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-exited:
			case <-time.After(10 * time.Second):
				_ = cmd.Process.Kill()
				<-exited
			}
			logf.Close()
		}
		if err := waitReady(base+"/-/ready", exited, 30*time.Second); err != nil {
			stop()
			b, _ := os.ReadFile(logPath)
			lastErr = fmt.Errorf("alertmanager on port %d not ready: %w\n%s", port, err, tail(b, 2000))
			continue
		}
		t.Cleanup(func() {
			stop()
			if t.Failed() {
				b, _ := os.ReadFile(logPath)
				t.Logf("alertmanager log (tail):\n%s", tail(b, 4000))
			}
		})
		return base
	}
	t.Fatal(lastErr)
	return ""
}

// waitReady polls url until it answers 200, the process exits or limit
// passes.
func waitReady(url string, exited <-chan struct{}, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	client := &http.Client{Timeout: 2 * time.Second}
	for {
		resp, err := client.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("HTTP %d", resp.StatusCode)
		}
		select {
		case <-exited:
			return fmt.Errorf("process exited: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			return err
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}
