package receivers

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"

	"plumb/internal/config"
)

// runbookOutputLimit bounds the output kept from a runbook: enough to
// diagnose a failure, never a memory problem when a script loops.
const runbookOutputLimit = 64 << 10

// runbookErrorTail is how much of the kept output an error message
// quotes; the full tail is in RunbookError.Output.
const runbookErrorTail = 2 << 10

const defaultRunbookTimeout = 5 * time.Minute

// Runbook runs a command for each notification, with the notification on
// stdin as the webhook's JSON document (WebhookPayload, so it decodes
// into Notification), for responses plumb has no receiver for.
//
// The command runs with:
//
//	stdin              the JSON document
//	PLUMB_RECEIVER     the receiver name
//	PLUMB_GROUP_KEY    the notification's group key
//	PLUMB_DELIVERY_ID  the delivery id (DeliveryID), the same on retries;
//	                   also "delivery_id" in the JSON
//	PLUMB_DELIVERY     the same id, under its first name
//	PATH HOME LANG TZ TMPDIR from plumb, then the config's env
//
// in its own process group, which is killed as a whole when the timeout
// expires. Exit status 0 is success; anything else is retried by the
// queue. The queue may run the command again for a notification it
// already ran (a crash after the command finished), so the command must
// be idempotent; PLUMB_DELIVERY_ID lets it remember what it has done.
type Runbook struct {
	name    string
	command []string
	timeout time.Duration
	dir     string
	env     []string
}

// NewRunbook builds a runbook receiver.
func NewRunbook(name string, cfg config.RunbookReceiverConfig) (*Runbook, error) {
	if len(cfg.Command) == 0 || cfg.Command[0] == "" {
		return nil, fmt.Errorf("runbook receiver %s: command is required", name)
	}
	for _, e := range cfg.Env {
		if k, _, ok := strings.Cut(e, "="); !ok || k == "" {
			return nil, fmt.Errorf("runbook receiver %s: env entry %q: want NAME=VALUE", name, envName(e))
		}
	}
	timeout := cfg.Timeout
	if timeout <= 0 {
		timeout = defaultRunbookTimeout
	}
	return &Runbook{
		name:    name,
		command: append([]string(nil), cfg.Command...),
		timeout: timeout,
		dir:     cfg.Dir,
		env:     append([]string(nil), cfg.Env...),
	}, nil
}

// envName is the part of an env entry safe to quote: its name, never a
// value that may be a secret.
func envName(e string) string {
	k, _, _ := strings.Cut(e, "=")
	return k
}

// Name is the configured receiver name.
func (r *Runbook) Name() string { return r.name }

// RunbookError is a run that did not succeed: it keeps the exit code
// and the last 64 KiB of combined stdout and stderr, for the dead-letter
// record and for an operator.
type RunbookError struct {
	Receiver string
	// ExitCode is the exit status, -1 when the process was killed.
	ExitCode int
	// TimedOut reports that the timeout killed the process group.
	TimedOut bool
	// Output is the tail of stdout and stderr, interleaved as written.
	Output string
	Err    error
}

func (e *RunbookError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "runbook %s: ", e.Receiver)
	if e.TimedOut {
		b.WriteString("timed out and was killed")
	} else {
		fmt.Fprintf(&b, "exit status %d", e.ExitCode)
	}
	if out := strings.TrimSpace(e.Output); out != "" {
		if len(out) > runbookErrorTail {
			out = "…" + out[len(out)-runbookErrorTail:]
		}
		b.WriteString("; output:\n")
		b.WriteString(out)
	}
	return b.String()
}

func (e *RunbookError) Unwrap() error { return e.Err }

// Deliver runs the command once. A command that cannot be started (not
// found, not executable, a missing directory) is a configuration error
// and permanent; a non-zero exit or a timeout is retried.
func (r *Runbook) Deliver(ctx context.Context, n Notification) error {
	p := NewWebhookPayload(n)
	input, err := json.Marshal(p)
	if err != nil {
		return Permanent(fmt.Errorf("runbook %s: encode notification: %w", r.name, err))
	}
	runCtx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()

	cmd := exec.CommandContext(runCtx, r.command[0], r.command[1:]...)
	cmd.Dir = r.dir
	cmd.Env = r.environ(n, p.DeliveryID)
	cmd.Stdin = bytes.NewReader(input)
	out := &tailBuffer{limit: runbookOutputLimit}
	cmd.Stdout, cmd.Stderr = out, out
	setProcessGroup(cmd)
	// A child that keeps stdout open after the process group was killed
	// (it escaped the group) must not hang Deliver.
	cmd.WaitDelay = 5 * time.Second

	if err := cmd.Start(); err != nil {
		return Permanent(fmt.Errorf("runbook %s: start %s: %w", r.name, r.command[0], err))
	}
	err = cmd.Wait()
	if err == nil {
		return nil
	}
	re := &RunbookError{Receiver: r.name, ExitCode: -1, Output: out.String(), Err: err}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		re.ExitCode = ee.ExitCode()
	}
	if runCtx.Err() != nil && ctx.Err() == nil {
		re.TimedOut = true
		re.Err = fmt.Errorf("after %s: %w", r.timeout, context.DeadlineExceeded)
	} else if ctx.Err() != nil {
		re.Err = ctx.Err()
	}
	return re
}

// environ is the command's whole environment; later entries win, so the
// PLUMB_ variables cannot be overridden by the config. Only PATH, HOME,
// LANG, TZ and TMPDIR come from plumb's environment, what a shell needs to
// find programs and format text: everything else (cloud credentials,
// tokens, plumb's own secrets) stays out, and the config's env adds what
// the command needs explicitly.
func (r *Runbook) environ(n Notification, delivery string) []string {
	var env []string
	for _, k := range []string{"PATH", "HOME", "LANG", "TZ", "TMPDIR"} {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	if _, ok := os.LookupEnv("PATH"); !ok {
		env = append(env, "PATH=/usr/local/bin:/usr/bin:/bin")
	}
	env = append(env, r.env...)
	env = append(env,
		"PLUMB_RECEIVER="+r.name,
		"PLUMB_GROUP_KEY="+n.GroupKey,
		"PLUMB_DELIVERY_ID="+delivery,
		"PLUMB_DELIVERY="+delivery,
	)
	return dedupEnv(env)
}

// dedupEnv keeps the last value of each name, in first-seen order, so the
// child never sees two values for one variable.
func dedupEnv(env []string) []string {
	idx := map[string]int{}
	var out []string
	for _, e := range env {
		k := envName(e)
		if i, ok := idx[k]; ok {
			out[i] = e
			continue
		}
		idx[k] = len(out)
		out = append(out, e)
	}
	return out
}

// tailBuffer keeps the last limit bytes written to it. Stdout and stderr
// share one, so writes are serialised.
type tailBuffer struct {
	mu      sync.Mutex
	limit   int
	buf     []byte
	dropped bool
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := len(p)
	if len(p) >= t.limit {
		t.buf = append(t.buf[:0], p[len(p)-t.limit:]...)
		t.dropped = true
		return n, nil
	}
	if over := len(t.buf) + len(p) - t.limit; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
		t.dropped = true
	}
	t.buf = append(t.buf, p...)
	return n, nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := strings.ToValidUTF8(string(t.buf), "?")
	if t.dropped {
		s = "[earlier output dropped]\n" + s
	}
	return s
}
