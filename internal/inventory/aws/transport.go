package aws

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"
)

// Defaults for talking to AWS. Throttling is waited out patiently (the
// adaptive retry mode's 8 attempts and 20 s backoff: AWS asked us to slow
// down and will answer). A connection that fails is a different matter:
// retrying it for minutes only hides a wrong endpoint, a proxy or a
// firewall from the person waiting, so transport errors get a few quick
// retries and then fail their scope.
const (
	defaultMaxAttempts = 8
	throttleMaxBackoff = 20 * time.Second
	// defaultTransportAttempts bounds the attempts of one call whose
	// failures are transport errors (refused, reset, no answer).
	defaultTransportAttempts = 3
	transportBackoffBase     = 200 * time.Millisecond
	transportBackoffMax      = time.Second
	// defaultConnectTimeout bounds opening a TCP connection: a black-holed
	// address fails in seconds rather than at the OS's connect timeout.
	defaultConnectTimeout = 5 * time.Second
	// defaultAttemptTimeout bounds one HTTP request, answer included. A
	// page of the largest Describe call arrives in a few seconds.
	defaultAttemptTimeout = time.Minute
	// defaultOperationTimeout bounds one API call with all its retries,
	// throttling waits included.
	defaultOperationTimeout = 5 * time.Minute
	// defaultIdentityTimeout bounds the identity check that gates a scan.
	defaultIdentityTimeout = 20 * time.Second
)

// transportBackoff is the wait before retrying a call whose last attempt
// failed on the wire: 200 ms, 400 ms, 800 ms, then 1 s.
func transportBackoff(attempt int) time.Duration {
	d := transportBackoffBase
	for i := 1; i < attempt && d < transportBackoffMax; i++ {
		d *= 2
	}
	return min(d, transportBackoffMax)
}

// failFastRetryer is the adaptive retryer (client-side rate limiting and
// exponential backoff for throttling) with a short backoff for transport
// errors, and which never retries an error the attempt middleware marked
// as out of transport attempts.
type failFastRetryer struct {
	*retry.AdaptiveMode
}

// IsErrorRetryable implements aws.Retryer.
func (r failFastRetryer) IsErrorRetryable(err error) bool {
	var g *gaveUpError
	if errors.As(err, &g) {
		return false
	}
	return r.AdaptiveMode.IsErrorRetryable(err)
}

// RetryDelay implements aws.Retryer.
func (r failFastRetryer) RetryDelay(attempt int, err error) (time.Duration, error) {
	if isTransport(err) {
		return transportBackoff(attempt), nil
	}
	return r.AdaptiveMode.RetryDelay(attempt, err)
}

// newRetryer builds the retryer every scanner client uses.
func newRetryer(maxAttempts int) aws.Retryer {
	return failFastRetryer{retry.NewAdaptiveMode(func(o *retry.AdaptiveModeOptions) {
		o.StandardOptions = append(o.StandardOptions, func(so *retry.StandardOptions) {
			so.MaxAttempts = maxAttempts
			so.MaxBackoff = throttleMaxBackoff
		})
	})}
}

// newHTTPClient bounds connecting and each request.
func newHTTPClient(connect, attempt time.Duration) *awshttp.BuildableClient {
	return awshttp.NewBuildableClient().
		WithTimeout(attempt).
		WithDialerOptions(func(d *net.Dialer) { d.Timeout = connect })
}

// gaveUpError ends the retries of a call after its transport attempts.
type gaveUpError struct {
	attempts int
	err      error
}

func (e *gaveUpError) Error() string {
	return fmt.Sprintf("%v (after %d attempts)", e.err, e.attempts)
}

func (e *gaveUpError) Unwrap() error { return e.err }

// isTransport reports whether an attempt failed before AWS answered:
// connection refused or reset, a dial or read timeout, a DNS failure. An
// HTTP answer, however bad, is not a transport error.
func isTransport(err error) bool {
	if err == nil {
		return false
	}
	// The SDK wraps send failures in a ResponseError too, with status 0.
	var resp *awshttp.ResponseError
	if errors.As(err, &resp) && resp.HTTPStatusCode() != 0 {
		return false
	}
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		return false
	}
	if errors.Is(err, context.Canceled) {
		return false
	}
	var conn interface{ ConnectionError() bool }
	if errors.As(err, &conn) && conn.ConnectionError() {
		return true
	}
	var netErr net.Error
	return errors.As(err, &netErr) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF)
}

