package progress

import (
	"bytes"
	"fmt"
	"io"
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
	r := New(&buf, false, time.Hour, time.Hour, "scan")
	r.Planned([]string{"ec2/us-east-1", "s3/global", "iam/global"})
	for _, u := range []string{"ec2/us-east-1", "s3/global", "iam/global"} {
		r.Attempt(u, "List", 1, "")
		r.Finished(u)
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
		{"plain", false, "scan: 1/4 services and regions done; waiting: ec2/us-east-1 (DescribeInstances, retry 2: connection refused)"},
		{"tty", true, "\r\033[Kscan: 1/4 services and regions done; waiting: ec2/us-east-1 (DescribeInstances, retry 2: connection refused)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var buf syncBuf
			r := New(&buf, tc.tty, 0, time.Hour, "scan")
			r.Planned([]string{"ec2/us-east-1", "s3/global", "iam/global", "sqs/us-east-1"})
			r.Attempt("ec2/us-east-1", "DescribeInstances", 3, "connection refused")
			r.Attempt("s3/global", "ListBuckets", 1, "")
			r.Finished("s3/global")
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

// TestHeartbeatNamesWaitingUnits: with nothing finishing, a non-terminal
// writer still gets a line per heartbeat naming what each running unit
// waits on, so a stuck scan is never silent.
func TestHeartbeatNamesWaitingUnits(t *testing.T) {
	var buf syncBuf
	r := New(&buf, false, 20*time.Millisecond, 30*time.Millisecond, "scan")
	r.Planned([]string{"ec2/us-east-1", "iam/global"})
	r.Attempt("ec2/us-east-1", "DescribeInstances", 2, "connection refused")
	r.Attempt("iam/global", "GetAccountAuthorizationDetails", 1, "")
	deadline := time.Now().Add(5 * time.Second)
	for strings.Count(buf.String(), "\n") < 2 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	r.Stop()
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) < 2 {
		t.Fatalf("got %q, want at least two heartbeat lines", buf.String())
	}
	want := "scan: 0/2 services and regions done; waiting: ec2/us-east-1 (DescribeInstances, retry 1: connection refused), iam/global (GetAccountAuthorizationDetails); "
	for _, l := range lines {
		if !strings.HasPrefix(l, want) {
			t.Errorf("line %q, want prefix %q", l, want)
		}
	}
}

// TestWaitingListIsCapped keeps a line readable with many units waiting.
func TestWaitingListIsCapped(t *testing.T) {
	r := New(io.Discard, false, time.Hour, time.Hour, "scan")
	defer r.Stop()
	var units []string
	for i := range 7 {
		units = append(units, fmt.Sprintf("svc%d/us-east-1", i))
	}
	r.Planned(units)
	for _, u := range units {
		r.Attempt(u, "List", 1, "")
	}
	got := r.Line()
	if !strings.HasSuffix(got, "svc3/us-east-1 (List), 3 more") || strings.Contains(got, "svc4") {
		t.Errorf("line = %q", got)
	}
}
