package queue

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"plumb/internal/testenv"
)

// BenchmarkEnqueue measures intake: parallel callers, one event with one
// delivery per call (as an HTTP request with a single event would do),
// durable commit included. It reports events/s, transactions per second
// and the p50/p99 latency of Enqueue. Run with -cpu to vary the callers
// per core, for example:
//
//	go test -run '^$' -bench Enqueue -benchtime 20000x -cpu 2 ./internal/queue/
func BenchmarkEnqueue(b *testing.B) {
	for _, backend := range backends {
		b.Run(backend, func(b *testing.B) {
			o := Options{Logger: slog.New(slog.DiscardHandler), MaxPending: 1 << 30}
			if backend == "postgres" {
				dsn, stop, err := testenv.StartPostgresProcess()
				if err != nil {
					b.Skip(err)
				}
				b.Cleanup(stop)
				o.DatabaseURL = dsn
			} else {
				o.DataDir = b.TempDir()
			}
			q, err := Open(context.Background(), o)
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { _ = q.Close() })

			var seq atomic.Int64
			var mu sync.Mutex
			var lat []time.Duration
			b.SetParallelism(16) // 16 callers per GOMAXPROCS, like concurrent HTTP requests
			b.ResetTimer()
			startCommits := q.commits.Load()
			cpu0 := cpuTime()
			begin := time.Now()
			b.RunParallel(func(pb *testing.PB) {
				var local []time.Duration
				for pb.Next() {
					n := seq.Add(1)
					t0 := time.Now()
					if _, err := q.Enqueue(context.Background(), []Item{item(fmt.Sprint("bench-", n), "s1")}); err != nil {
						b.Error(err)
						return
					}
					local = append(local, time.Since(t0))
				}
				mu.Lock()
				lat = append(lat, local...)
				mu.Unlock()
			})
			elapsed := time.Since(begin)
			cpu := cpuTime() - cpu0
			b.StopTimer()
			if len(lat) == 0 {
				return
			}
			slices.Sort(lat)
			b.ReportMetric(float64(len(lat))/elapsed.Seconds(), "events/s")
			b.ReportMetric(float64(q.commits.Load()-startCommits)/elapsed.Seconds(), "tx/s")
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
			// Process CPU per event: what bounds intake on a machine of
			// few cores, and steadier than events/s when the machine is shared.
			b.ReportMetric(float64(cpu.Microseconds())/float64(len(lat)), "cpu-us/event")
		})
	}
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
