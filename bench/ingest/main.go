// Command ingest measures plumb serve's intake: events per second durably
// accepted (answered 200, so committed to disk) and the p50/p99 latency of
// an accepted request, with a Go load generator on loopback.
//
//	go run ./bench/ingest -events 20000 -clients 32 -batch 1
//	go run ./bench/ingest -database postgres://...   (PostgreSQL instead of SQLite)
//
// The server runs in this process (same binary, real HTTP over loopback),
// with one subscription that every event matches and the audit handler,
// so the workers compete with intake for the CPU as they do in production.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"runtime/pprof"
	"sort"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"plumb/internal/config"
	"plumb/internal/server"
	"plumb/internal/testenv"
)

func main() {
	var (
		events   = flag.Int("events", 20000, "events to send")
		clients  = flag.Int("clients", 32, "concurrent HTTP clients")
		batch    = flag.Int("batch", 1, "events per request (Event Grid sends 1 unless batching is enabled)")
		database = flag.String("database", "", "PostgreSQL URL; empty uses SQLite in a temp dir")
		workers  = flag.Int("workers", 4, "queue workers processing deliveries meanwhile")
		profile  = flag.String("cpuprofile", "", "write a CPU profile of the whole run to this file")
		replicas = flag.Int("replicas", 1, "plumb serve replicas sharing the PostgreSQL database (clients spread over them); needs -database or -postgres")
		pg       = flag.Bool("postgres", false, "start a throwaway PostgreSQL (initdb, pg_ctl) and use it")
	)
	flag.Parse()
	if *profile != "" {
		f, err := os.Create(*profile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "ingest:", err)
			os.Exit(1)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintln(os.Stderr, "ingest:", err)
			os.Exit(1)
		}
		defer pprof.StopCPUProfile()
	}
	if *pg {
		dsn, stop, err := testenv.StartPostgresProcess()
		if err != nil {
			fmt.Fprintln(os.Stderr, "ingest:", err)
			os.Exit(1)
		}
		defer stop()
		*database = dsn
	}
	if *replicas > 1 && *database == "" {
		fmt.Fprintln(os.Stderr, "ingest: -replicas needs PostgreSQL (-database or -postgres): a SQLite data dir has one server")
		os.Exit(2)
	}
	if err := run(*events, *clients, *batch, *database, *workers, *replicas); err != nil {
		pprof.StopCPUProfile()
		fmt.Fprintln(os.Stderr, "ingest:", err)
		os.Exit(1)
	}
}

const cfgYAML = `
server:
  max_inflight: 1024
  max_pending: 10000000
  workers: %d
environments:
  - name: bench
    pipeline_identities: [11111111-1111-1111-1111-111111111111]
sources:
  eventgrid: {key: {env: BENCH_KEY}}
subscriptions:
  - name: all-writes
    environment: bench
    event_grid:
      included_event_types: [Microsoft.Resources.ResourceWriteSuccess]
    handlers: [{type: audit}]
`

