package server

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"plumb/internal/config"
)

// The crash test runs plumb serve in a child process (this test binary,
// re-executed) so it can be killed with SIGKILL mid-way, exactly as the
// kernel's OOM killer or a node failure would.
func TestMain(m *testing.M) {
	if cfgPath := os.Getenv("PLUMB_SERVE_CHILD_CONFIG"); cfgPath != "" {
		os.Exit(serveChild(cfgPath, os.Getenv("PLUMB_SERVE_CHILD_DATA")))
	}
	os.Exit(m.Run())
}

func serveChild(cfgPath, dataDir string) int {
	cfg, err := config.Load(cfgPath, os.Getenv)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	ctx, stop := signalContext()
	defer stop()
	err = Run(ctx, Options{Config: cfg, DataDir: dataDir, Listen: "127.0.0.1:0",
		Logger:   slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
		OnListen: func(addr string) { fmt.Printf("listening on %s\n", addr) }})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

func signalContext() (context.Context, func()) {
	ctx, cancel := context.WithCancel(context.Background())
	ch := make(chan os.Signal, 1)
	signalNotify(ch)
	go func() {
		select {
		case <-ch:
			cancel()
		case <-ctx.Done():
		}
	}()
	return ctx, cancel
}

const crashConfig = `
server:
  api_token: {env: CRASH_TOKEN}
  workers: 4
environments:
  - name: prod
    pipeline_identities: [11111111-1111-1111-1111-111111111111]
sources:
  eventgrid: {key: {env: CRASH_KEY}}
subscriptions:
  - name: writes
    environment: prod
    event_grid:
      included_event_types: [Microsoft.Resources.ResourceWriteSuccess]
    handlers: [{type: audit}]
`

type child struct {
	cmd  *exec.Cmd
	addr string
	done chan error
}

func startChild(t *testing.T, cfgPath, dataDir string) *child {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "PLUMB_SERVE_CHILD_CONFIG="+cfgPath, "PLUMB_SERVE_CHILD_DATA="+dataDir,
		"CRASH_TOKEN="+testToken, "CRASH_KEY="+testKey)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := &child{cmd: cmd, done: make(chan error, 1)}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if a, ok := strings.CutPrefix(sc.Text(), "listening on "); ok {
				addr <- a
			}
		}
	}()
	go func() { c.done <- cmd.Wait() }()
	select {
	case c.addr = <-addr:
	case err := <-c.done:
		t.Fatalf("child exited before listening: %v\n%s", err, stderr.String())
	case <-time.After(60 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatalf("child did not listen within 60s\n%s", stderr.String())
	}
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	return c
}

