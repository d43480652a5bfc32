package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"plumb/internal/config"
	"plumb/internal/server"
)

const (
	serveToken = "cli-api-token"
	serveKey   = "cli-webhook-key"
	intruder   = "99999999-9999-9999-9999-999999999999"
)

func serveEnv(k string) string {
	return map[string]string{"PLUMB_TEST_API_TOKEN": serveToken, "PLUMB_TEST_WEBHOOK_KEY": serveKey}[k]
}

// startServe runs plumb serve in-process (server.Run, as the serve command
// does) with testdata/serve/plumb.yaml, its runbook pointed at runbookDir.
// It returns the base URL.
func startServe(t *testing.T, runbookDir string) string {
	t.Helper()
	cfg, err := config.Load("testdata/serve/plumb.yaml", serveEnv)
	if err != nil {
		t.Fatal(err)
	}
	for i := range cfg.Subscriptions {
		for j := range cfg.Subscriptions[i].Handlers {
			cfg.Subscriptions[i].Handlers[j].Dir = runbookDir
		}
	}
	return runServer(t, cfg)
}

// runServer runs plumb serve in-process (server.Run, as the serve command
// does) with cfg and a temporary data directory, and returns its base URL.
// It stops when the test ends, and its log is printed if the test failed.
func runServer(t *testing.T, cfg *config.Config) string {
	t.Helper()
	return runServerOn(t, cfg, t.TempDir())
}

// runServerOn is runServer on a data directory the test prepared.
func runServerOn(t *testing.T, cfg *config.Config, dataDir string) string {
	t.Helper()
	var logs syncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	addr := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- server.Run(ctx, server.Options{Config: cfg, DataDir: dataDir, Listen: "127.0.0.1:0",
			Logger: slog.New(slog.NewTextHandler(&logs, nil)), ShutdownTimeout: 10 * time.Second,
			OnListen: func(a string) { addr <- a }})
	}()
	var a string
	select {
	case a = <-addr:
	case err := <-done:
		cancel()
		t.Fatalf("server.Run returned before listening: %v\n%s", err, logs.String())
	case <-time.After(60 * time.Second):
		cancel()
		t.Fatal("server did not listen within 60s")
	}
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("server.Run: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Error("server.Run did not return within 30s")
		}
		if t.Failed() {
			t.Logf("plumb serve log:\n%s", logs.String())
		}
	})
	return "http://" + a
}

// eventGridWrite is an Event Grid resource write by principal.
func eventGridWrite(id, eventType, principal string) map[string]any {
	rid := "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg/providers/Microsoft.Network/networkSecurityGroups/nsg-" + id
	return map[string]any{
		"id": id, "eventType": eventType, "subject": rid, "eventTime": "2026-11-22T10:00:00Z",
		"dataVersion": "2", "metadataVersion": "1", "topic": "/subscriptions/00000000-0000-0000-0000-000000000001",
		"data": map[string]any{
			"operationName": "Microsoft.Network/networkSecurityGroups/write", "resourceUri": rid,
			"subscriptionId": "00000000-0000-0000-0000-000000000001", "status": "Succeeded",
			"authorization": map[string]any{"action": "Microsoft.Network/networkSecurityGroups/write", "scope": rid,
				"evidence": map[string]any{"role": "Contributor", "principalId": principal, "principalType": "User"}},
			"claims": map[string]any{"http://schemas.microsoft.com/identity/claims/objectidentifier": principal},
		},
	}
}

// cli runs plumb in-process.
func cli(args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	code = run(args, &out, &errb)
	return code, out.String(), errb.String()
}

// tableRows parses a table the CLI printed: the header's columns, then one
// map per row keyed by column (the last column keeps its spaces).
func tableRows(t *testing.T, out string) (header []string, rows []map[string]string) {
	t.Helper()
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	if len(lines) == 0 || lines[0] == "" {
		t.Fatalf("no table in output %q", out)
	}
	// Column starts are where the header's words start (tabwriter pads
	// with spaces, at least two between columns).
	var starts []int
	for i := 0; i < len(lines[0]); i++ {
		if lines[0][i] != ' ' && (i == 0 || (i >= 2 && lines[0][i-1] == ' ' && lines[0][i-2] == ' ')) {
			starts = append(starts, i)
		}
	}
	for i, s := range starts {
		end := len(lines[0])
		if i+1 < len(starts) {
			end = starts[i+1]
		}
		header = append(header, strings.TrimSpace(lines[0][s:end]))
	}
	for _, l := range lines[1:] {
		row := map[string]string{}
		for i, s := range starts {
			if s >= len(l) {
				break
			}
			end := len(l)
			if i+1 < len(starts) && starts[i+1] < len(l) {
				end = starts[i+1]
			}
			row[header[i]] = strings.TrimSpace(l[s:end])
		}
		rows = append(rows, row)
	}
	return header, rows
}