func run(n, clients, batch int, database string, workers, replicas int) error {
	dir, err := os.MkdirTemp("", "plumb-ingest-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	cfg, err := config.Parse(filepath.Join(dir, "plumb.yaml"), []byte(fmt.Sprintf(cfgYAML, workers)), func(string) string { return "bench-key" })
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	// Replicas run in this process: on one machine they share its cores
	// exactly as separate processes would.
	var urls []string
	done := make(chan error, replicas)
	for r := 0; r < replicas; r++ {
		addrc := make(chan string, 1)
		dataDir := filepath.Join(dir, fmt.Sprint("replica-", r))
		go func() {
			done <- server.Run(ctx, server.Options{Config: cfg, DataDir: dataDir, DatabaseURL: database, Listen: "127.0.0.1:0",
				Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), OnListen: func(a string) { addrc <- a }})
		}()
		select {
		case addr := <-addrc:
			urls = append(urls, "http://"+addr+"/v1/events/eventgrid?key=bench-key")
		case err := <-done:
			cancel()
			return fmt.Errorf("server: %w", err)
		}
	}
	bodies := make([][]byte, 0, n/batch+1)
	for i := 0; i < n; i += batch {
		var evs []any
		for j := i; j < i+batch && j < n; j++ {
			evs = append(evs, event(j))
		}
		b, _ := json.Marshal(evs)
		bodies = append(bodies, b)
	}
	tr := &http.Transport{MaxIdleConnsPerHost: clients, MaxConnsPerHost: clients}
	hc := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	var next atomic.Int64
	var mu sync.Mutex
	var lat []time.Duration
	codes := map[int]int{}
	var wg sync.WaitGroup
	cpu0 := cpuTime()
	start := time.Now()
	for c := 0; c < clients; c++ {
		wg.Add(1)
		url := urls[c%len(urls)]
		go func() {
			defer wg.Done()
			var mine []time.Duration
			mycodes := map[int]int{}
			for {
				i := int(next.Add(1)) - 1
				if i >= len(bodies) {
					break
				}
				for {
					t0 := time.Now()
					resp, err := hc.Post(url, "application/json", bytes.NewReader(bodies[i]))
					if err != nil {
						mycodes[-1]++
						time.Sleep(10 * time.Millisecond)
						continue
					}
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					mycodes[resp.StatusCode]++
					if resp.StatusCode == 200 {
						mine = append(mine, time.Since(t0))
						break
					}
					time.Sleep(10 * time.Millisecond) // 429/503: back off and resend
				}
			}
			mu.Lock()
			lat = append(lat, mine...)
			for k, v := range mycodes {
				codes[k] += v
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	cpu := cpuTime() - cpu0
	cancel()
	for range urls {
		if err := <-done; err != nil {
			return fmt.Errorf("server: %w", err)
		}
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	pct := func(p float64) time.Duration { return lat[int(p*float64(len(lat)-1))] }
	store := "sqlite"
	if database != "" {
		store = "postgres"
	}
	fmt.Printf("store=%s replicas=%d events=%d batch=%d clients=%d workers=%d\n", store, replicas, n, batch, clients, workers)
	fmt.Printf("  accepted: %.0f events/s (%d requests in %.2fs)\n", float64(n)/elapsed.Seconds(), len(lat), elapsed.Seconds())
	fmt.Printf("  accept latency: p50 %.2f ms, p99 %.2f ms, max %.2f ms\n", ms(pct(0.50)), ms(pct(0.99)), ms(lat[len(lat)-1]))
	fmt.Printf("  answers: %v\n", codes)
	// CPU per event (server, workers and this load generator together) is
	// what bounds throughput on a machine of few cores; it also holds
	// when other work shares the machine, unlike events/s.
	fmt.Printf("  cpu: %.0f us/event (%.2f cores busy on average)\n", float64(cpu.Microseconds())/float64(n), cpu.Seconds()/elapsed.Seconds())
	return nil
}

// cpuTime is this process's user and system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// event is a realistic Event Grid resource write (about 1.5 KB).
func event(i int) map[string]any {
	rid := fmt.Sprintf("/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-%d/providers/Microsoft.Network/networkSecurityGroups/nsg-%d", i%50, i)
	return map[string]any{
		"id": fmt.Sprintf("bench-%d", i), "eventType": "Microsoft.Resources.ResourceWriteSuccess", "subject": rid,
		"eventTime": time.Now().UTC().Format(time.RFC3339Nano), "dataVersion": "2", "metadataVersion": "1",
		"topic": "/subscriptions/00000000-0000-0000-0000-000000000001",
		"data": map[string]any{
			"operationName": "Microsoft.Network/networkSecurityGroups/write", "resourceProvider": "Microsoft.Network",
			"resourceUri": rid, "subscriptionId": "00000000-0000-0000-0000-000000000001", "status": "Succeeded",
			"tenantId": "72f988bf-86f1-41af-91ab-2d7cd011db47", "correlationId": fmt.Sprintf("c-%d", i),
			"authorization": map[string]any{"action": "Microsoft.Network/networkSecurityGroups/write", "scope": rid,
				"evidence": map[string]any{"role": "Contributor", "roleAssignmentScope": "/subscriptions/00000000-0000-0000-0000-000000000001",
					"principalId": "11111111111111111111111111111111", "principalType": "ServicePrincipal"}},
			"claims": map[string]any{"appid": "22222222-2222-2222-2222-222222222222",
				"http://schemas.microsoft.com/identity/claims/objectidentifier": "11111111-1111-1111-1111-111111111111"},
			"httpRequest": map[string]any{"clientRequestId": "x", "clientIpAddress": "203.0.113.7", "method": "PUT",
				"url": "https://management.azure.com" + rid + "?api-version=2023-09-01"},
		},
	}
}
