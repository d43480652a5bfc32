//go:build unix

package receivers

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func newTestRunbook(t *testing.T, mode, out, timeout string) *Runbook {
	t.Helper()
	script, err := filepath.Abs("testdata/runbook.sh")
	if err != nil {
		t.Fatal(err)
	}
	q := strconv.Quote
	y := "runbook:\n" +
		"  command: [sh, " + q(script) + ", " + q(mode) + "]\n" +
		"  dir: " + q(out) + "\n" +
		"  env: [" + q("OUT="+out) + ", " + q("RUNBOOK_CUSTOM=from-config") + ", " + q("PLUMB_RECEIVER=spoofed") + "]\n"
	if timeout != "" {
		y += "  timeout: " + timeout + "\n"
	}
	rb, err := NewRunbook("fixit", *receiverConfig(t, y, nil).Runbook)
	if err != nil {
		t.Fatal(err)
	}
	return rb
}

func readEnv(t *testing.T, path string) map[string]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	env := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), "="); ok {
			env[k] = v
		}
	}
	return env
}

func TestRunbookSuccess(t *testing.T) {
	t.Setenv("AWS_SECRET_ACCESS_KEY", "parent-secret")
	t.Setenv("PLUMB_TEST_PARENT_ONLY", "1")
	t.Setenv("LANG", "C.UTF-8")
	out := t.TempDir()
	n := loadNotification(t)
	if err := newTestRunbook(t, "ok", out, "").Deliver(context.Background(), n); err != nil {
		t.Fatalf("Deliver: %v", err)
	}

	b, err := os.ReadFile(filepath.Join(out, "stdin.json"))
	if err != nil {
		t.Fatal(err)
	}
	var got Notification
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatalf("stdin is not a Notification: %v\n%s", err, b)
	}
	if got.Receiver != n.Receiver || got.GroupKey != n.GroupKey || len(got.Findings) != 2 ||
		got.Findings[0].Fingerprint != n.Findings[0].Fingerprint || got.Findings[1].Status != "resolved" {
		t.Errorf("stdin notification = %+v", got)
	}
	var payload WebhookPayload
	_ = json.Unmarshal(b, &payload)
	if payload.Version != 1 || payload.DeliveryID != DeliveryID(n) {
		t.Errorf("version %d, delivery %q", payload.Version, payload.DeliveryID)
	}

	env := readEnv(t, filepath.Join(out, "env.txt"))
	for k, want := range map[string]string{
		"PLUMB_RECEIVER":    "fixit", // the config cannot override it
		"PLUMB_GROUP_KEY":   n.GroupKey,
		"PLUMB_DELIVERY":    DeliveryID(n),
		"PLUMB_DELIVERY_ID": DeliveryID(n),
		"RUNBOOK_CUSTOM":    "from-config",
		"LANG":              "C.UTF-8",
		"PATH":              os.Getenv("PATH"),
	} {
		if env[k] != want {
			t.Errorf("env %s = %q, want %q", k, env[k], want)
		}
	}
	for _, k := range []string{"AWS_SECRET_ACCESS_KEY", "PLUMB_TEST_PARENT_ONLY"} {
		if _, ok := env[k]; ok {
			t.Errorf("runbook inherited %s from plumb", k)
		}
	}
	allowed := map[string]bool{"PATH": true, "HOME": true, "LANG": true, "TZ": true, "TMPDIR": true, "OUT": true,
		"RUNBOOK_CUSTOM": true, "PLUMB_RECEIVER": true, "PLUMB_GROUP_KEY": true, "PLUMB_DELIVERY": true, "PLUMB_DELIVERY_ID": true,
		// set by the shell itself
		"PWD": true, "SHLVL": true, "_": true, "OLDPWD": true}
	for k := range env {
		if !allowed[k] {
			t.Errorf("unexpected variable in the runbook's environment: %s", k)
		}
	}
	if pwd, _ := os.ReadFile(filepath.Join(out, "pwd.txt")); strings.TrimSpace(string(pwd)) != out {
		t.Errorf("ran in %q, want %q", strings.TrimSpace(string(pwd)), out)
	}
}

