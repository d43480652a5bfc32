package testenv

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// LatencyProxy is a reverse proxy that holds every request for a delay
// before forwarding it, so a local moto answers with the latency of a
// real cloud API (AWS APIs answer in about 30 to 80 ms). Benchmarks put it
// in front of moto to see how a tool's call count and concurrency behave
// when calls are no longer nearly free.
type LatencyProxy struct {
	// URL is the proxy's endpoint (http://127.0.0.1:PORT).
	URL string
	// Requests counts requests forwarded, for calls-per-resource figures.
	Requests atomic.Int64
	min, max time.Duration
	srv      *http.Server
	started  time.Time

	mu    sync.Mutex
	calls []Call
}

// Call is one request the proxy forwarded, for a timeline of a run.
type Call struct {
	// Start is when the request arrived, from the proxy's start.
	Start, Took time.Duration
	// Service is from the request's signature scope (sqs, iam, ...);
	// Operation from X-Amz-Target, the Action parameter, or the method
	// and path for REST APIs.
	Service, Operation string
}

// Calls returns the requests forwarded so far, in arrival order, and
// forgets them.
func (p *LatencyProxy) Calls() []Call {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := p.calls
	p.calls = nil
	return out
}

// StartLatencyProxy forwards to target after a delay drawn uniformly from
// [min, max] for each request (min == max is a fixed delay). Stop it with
// Close.
func StartLatencyProxy(target string, min, max time.Duration) (*LatencyProxy, error) {
	if min < 0 || max < min {
		return nil, fmt.Errorf("latency proxy: delay range %s..%s is not valid", min, max)
	}
	u, err := url.Parse(target)
	if err != nil {
		return nil, fmt.Errorf("latency proxy: target %q: %w", target, err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("latency proxy: %w", err)
	}
	p := &LatencyProxy{URL: "http://" + ln.Addr().String(), min: min, max: max, started: time.Now()}
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.Transport = &http.Transport{
		// As many connections to the target as clients hold open to us:
		// the delay must not turn into queueing at the proxy.
		MaxIdleConnsPerHost: 1024,
		IdleConnTimeout:     90 * time.Second,
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
	}
	rp.ErrorLog = nil
	p.srv = &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			arrived := time.Now()
			svc, op := describe(r)
			d := p.delay()
			if d > 0 {
				t := time.NewTimer(d)
				select {
				case <-t.C:
				case <-r.Context().Done():
					t.Stop()
					return
				}
			}
			p.Requests.Add(1)
			rp.ServeHTTP(w, r)
			p.mu.Lock()
			p.calls = append(p.calls, Call{Start: arrived.Sub(p.started), Took: time.Since(arrived), Service: svc, Operation: op})
			p.mu.Unlock()
		}),
		ReadHeaderTimeout: 10 * time.Second,
	}
	go func() { _ = p.srv.Serve(ln) }()
	return p, nil
}

// describe names the service and operation of an AWS API request.
func describe(r *http.Request) (service, op string) {
	if _, scope, ok := strings.Cut(r.Header.Get("Authorization"), "Credential="); ok {
		// Credential=KEY/DATE/REGION/SERVICE/aws4_request
		if parts := strings.Split(strings.SplitN(scope, ",", 2)[0], "/"); len(parts) >= 4 {
			service = parts[3]
		}
	}
	switch {
	case r.Header.Get("X-Amz-Target") != "":
		op = r.Header.Get("X-Amz-Target")
		if _, after, ok := strings.Cut(op, "."); ok {
			op = after
		}
	case r.URL.Query().Get("Action") != "":
		op = r.URL.Query().Get("Action")
	case r.Method == http.MethodPost && strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded"):
		body, err := io.ReadAll(r.Body)
		if err == nil {
			r.Body = io.NopCloser(bytes.NewReader(body))
			r.ContentLength = int64(len(body))
			if v, err := url.ParseQuery(string(body)); err == nil {
				op = v.Get("Action")
			}
		}
	}
	if op == "" {
		op = r.Method + " " + r.URL.Path
	}
	return service, op
}

func (p *LatencyProxy) delay() time.Duration {
	if p.max == p.min {
		return p.min
	}
	return p.min + time.Duration(rand.Int64N(int64(p.max-p.min)+1))
}

// Close stops the proxy.
func (p *LatencyProxy) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := p.srv.Shutdown(ctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("latency proxy: %w", err)
	}
	return nil
}
