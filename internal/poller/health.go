package poller

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/url"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/aws/smithy-go"
)

// Health states. A poller is "unknown" until its first call to the cloud
// queue has finished: it has not seen the queue yet, and saying "ok" (or
// "failing") before then would be a guess.
const (
	StateUnknown = "unknown"
	StateOK      = "ok"
	StateFailing = "failing"
)

// Health is what a poller knows about reaching its cloud queue, for
// /readyz and the plumb_source_* metrics. It changes only when a call to
// the queue finishes, so it is never fresher than the last poll.
type Health struct {
	// State is StateUnknown, StateOK or StateFailing.
	State string
	// Error is the cause of the current failure in words ("cannot reach
	// http://127.0.0.1:4566: connection refused"); empty unless failing.
	Error string
	// Since is when the current state began: the first failure of the
	// current run of failures, or the first success after one.
	Since time.Time
	// Failures counts failed polls since the last success.
	Failures int
	// LastSuccess is when a call to the queue last succeeded; zero if
	// none has yet.
	LastSuccess time.Time
	// NextAttempt is when a failing poller tries again; zero otherwise.
	NextAttempt time.Time
	// Errors counts every failed call to the queue (polls and deletes)
	// since the start, for plumb_source_errors_total.
	Errors int64
}

// health is the lock-protected Health of one poller, written by Run and
// read by /readyz and /metrics.
type health struct {
	mu sync.Mutex
	h  Health
}

func newHealth() *health { return &health{h: Health{State: StateUnknown}} }

func (s *health) snapshot() Health {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.h
}

// failed records a failed poll and reports whether it is news: the first
// failure after a success (or after the start), or a different cause than
// the last one. Only news is logged above debug level, so an unreachable
// queue is one log line, not one per poll.
func (s *health) failed(now time.Time, cause string) (news bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	news = s.h.State != StateFailing || s.h.Error != cause
	if s.h.State != StateFailing {
		s.h.Since = now
	}
	s.h.State, s.h.Error = StateFailing, cause
	s.h.Failures++
	s.h.Errors++
	return news
}

// failedCall counts a failed call that is not a poll (a delete): it is an
// error of the source but does not decide its state, which follows polls.
func (s *health) failedCall() {
	s.mu.Lock()
	s.h.Errors++
	s.mu.Unlock()
}

// succeeded records a successful poll. recovered is true on the first
// success after failures, with how many there were and for how long.
func (s *health) succeeded(now time.Time) (recovered bool, failures int, down time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.h.State == StateFailing {
		recovered, failures, down = true, s.h.Failures, now.Sub(s.h.Since)
	}
	if s.h.State != StateOK {
		s.h.Since = now
	}
	s.h.State, s.h.Error, s.h.Failures = StateOK, "", 0
	s.h.LastSuccess, s.h.NextAttempt = now, time.Time{}
	return recovered, failures, down
}

func (s *health) retryAt(t time.Time) {
	s.mu.Lock()
	s.h.NextAttempt = t
	s.mu.Unlock()
}

// errorBackoff is the wait after consecutive failed polls: exponential
// from minPollingInterval up to a cap, with "equal jitter" (a random point
// in the upper half of the step). Jitter keeps replicas that lost the
// same peer from polling it in lockstep when it returns; taking it from
// the upper half keeps every wait at least as long as the one before, so
// the back-off never shortens while the peer stays down.
type errorBackoff struct {
	cap  time.Duration
	step time.Duration
	// rand returns a value in [0, n); tests make it deterministic.
	rand func(n int64) int64
}

func newErrorBackoff(limit time.Duration) *errorBackoff {
	if limit <= 0 {
		limit = maxErrorBackoff
	}
	return &errorBackoff{cap: limit, rand: rand.Int64N}
}

// next returns the wait before the next attempt and advances the step.
func (b *errorBackoff) next() time.Duration {
	b.step = nextPollInterval(b.step, b.cap)
	half := b.step / 2
	if half <= 0 {
		return b.step
	}
	return b.step - half + time.Duration(b.rand(int64(half)+1))
}

func (b *errorBackoff) reset() { b.step = 0 }

// pollFailed is the shared failure path of both pollers: it records the
// cause, logs it once (repeats go to debug), and sleeps the back-off. It
// reports whether Run should go on.
func pollFailed(ctx context.Context, log *slog.Logger, h *health, b *errorBackoff, onBackoff func(time.Duration), what string, err error, cause string) bool {
	now := time.Now()
	wait := b.next()
	news := h.failed(now, cause)
	h.retryAt(now.Add(wait))
	level := slog.LevelDebug
	if news {
		level = slog.LevelWarn
	}
	log.Log(ctx, level, what+" failed; backing off, next report when it recovers",
		"cause", cause, "retry_in", wait.Round(time.Millisecond), "detail", err)
	if onBackoff != nil {
		onBackoff(wait)
	}
	return sleep(ctx, wait)
}

