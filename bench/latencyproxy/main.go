// Command latencyproxy puts a delay in front of an HTTP endpoint (moto,
// for example), so a local benchmark sees API calls answered with a real
// cloud's latency:
//
//	go run ./bench/latencyproxy -target http://127.0.0.1:5000 -delay 50ms
//	go run ./bench/latencyproxy -target http://127.0.0.1:5000 -delay 30ms-80ms
//
// It prints its address and, on Ctrl-C, how many requests it forwarded.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"plumb/internal/testenv"
)

func main() {
	target := flag.String("target", "", "endpoint to forward to (http://host:port)")
	delay := flag.String("delay", "50ms", "delay per request: D, or MIN-MAX for a uniform draw")
	flag.Parse()
	if *target == "" {
		fmt.Fprintln(os.Stderr, "latencyproxy: -target is required")
		os.Exit(2)
	}
	lo, hi, ranged := strings.Cut(*delay, "-")
	min, err := time.ParseDuration(lo)
	max := min
	if err == nil && ranged {
		max, err = time.ParseDuration(hi)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "latencyproxy: -delay %q: %v\n", *delay, err)
		os.Exit(2)
	}
	p, err := testenv.StartLatencyProxy(*target, min, max)
	if err != nil {
		fmt.Fprintln(os.Stderr, "latencyproxy:", err)
		os.Exit(1)
	}
	fmt.Printf("forwarding %s -> %s with %s per request\n", p.URL, *target, *delay)
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	<-sig
	_ = p.Close()
	fmt.Printf("%d requests forwarded\n", p.Requests.Load())
}
