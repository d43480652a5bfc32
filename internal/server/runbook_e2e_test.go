package server

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// flakyRunbook is a runbook that records, one line per run, its attempt,
// PLUMB_DELIVERY_ID and the delivery_id of the JSON on its stdin into
// runs.log in its directory, and fails the first time it runs: the queue
// retries it.
const flakyRunbook = `
LOG=runs.log
stdin_id=$(tr -d '\n' | grep -o '"delivery_id":"[^"]*"' | cut -d'"' -f4)
runs=$(cat "$LOG" 2>/dev/null | wc -l)
echo "${PLUMB_ATTEMPT:-?} ${PLUMB_DELIVERY_ID:-none} ${stdin_id:-none}" >> "$LOG"
[ "$runs" -gt 0 ] || { echo "first run fails" >&2; exit 1; }
`

// runLines waits until log has at least n lines and returns them split
// into fields.
func runLines(t *testing.T, log string, n int) [][]string {
	t.Helper()
	var lines [][]string
	waitForDeadline(t, 60*time.Second, fmt.Sprintf("%d runs in %s", n, filepath.Base(log)), func() bool {
		b, _ := os.ReadFile(log)
		lines = nil
		for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
			if l != "" {
				lines = append(lines, strings.Fields(l))
			}
		}
		return len(lines) >= n
	})
	return lines
}

// TestRunbookDeliveryIDStableAcrossRetry: a runbook handler and a runbook
// receiver both fail their first run and are retried by the queue. Each
// sees, on both runs, one delivery id in PLUMB_DELIVERY_ID and the same in
// delivery_id on stdin, so a runbook can tell a re-run from new work.
func TestRunbookDeliveryIDStableAcrossRetry(t *testing.T) {
	dir := t.TempDir()
	handlerDir, receiverDir := filepath.Join(dir, "handler"), filepath.Join(dir, "receiver")
	for _, d := range []string{handlerDir, receiverDir} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	handlerLog, receiverLog := filepath.Join(handlerDir, "runs.log"), filepath.Join(receiverDir, "runs.log")
	script := filepath.Join(dir, "flaky.sh")
	if err := os.WriteFile(script, []byte(flakyRunbook), 0o755); err != nil {
		t.Fatal(err)
	}
	ts := runE2E(t, fmt.Sprintf(`
server:
  api_token: {env: TOKEN}
  notify_interval: 200ms
  notify_retry: {max_attempts: 3, schedule: [500ms]}
environments:
  - name: prod
    pipeline_identities: [11111111-1111-1111-1111-111111111111]
sources:
  eventgrid: {key: {env: KEY}}
subscriptions:
  - name: writes
    environment: prod
    event_grid:
      included_event_types: [Microsoft.Resources.ResourceWriteSuccess]
    handlers:
      - type: audit
      - type: runbook
        command: [sh, %q]
        dir: %q
    retry: {max_attempts: 3, schedule: [500ms]}
route:
  receiver: fixit
  group_by: ['...']
  group_wait: 0s
  group_interval: 0s
receivers:
  - name: fixit
    runbook:
      command: [sh, %q]
      dir: %q
`, script, handlerDir, script, receiverDir), nil, nil)

	postGrid(t, ts.url, eventGridEvent("rb-retry-1", "Microsoft.Resources.ResourceWriteSuccess", intruderID))
	for name, log := range map[string]string{"handler": handlerLog, "receiver": receiverLog} {
		t.Run(name, func(t *testing.T) {
			runs := runLines(t, log, 2)
			first := runs[0]
			if len(first) != 3 || len(first[1]) != 32 || first[1] != first[2] {
				t.Fatalf("first run saw %v: want a 32-digit PLUMB_DELIVERY_ID equal to stdin's delivery_id", first)
			}
			for i, r := range runs[1:] {
				if len(r) != 3 || r[1] != first[1] || r[2] != first[1] {
					t.Errorf("run %d saw %v, want delivery id %s as on the first run %v", i+2, r, first[1], first)
				}
			}
			if name == "handler" && (first[0] != "1" || runs[1][0] != "2") {
				t.Errorf("attempts %s then %s, want 1 then 2", first[0], runs[1][0])
			}
		})
	}
	// The retried deliveries succeeded: the second run was a real retry
	// of the same delivery, not a second delivery.
	waitForDeadline(t, 30*time.Second, "the event to succeed", func() bool {
		for _, id := range ts.eventIDsIn("succeeded") {
			if id == "rb-retry-1" {
				return true
			}
		}
		return false
	})
	waitForDeadline(t, 30*time.Second, "the notification to succeed", func() bool {
		return len(notificationEvents(t, ts.url, "succeeded")) == 1
	})
	if n := len(notificationEvents(t, ts.url, "dead")) + len(notificationEvents(t, ts.url, "retry")); n != 0 {
		t.Errorf("%d notifications dead or retrying, want none", n)
	}
}