// pollSucceeded is the shared success path: it records the success and,
// after failures, logs the recovery once.
func pollSucceeded(ctx context.Context, log *slog.Logger, h *health, b *errorBackoff) {
	b.reset()
	if recovered, n, down := h.succeeded(time.Now()); recovered {
		log.Log(ctx, slog.LevelInfo, "queue reachable again", "failed_polls", n, "down_for", down.Round(time.Millisecond))
	}
}

// describe turns an error from a cloud SDK into one line an operator can
// act on, without the SDK's retry and request-id noise, so that repeated
// failures read the same and the cause shows in /readyz. service names the
// peer ("SQS", "storage queue").
// endpoint (scheme://host) is where the poller sends its calls, named
// when the error itself does not say; timeout is the per-call limit, named
// when a call ran into it.
func describe(service, endpoint string, timeout time.Duration, err error) string {
	var (
		apiErr  smithy.APIError
		azErr   *azcore.ResponseError
		urlErr  *url.Error
		dnsErr  *net.DNSError
		opErr   *net.OpError
		netErr  net.Error
		expired = errors.Is(err, context.DeadlineExceeded)
	)
	where := service
	if endpoint != "" {
		where = service + " at " + endpoint
	}
	if errors.As(err, &urlErr) {
		if u, perr := url.Parse(urlErr.URL); perr == nil && u.Host != "" {
			where = fmt.Sprintf("%s at %s://%s", service, u.Scheme, u.Host)
		}
	}
	switch {
	case isCredentialsError(err):
		// Before the network cases: the SDK's credential chain fails
		// with the connection errors of the metadata endpoints it tried.
		return fmt.Sprintf("no usable credentials for %s: %v", service, innermost(err))
	case errors.As(err, &azErr):
		if azErr.StatusCode == 401 || azErr.StatusCode == 403 {
			return fmt.Sprintf("%s refused the credentials: %s (HTTP %d)", service, orStatus(azErr.ErrorCode, azErr.StatusCode), azErr.StatusCode)
		}
		return fmt.Sprintf("%s refused the request: %s (HTTP %d)", service, orStatus(azErr.ErrorCode, azErr.StatusCode), azErr.StatusCode)
	case errors.As(err, &apiErr):
		if credentialCodes[apiErr.ErrorCode()] {
			return fmt.Sprintf("%s refused the credentials: %s: %s", service, apiErr.ErrorCode(), apiErr.ErrorMessage())
		}
		return fmt.Sprintf("%s refused the request: %s: %s", service, apiErr.ErrorCode(), apiErr.ErrorMessage())
	case errors.As(err, &dnsErr):
		return fmt.Sprintf("cannot reach %s: cannot resolve %s", where, dnsErr.Name)
	case errors.Is(err, syscall.ECONNREFUSED):
		return fmt.Sprintf("cannot reach %s: connection refused", where)
	case errors.Is(err, syscall.ECONNRESET):
		return fmt.Sprintf("cannot reach %s: connection reset", where)
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		return fmt.Sprintf("cannot reach %s: no route to host", where)
	case expired, errors.As(err, &netErr) && netErr.Timeout():
		return fmt.Sprintf("no answer from %s within %s", where, timeout)
	case errors.As(err, &opErr):
		return fmt.Sprintf("cannot reach %s: %v", where, opErr.Err)
	}
	return fmt.Sprintf("%s: %v", service, innermost(err))
}

// credentialCodes are the AWS error codes of a request signed with
// credentials the service does not accept.
var credentialCodes = map[string]bool{
	"InvalidClientTokenId":        true,
	"UnrecognizedClientException": true,
	"SignatureDoesNotMatch":       true,
	"ExpiredToken":                true,
	"ExpiredTokenException":       true,
	"InvalidAccessKeyId":          true,
	"AccessDenied":                true,
	"AccessDeniedException":       true,
	"AuthFailure":                 true,
	"InvalidSecurity":             true,
}

// endpointOf reduces a URL to scheme://host, the part that tells which
// peer could not be reached.
func endpointOf(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return ""
	}
	return u.Scheme + "://" + u.Host
}

func orStatus(code string, status int) string {
	if code != "" {
		return code
	}
	return fmt.Sprintf("status %d", status)
}

// isCredentialsError recognises the AWS SDK's failure to find or refresh
// credentials, which has no exported type of its own.
func isCredentialsError(err error) bool {
	msg := err.Error()
	for _, sub := range []string{"failed to retrieve credentials", "failed to refresh cached credentials", "no EC2 IMDS role found"} {
		if strings.Contains(msg, sub) {
			return true
		}
	}
	return false
}

// innermost is the last error of a wrap chain: the SDKs put the cause
// there and the operation, attempt count and request id around it.
func innermost(err error) error {
	for {
		next := errors.Unwrap(err)
		if next == nil {
			return err
		}
		err = next
	}
}
