package progress

import (
	"bytes"
	"strings"
	"sync"
	"testing"
	"time"
)

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestSilentWhenFast(t *testing.T) {
	var buf syncBuf
	r := New(&buf, false, time.Hour, "scan")
	r.SetTotal(3)
	for i := 1; i <= 3; i++ {
		r.Update(i, 3, "ec2/us-east-1")
	}
	r.Stop()
	if buf.String() != "" {
		t.Fatalf("fast scan printed %q", buf.String())
	}
}

func TestPrintsAfterDelay(t *testing.T) {
	tests := []struct {
		name string
		tty  bool
		want string
	}{
		{"plain", false, "scan: 1/4 services and regions done (last: s3/global)"},
		{"tty", true, "\r\033[Kscan: 1/4 services and regions done (last: s3/global)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var buf syncBuf
			r := New(&buf, tc.tty, 0, "scan")
			r.SetTotal(4)
			r.Update(1, 4, "s3/global")
			r.Stop()
			if !strings.HasPrefix(buf.String(), tc.want) {
				t.Fatalf("got %q, want prefix %q", buf.String(), tc.want)
			}
			if tc.tty && !strings.HasSuffix(buf.String(), "\r\033[K") {
				t.Errorf("tty output not cleared at stop: %q", buf.String())
			}
		})
	}
}

func TestTimerDrawsWithoutUpdates(t *testing.T) {
	var buf syncBuf
	r := New(&buf, false, 20*time.Millisecond, "scan")
	r.SetTotal(5)
	deadline := time.Now().Add(2 * time.Second)
	for buf.String() == "" && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	r.Stop()
	if !strings.Contains(buf.String(), "0/5") {
		t.Fatalf("got %q, want a 0/5 line from the timer", buf.String())
	}
}