// shortCause says in a few words why a call failed: the AWS error code and
// message, or what happened on the wire. It drops the SDK's wrapping
// ("operation error EC2: DescribeVpcs, https response error StatusCode:
// ..., RequestID: ..., api error ..."), which repeats what the scope says.
func shortCause(err error) string {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		if msg := apiErr.ErrorMessage(); msg != "" {
			return apiErr.ErrorCode() + ": " + msg
		}
		return apiErr.ErrorCode()
	}
	var dns *net.DNSError
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset"
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		return "no route to host"
	case errors.As(err, &dns):
		return "cannot resolve " + dns.Name
	case errors.Is(err, context.DeadlineExceeded):
		return "no answer in time"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, net.ErrClosed),
		errors.Is(err, syscall.EPIPE):
		return "connection closed without an answer"
	}
	var netErr net.Error
	if errors.As(err, &netErr) && netErr.Timeout() {
		return "no answer in time"
	}
	// Other failures on the wire: the innermost network error, without
	// the SDK's request wrapping.
	var opErr *net.OpError
	if errors.As(err, &opErr) && opErr.Err != nil {
		return opErr.Op + ": " + opErr.Err.Error()
	}
	return err.Error()
}

// callState follows one API call through its attempts, for progress
// reporting and to bound transport retries.
type callState struct {
	mu      sync.Mutex
	attempt int
	lastErr string
}

type callKey struct{}
type unitKey struct{}

// withUnit tags a context with the unit (service/region) its calls belong
// to, so progress can say which unit waits on what.
func withUnit(ctx context.Context, unit string) context.Context {
	return context.WithValue(ctx, unitKey{}, unit)
}

func unitOf(ctx context.Context) string {
	u, _ := ctx.Value(unitKey{}).(string)
	return u
}

// activity is what a unit is doing now.
type activity struct {
	operation string
	attempt   int
	lastErr   string
}

func (a activity) String() string {
	if a.operation == "" {
		return ""
	}
	if a.attempt <= 1 || a.lastErr == "" {
		return a.operation
	}
	return fmt.Sprintf("%s, retry %d: %s", a.operation, a.attempt-1, a.lastErr)
}

// callMiddleware returns the two middlewares that bound and observe calls:
// one per operation (a fresh call state and the operation timeout) and one
// per attempt, after the retry middleware (attempt numbering, the
// transport retry budget, and the unit's current activity).
func (s *Scanner) callMiddleware() (middleware.InitializeMiddleware, middleware.FinalizeMiddleware) {
	perCall := middleware.InitializeMiddlewareFunc("plumbCallBounds", func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
		ctx = context.WithValue(ctx, callKey{}, &callState{})
		if s.opts.OperationTimeout > 0 {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, s.opts.OperationTimeout)
			defer cancel()
		}
		return next.HandleInitialize(ctx, in)
	})
	perAttempt := middleware.FinalizeMiddlewareFunc("plumbAttempt", func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
		st, _ := ctx.Value(callKey{}).(*callState)
		if st == nil {
			return next.HandleFinalize(ctx, in)
		}
		st.mu.Lock()
		st.attempt++
		n, last := st.attempt, st.lastErr
		st.mu.Unlock()
		op := awsmiddleware.GetOperationName(ctx)
		if unit := unitOf(ctx); unit != "" {
			s.setActivity(unit, activity{operation: op, attempt: n, lastErr: last})
			if s.opts.Observer != nil {
				s.opts.Observer.Attempt(unit, op, n, last)
			}
		}
		out, md, err := next.HandleFinalize(ctx, in)
		if err != nil {
			st.mu.Lock()
			st.lastErr = shortCause(err)
			st.mu.Unlock()
			if isTransport(err) && n >= s.opts.TransportAttempts && ctx.Err() == nil {
				err = &gaveUpError{attempts: n, err: err}
			}
		}
		return out, md, err
	})
	return perCall, perAttempt
}

// setActivity records what a unit is doing.
func (s *Scanner) setActivity(unit string, a activity) {
	s.actMu.Lock()
	defer s.actMu.Unlock()
	s.activity[unit] = a
}

// activityOf returns what a unit was last doing.
func (s *Scanner) activityOf(unit string) activity {
	s.actMu.Lock()
	defer s.actMu.Unlock()
	return s.activity[unit]
}

// describeErr keeps the AWS error code and message, which is what an
// operator needs to fix permissions, and drops the SDK's long wrapping;
// transport failures are said in a few words with the endpoint.
func describeErr(err error) error {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		return fmt.Errorf("%s: %s", apiErr.ErrorCode(), apiErr.ErrorMessage())
	}
	if isTransport(err) {
		var g *gaveUpError
		if errors.As(err, &g) {
			return fmt.Errorf("%s (after %d attempts)", shortCause(g.err), g.attempts)
		}
		return errors.New(shortCause(err))
	}
	return err
}

// limitReached says why a unit stopped when the scan's context ended: the
// scan's time limit (or a cancellation), and what the unit was waiting
// for at that moment.
func limitReached(ctx context.Context, a activity) error {
	what := "the scan's time limit was reached"
	if errors.Is(ctx.Err(), context.Canceled) {
		what = "the scan was cancelled"
	}
	if a.operation == "" {
		return fmt.Errorf("%s before it started", what)
	}
	return fmt.Errorf("%s while waiting for %s", what, a)
}