func TestRunbookFailures(t *testing.T) {
	tests := []struct {
		name      string
		mode      string
		timeout   string
		permanent bool
		exitCode  int
		timedOut  bool
		wantOut   []string
		maxOut    int
	}{
		{name: "non-zero exit", mode: "fail", exitCode: 3, wantOut: []string{"looking at fixit", "boom: the thing is broken"}},
		{name: "timeout kills the process group", mode: "hang", timeout: "300ms", exitCode: -1, timedOut: true, wantOut: []string{"waiting"}},
		{name: "output is bounded", mode: "noisy", exitCode: 1, wantOut: []string{"[earlier output dropped]", "the very last line"}, maxOut: runbookOutputLimit + 64},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out := t.TempDir()
			start := time.Now()
			err := newTestRunbook(t, tc.mode, out, tc.timeout).Deliver(context.Background(), loadNotification(t))
			if took := time.Since(start); took > 10*time.Second {
				t.Errorf("Deliver took %s", took)
			}
			var re *RunbookError
			if !errors.As(err, &re) {
				t.Fatalf("err = %v (%T), want *RunbookError", err, err)
			}
			if IsPermanent(err) != tc.permanent {
				t.Errorf("IsPermanent = %v, want %v", IsPermanent(err), tc.permanent)
			}
			if re.ExitCode != tc.exitCode || re.TimedOut != tc.timedOut {
				t.Errorf("exit %d timedOut %v, want %d %v", re.ExitCode, re.TimedOut, tc.exitCode, tc.timedOut)
			}
			for _, w := range tc.wantOut {
				if !strings.Contains(re.Output, w) {
					t.Errorf("output lacks %q:\n%s", w, tail(re.Output))
				}
			}
			// The error message quotes the end of the output.
			if last := tc.wantOut[len(tc.wantOut)-1]; !strings.Contains(err.Error(), last) {
				t.Errorf("error lacks %q: %v", last, err)
			}
			if tc.maxOut > 0 && len(re.Output) > tc.maxOut {
				t.Errorf("kept %d bytes of output, limit %d", len(re.Output), tc.maxOut)
			}
			if len(err.Error()) > runbookErrorTail+200 {
				t.Errorf("error message is %d bytes", len(err.Error()))
			}
			if tc.timedOut {
				if !errors.Is(err, context.DeadlineExceeded) {
					t.Errorf("timeout error does not wrap DeadlineExceeded: %v", err)
				}
				assertChildGone(t, filepath.Join(out, "child.pid"))
			}
		})
	}
}

// assertChildGone checks that the runbook's background child died with
// it (a zombie waiting for a reaper counts as gone).
func assertChildGone(t *testing.T, pidFile string) {
	t.Helper()
	b, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatalf("child pid: %v", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		if syscall.Kill(pid, 0) != nil {
			return
		}
		if stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat"); err == nil {
			if f := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:])); len(f) > 0 && f[0] == "Z" {
				return
			}
		}
		if time.Now().After(deadline) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
			t.Fatalf("the runbook's child %d outlived the timeout", pid)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestRunbookCannotStart(t *testing.T) {
	tests := []struct {
		name string
		cfg  func(dir string) string
	}{
		{"missing program", func(string) string { return "runbook:\n  command: [plumb-no-such-program-xyz]\n" }},
		{"missing dir", func(dir string) string {
			return "runbook:\n  command: [sh, -c, 'true']\n  dir: " + strconv.Quote(filepath.Join(dir, "nope")) + "\n"
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rb, err := NewRunbook("fixit", *receiverConfig(t, tc.cfg(t.TempDir()), nil).Runbook)
			if err != nil {
				t.Fatal(err)
			}
			err = rb.Deliver(context.Background(), loadNotification(t))
			if !IsPermanent(err) {
				t.Errorf("err = %v, want permanent", err)
			}
		})
	}
}

func TestRunbookParentCancel(t *testing.T) {
	out := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	err := newTestRunbook(t, "hang", out, "1m").Deliver(ctx, loadNotification(t))
	var re *RunbookError
	if !errors.As(err, &re) || re.TimedOut || !errors.Is(err, context.DeadlineExceeded) || IsPermanent(err) {
		t.Errorf("err = %v, want a retryable cancellation that is not the runbook's timeout", err)
	}
	assertChildGone(t, filepath.Join(out, "child.pid"))
}

func TestTailBuffer(t *testing.T) {
	tests := []struct {
		name   string
		writes []string
		limit  int
		want   string
	}{
		{"fits", []string{"ab", "cd"}, 8, "abcd"},
		{"drops the oldest", []string{"abcd", "efgh"}, 6, "[earlier output dropped]\ncdefgh"},
		{"one huge write", []string{"abcdefghij"}, 4, "[earlier output dropped]\nghij"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := &tailBuffer{limit: tc.limit}
			for _, w := range tc.writes {
				if n, err := b.Write([]byte(w)); n != len(w) || err != nil {
					t.Fatalf("Write = %d, %v", n, err)
				}
			}
			if got := b.String(); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func tail(s string) string {
	if len(s) > 500 {
		return s[len(s)-500:]
	}
	return s
}