// TestServeCLIEventsAndFindings drives a running plumb serve through the
// events and findings commands, as an operator on call would.
func TestServeCLIEventsAndFindings(t *testing.T) {
	runbookDir := t.TempDir()
	url := startServe(t, runbookDir)
	api := []string{"--server", url, "--token", serveToken}

	body, err := json.Marshal([]any{
		eventGridWrite("cli-write", "Microsoft.Resources.ResourceWriteSuccess", intruder),
		eventGridWrite("cli-runbook", "Test.Runbook", intruder),
		eventGridWrite("cli-action", "Microsoft.Resources.ResourceActionSuccess", intruder),
	})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Post(url+"/v1/events/eventgrid?key="+serveKey, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("post events: %d", resp.StatusCode)
	}

	// Wait, through the CLI's own JSON output, until every event is settled.
	wantStates := map[string]string{"cli-write": "succeeded", "cli-runbook": "dead", "cli-action": "filtered"}
	ids := map[string]int64{}
	deadline := time.Now().Add(30 * time.Second)
	for {
		code, out, stderr := cli(append([]string{"events", "list", "--json"}, api...)...)
		if code != 0 {
			t.Fatalf("events list --json: exit %d: %s", code, stderr)
		}
		var evs []struct {
			ID    int64  `json:"id"`
			State string `json:"state"`
			Event struct {
				ID string `json:"id"`
			} `json:"event"`
		}
		if err := json.Unmarshal([]byte(out), &evs); err != nil {
			t.Fatalf("events list --json printed %q: %v", out, err)
		}
		settled := len(evs) == len(wantStates)
		for _, e := range evs {
			ids[e.Event.ID] = e.ID
			if wantStates[e.Event.ID] != e.State {
				settled = false
			}
		}
		if settled {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("events not settled within 30s: %s", out)
		}
		time.Sleep(100 * time.Millisecond)
	}
	deadID := strconv.FormatInt(ids["cli-runbook"], 10)

	t.Run("events list", func(t *testing.T) {
		code, out, stderr := cli(append([]string{"events", "list"}, api...)...)
		if code != 0 {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		header, rows := tableRows(t, out)
		if strings.Join(header, "|") != "ID|STATE|RECEIVED|TYPE|SUBJECT" {
			t.Errorf("header = %v", header)
		}
		got := map[string]string{}
		for _, r := range rows {
			got[r["ID"]] = r["STATE"]
			if _, err := time.Parse(time.RFC3339, r["RECEIVED"]); err != nil {
				t.Errorf("row %v: RECEIVED is not RFC 3339", r)
			}
			if !strings.HasPrefix(r["SUBJECT"], "/subscriptions/") {
				t.Errorf("row %v: SUBJECT is not the event's subject", r)
			}
		}
		want := map[string]string{}
		for name, id := range ids {
			want[strconv.FormatInt(id, 10)] = wantStates[name]
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("rows id->state = %v, want %v\n%s", got, want, out)
		}
	})

	t.Run("events list --state dead", func(t *testing.T) {
		code, out, stderr := cli(append([]string{"events", "list", "--state", "dead"}, api...)...)
		if code != 0 {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		_, rows := tableRows(t, out)
		if len(rows) != 1 || rows[0]["ID"] != deadID || rows[0]["STATE"] != "dead" || rows[0]["TYPE"] != "Test.Runbook" {
			t.Errorf("dead events = %v, want only event %s\n%s", rows, deadID, out)
		}
	})

	t.Run("events show", func(t *testing.T) {
		code, out, stderr := cli(append([]string{"events", "show", deadID}, api...)...)
		if code != 0 {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		var ev struct {
			ID         int64  `json:"id"`
			State      string `json:"state"`
			Deliveries []struct {
				Subscription string `json:"subscription"`
				State        string `json:"state"`
				Attempt      int    `json:"attempt"`
				LastError    string `json:"last_error"`
			} `json:"deliveries"`
		}
		if err := json.Unmarshal([]byte(out), &ev); err != nil {
			t.Fatalf("show printed %q: %v", out, err)
		}
		if !strings.Contains(out, "\n  \"") {
			t.Errorf("show output is not indented JSON:\n%s", out)
		}
		if strconv.FormatInt(ev.ID, 10) != deadID || ev.State != "dead" || len(ev.Deliveries) != 1 {
			t.Fatalf("event = %+v, want event %s, dead, one delivery", ev, deadID)
		}
		if d := ev.Deliveries[0]; d.Subscription != "runbook" || d.State != "dead" || d.Attempt != 1 || !strings.Contains(d.LastError, "exit status 1") {
			t.Errorf("delivery = %+v, want the runbook's dead delivery with its exit status", d)
		}
	})

	t.Run("findings list", func(t *testing.T) {
		code, out, stderr := cli(append([]string{"findings", "list"}, api...)...)
		if code != 0 {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		header, rows := tableRows(t, out)
		if strings.Join(header, "|") != "STATUS|KIND|SEVERITY|COUNT|LAST SEEN|MESSAGE" {
			t.Errorf("header = %v", header)
		}
		if len(rows) != 1 {
			t.Fatalf("findings = %v, want one\n%s", rows, out)
		}
		r := rows[0]
		if r["STATUS"] != "open" || r["KIND"] != "audit.unexpected_write" || r["COUNT"] != "1" || !strings.Contains(out, "Unexpected write by "+intruder) {
			t.Errorf("finding row = %v\n%s", r, out)
		}
		code, out, _ = cli(append([]string{"findings", "list", "--kind", "drift.unmanaged"}, api...)...)
		if _, rows := tableRows(t, out); code != 0 || len(rows) != 0 {
			t.Errorf("findings list --kind drift.unmanaged: exit %d, rows %v, want none", code, rows)
		}
	})

	t.Run("events retry", func(t *testing.T) {
		// The runbook's cause is fixed; the operator re-runs the event.
		if err := os.WriteFile(filepath.Join(runbookDir, "retry.marker"), nil, 0o600); err != nil {
			t.Fatal(err)
		}
		code, out, stderr := cli(append([]string{"events", "retry", deadID}, api...)...)
		if code != 0 || strings.TrimSpace(out) != "event "+deadID+": 1 deliveries queued again" {
			t.Fatalf("retry: exit %d, stdout %q, stderr %q", code, out, stderr)
		}
		deadline := time.Now().Add(20 * time.Second)
		for {
			_, out, _ := cli(append([]string{"events", "list", "--state", "succeeded"}, api...)...)
			_, rows := tableRows(t, out)
			found := false
			for _, r := range rows {
				found = found || r["ID"] == deadID
			}
			if found {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("retried event %s did not succeed within 20s:\n%s", deadID, out)
			}
			time.Sleep(100 * time.Millisecond)
		}
	})

	t.Run("errors", func(t *testing.T) {
		t.Setenv("PLUMB_API_TOKEN", "")
		for _, tc := range []struct {
			name       string
			args       []string
			wantStderr []string
		}{
			{"wrong token", []string{"events", "list", "--server", url, "--token", "guess"}, []string{"401", "missing or wrong bearer token"}},
			{"no token", []string{"findings", "list", "--server", url}, []string{"401", "missing or wrong bearer token"}},
			{"unknown event", append([]string{"events", "show", "424242"}, api...), []string{"404", "event 424242 not found"}},
			{"bad state", append([]string{"events", "list", "--state", "exploded"}, api...), []string{"400", `state "exploded"`}},
			{"retry needs an id", append([]string{"events", "retry"}, api...), []string{"accepts 1 arg"}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				code, out, stderr := cli(tc.args...)
				if code != exitError {
					t.Errorf("exit %d, want %d", code, exitError)
				}
				if out != "" {
					t.Errorf("stdout %q, want nothing on error", out)
				}
				for _, w := range tc.wantStderr {
					if !strings.Contains(stderr, w) {
						t.Errorf("stderr %q lacks %q", stderr, w)
					}
				}
			})
		}
	})
}

// TestServeCLIServeErrors: plumb serve refuses to start without what it
// needs, naming the flag or the config file, line and field.
func TestServeCLIServeErrors(t *testing.T) {
	t.Setenv("PLUMB_TEST_API_TOKEN", serveToken)
	t.Setenv("PLUMB_TEST_WEBHOOK_KEY", serveKey)
	data := t.TempDir()
	for _, tc := range []struct {
		name       string
		args       []string
		unsetEnv   string
		wantStderr []string
	}{
		{"no config", []string{"serve", "--data-dir", data}, "", []string{"--config is required"}},
		{"no storage", []string{"serve", "--config", "testdata/serve/plumb.yaml"}, "", []string{"--data-dir", "--database"}},
		{"bad config", []string{"serve", "--config", "testdata/serve/bad.yaml", "--data-dir", data}, "",
			[]string{`testdata/serve/bad.yaml:9: subscriptions[0].environment: unknown environment "staging"`}},
		{"missing config", []string{"serve", "--config", "testdata/serve/nope.yaml", "--data-dir", data}, "",
			[]string{"testdata/serve/nope.yaml", "no such file"}},
		{"secret not set", []string{"serve", "--config", "testdata/serve/plumb.yaml", "--data-dir", data}, "PLUMB_TEST_WEBHOOK_KEY",
			[]string{"testdata/serve/plumb.yaml:11: sources.eventgrid.key.env: environment variable PLUMB_TEST_WEBHOOK_KEY is not set"}},
		{"stray argument", []string{"serve", "--config", "testdata/serve/plumb.yaml", "--data-dir", data, "extra"}, "", []string{`unknown command "extra"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.unsetEnv != "" {
				t.Setenv(tc.unsetEnv, "")
			}
			code, out, stderr := cli(tc.args...)
			if code != exitError {
				t.Errorf("exit %d, want %d (stdout %q)", code, exitError, out)
			}
			for _, w := range tc.wantStderr {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr %q lacks %q", stderr, w)
				}
			}
		})
	}
}

// syncBuffer is a bytes.Buffer safe to write from the serve goroutine and
// read from the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestServeCLIServeRunsAndStops runs the real `plumb serve` command: it
// logs one start-up line with its address, serves, and on SIGTERM drains
// and exits 0.
func TestServeCLIServeRunsAndStops(t *testing.T) {
	t.Setenv("PLUMB_TEST_API_TOKEN", serveToken)
	t.Setenv("PLUMB_TEST_WEBHOOK_KEY", serveKey)
	var stdout, stderr syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- run([]string{"serve", "--config", "testdata/serve/plumb.yaml", "--data-dir", filepath.Join(t.TempDir(), "data"),
			"--listen", "127.0.0.1:0", "--log-format", "json", "--shutdown-timeout", "10s"}, &stdout, &stderr)
	}()
	// The address is in the one start-up log line (JSON with
	// --log-format json), which also names the store and the sources.
	var addr string
	var started map[string]any
	deadline := time.Now().Add(60 * time.Second)
	for addr == "" {
		sc := bufio.NewScanner(strings.NewReader(stderr.String()))
		for sc.Scan() {
			var line map[string]any
			if json.Unmarshal(sc.Bytes(), &line) == nil && line["msg"] == "plumb serve started" {
				addr, _ = line["addr"].(string)
				started = line
			}
		}
		select {
		case code := <-done:
			t.Fatalf("plumb serve exited %d before listening: %s", code, stderr.String())
		default:
		}
		if addr == "" && time.Now().After(deadline) {
			t.Fatalf("plumb serve did not log its start within 60s: %s", stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if started["level"] != "INFO" || !strings.HasPrefix(fmt.Sprint(started["store"]), "sqlite ") || started["sources"] == nil || started["environments"] == nil {
		t.Errorf("start-up line = %v, want INFO with store, environments and sources", started)
	}
	// One line names the address; River's own start-up lines are
	// library detail, below the default level.
	if n := strings.Count(stderr.String(), addr); n != 1 {
		t.Errorf("the address appears in %d log lines, want 1:\n%s", n, stderr.String())
	}
	for _, noise := range []string{"River client started", "Applied migration", "Producer job counts"} {
		if strings.Contains(stderr.String(), noise) {
			t.Errorf("INFO log has River's %q:\n%s", noise, stderr.String())
		}
	}
	// Until it stops, a stray server must not outlive the test.
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			_ = syscall.Kill(os.Getpid(), syscall.SIGTERM)
			<-done
		}
	})

	resp, err := http.Get("http://" + addr + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("readyz: %d", resp.StatusCode)
	}
	code, out, errOut := cli("findings", "list", "--server", "http://"+addr, "--token", serveToken)
	if code != 0 || !strings.HasPrefix(out, "STATUS") {
		t.Errorf("findings list against plumb serve: exit %d %q %q", code, out, errOut)
	}

	// run() stops on SIGTERM like the real process; the signal reaches its
	// handler, not the test binary's default action.
	if err := syscall.Kill(os.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case code := <-done:
		stopped = true
		if code != 0 {
			t.Errorf("plumb serve exited %d after SIGTERM, want 0: %s", code, stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("plumb serve did not stop within 30s of SIGTERM")
	}
	// The JSON log records the orderly stop.
	var lines []map[string]any
	dec := json.NewDecoder(strings.NewReader(stderr.String()))
	for {
		var l map[string]any
		if err := dec.Decode(&l); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("stderr is not JSON lines: %v\n%s", err, stderr.String())
		}
		lines = append(lines, l)
	}
	if len(lines) == 0 || lines[len(lines)-1]["msg"] != "plumb serve stopped" {
		t.Errorf("last log line = %v, want \"plumb serve stopped\"", lines[len(lines)-1:])
	}
}
