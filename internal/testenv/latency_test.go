package testenv

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestLatencyProxy: requests reach the target unchanged (path, query,
// method, body) and each waits at least the minimum delay and not much
// more than the maximum.
func TestLatencyProxy(t *testing.T) {
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		_, _ = io.WriteString(w, r.Method+" "+r.URL.RequestURI()+" "+string(b))
	}))
	defer target.Close()
	tests := []struct {
		name     string
		min, max time.Duration
	}{
		{"fixed", 50 * time.Millisecond, 50 * time.Millisecond},
		{"jitter", 30 * time.Millisecond, 80 * time.Millisecond},
		{"none", 0, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := StartLatencyProxy(target.URL, tc.min, tc.max)
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			for i := 0; i < 5; i++ {
				start := time.Now()
				resp, err := http.Post(p.URL+"/a/b?Action=List&x=1", "text/plain", strings.NewReader("payload"))
				if err != nil {
					t.Fatal(err)
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				took := time.Since(start)
				if got, want := string(b), "POST /a/b?Action=List&x=1 payload"; got != want {
					t.Errorf("target saw %q, want %q", got, want)
				}
				// Generous upper bound: the machine may be busy.
				if took < tc.min || took > tc.max+2*time.Second {
					t.Errorf("request took %s, want %s..%s", took, tc.min, tc.max)
				}
			}
			if n := p.Requests.Load(); n != 5 {
				t.Errorf("proxy counted %d requests, want 5", n)
			}
			calls := p.Calls()
			if len(calls) != 5 || calls[0].Operation != "List" || calls[0].Took < tc.min {
				t.Errorf("calls %+v, want 5 of operation List taking at least %s", calls, tc.min)
			}
		})
	}
	if _, err := StartLatencyProxy(target.URL, 80*time.Millisecond, 30*time.Millisecond); err == nil {
		t.Error("an inverted delay range was accepted")
	}
}
