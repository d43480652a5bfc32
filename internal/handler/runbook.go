package handler

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"time"

	"plumb/internal/model"
)

// Runbook limits.
const (
	// DefaultRunbookTimeout applies when Runbook.Timeout is zero, so a
	// hung script cannot hold a queue worker forever.
	DefaultRunbookTimeout = 5 * time.Minute
	// MaxRunbookOutput bounds the captured output (stdout and stderr
	// together); a chatty script must not grow plumb's memory or the
	// error stored with a failed job.
	MaxRunbookOutput = 64 << 10
	// runbookWaitDelay is how long Wait waits for the output pipes after
	// the process ended, in case a grandchild outside the process group
	// still holds them.
	runbookWaitDelay = 2 * time.Second
)

// Runbook runs an operator's command for an event: the event (model.Event
// as JSON, plus "delivery_id") on stdin, and PLUMB_EVENT_ID,
// PLUMB_EVENT_TYPE, PLUMB_SUBSCRIPTION, PLUMB_ATTEMPT and
// PLUMB_DELIVERY_ID in the environment. A non-zero exit or a timeout is an
// error, so the queue retries the runbook.
//
// Runbooks run at least once, not exactly once: a crash after the command
// finished but before the queue recorded it runs the command again. The
// delivery id (Delivery.ID) is the same on every run of one delivery, so
// a command that must act once can remember the ids it has handled.
//
// The command does not inherit plumb's whole environment, which may hold
// tokens for GitHub and the clouds; only PATH, HOME, LANG, TZ and TMPDIR
// are passed on, plus Env ("KEY=VALUE") for what the runbook needs.
// The command runs in its own process group, and a timeout kills the group,
// so a shell script's children do not outlive it.
type Runbook struct {
	Command []string
	Timeout time.Duration
	Dir     string
	Env     []string
	// OnResult, when set, receives every run's result (success or not),
	// for logging and metrics.
	OnResult func(d Delivery, res RunbookResult)
}

// RunbookResult is what one run produced.
type RunbookResult struct {
	ExitCode int
	Output   string
	Duration time.Duration
	// Truncated says Output was cut at MaxRunbookOutput.
	Truncated bool
}

// RunbookError is returned for a failed run and carries the result, so the
// queue's stored error and the logs show what the script printed.
type RunbookError struct {
	Result RunbookResult
	Err    error
}

// Error includes the output, which is what an operator needs to fix the
// script.
func (e *RunbookError) Error() string {
	return fmt.Sprintf("runbook: %v (exit %d after %s); output:\n%s", e.Err, e.Result.ExitCode, e.Result.Duration.Round(time.Millisecond), e.Result.Output)
}

// Unwrap exposes the cause (context.DeadlineExceeded on timeout).
func (e *RunbookError) Unwrap() error { return e.Err }

// Name identifies the handler in subscriptions and logs.
func (Runbook) Name() string { return "runbook" }

// Handle runs the command; runbooks produce no findings.
func (r Runbook) Handle(ctx context.Context, d Delivery) ([]model.Finding, error) {
	_, err := r.Run(ctx, d)
	return nil, err
}

// runbookInput is a runbook's stdin: the event's own fields, then
// delivery_id (Delivery.ID), so the document still decodes as a
// model.Event.
type runbookInput struct {
	model.Event
	DeliveryID string `json:"delivery_id"`
}

// inheritedEnv are the variables a runbook gets from plumb's environment.
var inheritedEnv = [...]string{"PATH", "HOME", "LANG", "TZ", "TMPDIR"}

// Run runs the command once and returns its result; see Runbook.
func (r Runbook) Run(ctx context.Context, d Delivery) (RunbookResult, error) {
	if len(r.Command) == 0 || r.Command[0] == "" {
		return RunbookResult{}, Permanent(errors.New("runbook: no command configured"))
	}
	input, err := json.Marshal(runbookInput{Event: d.Event, DeliveryID: d.ID()})
	if err != nil {
		return RunbookResult{}, Permanent(fmt.Errorf("runbook: encode event %s: %w", d.Event.ID, err))
	}
	timeout := r.Timeout
	if timeout <= 0 {
		timeout = DefaultRunbookTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	cmd := exec.CommandContext(ctx, r.Command[0], r.Command[1:]...)
	cmd.Dir = r.Dir
	cmd.Stdin = bytes.NewReader(input)
	out := &boundedBuffer{limit: MaxRunbookOutput}
	cmd.Stdout, cmd.Stderr = out, out
	killTreeOnCancel(cmd)
	cmd.WaitDelay = runbookWaitDelay
	env := make([]string, 0, len(inheritedEnv)+len(r.Env)+4)
	for _, k := range inheritedEnv {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	env = append(env, r.Env...)
	env = append(env,
		"PLUMB_EVENT_ID="+d.Event.ID,
		"PLUMB_EVENT_TYPE="+d.Event.Type,
		"PLUMB_SUBSCRIPTION="+d.Subscription,
		"PLUMB_ATTEMPT="+strconv.Itoa(d.Attempt),
		"PLUMB_DELIVERY_ID="+d.ID(),
	)
	cmd.Env = env

	start := time.Now()
	runErr := cmd.Run()
	res := RunbookResult{Duration: time.Since(start), ExitCode: -1}
	if cmd.ProcessState != nil {
		res.ExitCode = cmd.ProcessState.ExitCode()
	}
	res.Output, res.Truncated = out.contents()
	if r.OnResult != nil {
		r.OnResult(d, res)
	}
	switch {
	case runErr == nil:
		return res, nil
	case errors.Is(runErr, exec.ErrNotFound):
		return res, Permanent(&RunbookError{Result: res, Err: runErr})
	case ctx.Err() != nil:
		return res, &RunbookError{Result: res, Err: fmt.Errorf("%s: %w", describeCtx(ctx, timeout), ctx.Err())}
	default:
		return res, &RunbookError{Result: res, Err: runErr}
	}
}

func describeCtx(ctx context.Context, timeout time.Duration) string {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return "timed out after " + timeout.String()
	}
	return "cancelled"
}

// boundedBuffer keeps the first limit bytes written and counts the rest.
// exec may write stdout and stderr from two goroutines, hence the lock.
type boundedBuffer struct {
	mu        sync.Mutex
	buf       bytes.Buffer
	limit     int
	truncated bool
}

// Write never fails, so a chatty process is not killed by SIGPIPE.
func (b *boundedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if room := b.limit - b.buf.Len(); room > 0 {
		if len(p) > room {
			b.buf.Write(p[:room])
			b.truncated = true
		} else {
			b.buf.Write(p)
		}
	} else if len(p) > 0 {
		b.truncated = true
	}
	return len(p), nil
}

func (b *boundedBuffer) contents() (string, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := b.buf.String()
	if b.truncated {
		s += "\n[output truncated at " + strconv.Itoa(b.limit) + " bytes]"
	}
	return s, b.truncated
}
