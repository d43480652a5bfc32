package testenv

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sync"
	"testing"
)

// ClosedPort returns an http:// URL on 127.0.0.1 where nothing listens:
// connecting is refused at once, as for a wrong AWS_ENDPOINT_URL.
func ClosedPort(t testing.TB) string {
	t.Helper()
	return fmt.Sprintf("http://127.0.0.1:%d", FreePort(t))
}

// BlackHole returns an http:// URL on 127.0.0.1 whose listener accepts
// connections and never answers, like an endpoint behind a firewall that
// swallows traffic. Connections are closed when the test ends.
func BlackHole(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu    sync.Mutex
		conns []net.Conn
	)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return "http://" + l.Addr().String()
}

// HangProxy puts a reverse proxy in front of moto that never answers the
// requests of the services hang picks (read, like FaultProxy, from the
// SigV4 credential scope) and forwards every other request. It stands for
// an AWS service that stopped answering in the middle of a scan.
func HangProxy(t testing.TB, target string, hang func(service string) bool) string {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(u)
	stop := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		service := ""
		if m := credentialScope.FindStringSubmatch(r.Header.Get("Authorization")); m != nil {
			service = m[1]
		}
		if hang(service) {
			select {
			case <-r.Context().Done():
			case <-stop:
			}
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	// Runs before srv.Close (cleanups run last-in first-out), so the
	// hanging handlers return and Close does not wait for them.
	t.Cleanup(func() { close(stop) })
	return srv.URL
}