// TestCrashLosesNothing posts 2,000 events from 8 senders, SIGKILLs the
// server mid-way, restarts it on the same data and has the senders resend
// whatever got no 200 (as Event Grid does). Every event is processed, and
// none twice: each event's audit finding exists once with count 1.
func TestCrashLosesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test spawns servers")
	}
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "plumb.yaml")
	if err := os.WriteFile(cfgPath, []byte(crashConfig), 0o600); err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(dir, "data")
	const total = 2000
	bodies := make([][]byte, total)
	for i := range bodies {
		bodies[i] = mustJSON(t, []any{eventGridEvent(fmt.Sprintf("crash-%04d", i), "Microsoft.Resources.ResourceWriteSuccess", "99999999-9999-9999-9999-999999999999")})
	}

	c := startChild(t, cfgPath, data)
	var mu sync.Mutex
	ok := make([]bool, total)
	accepted := 0
	killAt := total / 3
	var killOnce sync.Once
	send := func(addr string, idx []int, kill func()) {
		var wg sync.WaitGroup
		work := make(chan int)
		client := &http.Client{Timeout: 20 * time.Second}
		for w := 0; w < 8; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range work {
					resp, err := client.Post("http://"+addr+keyed("/v1/events/eventgrid"), "application/json", bytes.NewReader(bodies[i]))
					if err != nil {
						continue // the server died: no answer, the sender keeps the event
					}
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode == 200 {
						mu.Lock()
						ok[i] = true
						accepted++
						n := accepted
						mu.Unlock()
						if kill != nil && n >= killAt {
							killOnce.Do(kill)
						}
					}
				}
			}()
		}
		for _, i := range idx {
			work <- i
		}
		close(work)
		wg.Wait()
	}
	all := make([]int, total)
	for i := range all {
		all[i] = i
	}
	send(c.addr, all, func() {
		if err := c.cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Errorf("kill: %v", err)
		}
	})
	<-c.done
	mu.Lock()
	before := accepted
	mu.Unlock()
	if before < killAt || before >= total {
		t.Fatalf("%d events accepted before the kill, want the kill mid-way", before)
	}
	t.Logf("server killed after %d of %d events were answered 200", before, total)

	c2 := startChild(t, cfgPath, data)
	var missing []int
	for i, done := range ok {
		if !done {
			missing = append(missing, i)
		}
	}
	send(c2.addr, missing, nil)
	for i, done := range ok {
		if !done {
			t.Fatalf("event %d still not accepted after the restart", i)
		}
	}

	ts := &testServer{t: t, url: "http://" + c2.addr}
	var fs struct {
		Findings []findingView `json:"findings"`
	}
	// Processing is slow under -race on a loaded machine: wait as long as
	// findings keep appearing, and give up only after a minute without
	// progress (a lost event never shows up, however long we wait).
	stall := time.Minute
	lastN, lastProgress := -1, time.Now()
	for {
		if code := ts.apiGet("/v1/findings?limit=10000", &fs); code != 200 {
			t.Fatalf("findings: %d", code)
		}
		if len(fs.Findings) != lastN {
			lastN, lastProgress = len(fs.Findings), time.Now()
		}
		if len(fs.Findings) >= total || time.Since(lastProgress) > stall {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	deadline := time.Now().Add(stall)
	if len(fs.Findings) != total {
		t.Fatalf("%d findings, want %d: events were lost", len(fs.Findings), total)
	}
	seen := map[string]bool{}
	for _, f := range fs.Findings {
		if f.Count != 1 {
			t.Errorf("finding %s counted %d times: an event was processed twice", f.Finding.Resource.ID, f.Count)
		}
		seen[f.Finding.Resource.ID] = true
	}
	if len(seen) != total {
		t.Errorf("%d distinct resources in findings, want %d", len(seen), total)
	}
	// Every event is stored once and succeeded (a delivery's findings are
	// committed just before the delivery is marked done, so wait for that).
	var evs eventsAnswer
	for {
		var pending, retry eventsAnswer
		ts.apiGet("/v1/events?state=pending&limit=1", &pending)
		ts.apiGet("/v1/events?state=retry&limit=1", &retry)
		if len(pending.Events)+len(retry.Events) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("deliveries still pending or retrying a minute after the last finding appeared")
		}
		time.Sleep(100 * time.Millisecond)
	}
	n, after := 0, int64(0)
	for {
		if code := ts.apiGet(fmt.Sprintf("/v1/events?limit=1000&after=%d", after), &evs); code != 200 {
			t.Fatalf("events: %d", code)
		}
		for _, e := range evs.Events {
			if e.State != "succeeded" || len(e.Deliveries) != 1 {
				t.Errorf("event %s: state %s with %d deliveries", e.Key, e.State, len(e.Deliveries))
			}
			after = e.ID
		}
		n += len(evs.Events)
		if len(evs.Events) < 1000 {
			break
		}
	}
	if n != total {
		t.Errorf("%d events stored, want %d", n, total)
	}

	// A graceful stop exits 0.
	if err := c2.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-c2.done:
		if err != nil {
			t.Errorf("graceful stop: %v", err)
		}
	case <-time.After(60 * time.Second):
		t.Error("server did not stop within 60s of SIGTERM")
	}
}
