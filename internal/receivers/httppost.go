package receivers

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// userAgent identifies plumb to the receiving end, so its operators can
// tell plumb's requests apart in their logs and firewall rules.
const userAgent = "plumb"

// maxErrorBody bounds how much of a failed response is read and quoted in
// an error: enough for Slack's "invalid_payload" or Alertmanager's
// validation message, never a whole HTML error page.
const maxErrorBody = 1024

// httpPoster sends one request and turns the answer into the error
// contract of Receiver (nil, retryable, Permanent, RetryAfterError). It
// exists so webhook, Slack and Alertmanager classify status codes and
// redact secrets in exactly one place.
type httpPoster struct {
	client *http.Client
	// target names the destination in errors ("webhook https://host/path",
	// "slack incoming webhook"); it never holds a secret.
	target string
	// secrets are strings that must never appear in an error (a Slack
	// URL, its path, a query string with a token).
	secrets []string
	timeout time.Duration
}

// newHTTPPoster copies client so redirects can be refused without
// changing the caller's client: Go turns a POST into a body-less GET on
// 301/302/303, which would drop the signed body and could carry a secret
// URL to another host. A receiver URL that redirects is a configuration
// error and is reported as one.
func newHTTPPoster(client *http.Client, target string, timeout time.Duration, secrets ...string) *httpPoster {
	if client == nil {
		client = http.DefaultClient
	}
	c := *client
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	var s []string
	for _, v := range secrets {
		if v != "" {
			s = append(s, v)
		}
	}
	return &httpPoster{client: &c, target: target, secrets: s, timeout: timeout}
}

// response is what classification needs from an answer.
type response struct {
	status int
	header http.Header
	body   string
}

// post sends body to u and returns the response (status and the start of
// its body) or a transport error that is already redacted and retryable.
func (p *httpPoster) post(ctx context.Context, u string, header http.Header, body []byte) (*response, error) {
	if p.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, p.timeout)
		defer cancel()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return nil, Permanent(p.redact(fmt.Errorf("%s: build request: %w", p.target, err)))
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	req.Header.Set("User-Agent", userAgent)
	resp, err := p.client.Do(req)
	if err != nil {
		// *url.Error quotes the full URL; keep only the cause.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, p.redact(fmt.Errorf("%s: post: %w", p.target, err))
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	// Drain a little more so the connection can be reused; give up on
	// huge bodies rather than read them.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	return &response{status: resp.StatusCode, header: resp.Header, body: string(b)}, nil
}

// classify maps an HTTP answer onto the queue's retry contract:
//
//   - 2xx: delivered.
//   - 429, and 503 with Retry-After: RetryAfterError, so the queue waits as
//     long as the server asked.
//   - 408 (request timeout), 409 (conflict: a lock or a concurrent update
//     on the receiving side), 425 (too early) and 5xx: retryable; these
//     describe the server's state, not the request.
//   - 3xx and every other 4xx: Permanent; the URL, the credentials or the
//     payload is wrong and the same request will fail again.
//
// A receiver that already processed a delivery is expected to answer 2xx
// to the duplicate, not 409.
func (p *httpPoster) classify(r *response, now time.Time) error {
	if r.status >= 200 && r.status < 300 {
		return nil
	}
	err := p.redact(fmt.Errorf("%s: HTTP %d%s", p.target, r.status, quoteBody(r.body)))
	switch {
	case r.status == http.StatusTooManyRequests || r.status == http.StatusServiceUnavailable:
		if d, ok := retryAfter(r.header.Get("Retry-After"), now); ok {
			return &RetryAfterError{After: d, Err: err}
		}
		return err
	case r.status == http.StatusRequestTimeout, r.status == http.StatusConflict, r.status == http.StatusTooEarly:
		return err
	case r.status >= 500:
		return err
	}
	return Permanent(err)
}

// retryAfter parses Retry-After as seconds or an HTTP date.
func retryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if s, err := strconv.Atoi(v); err == nil {
		if s < 0 {
			return 0, false
		}
		return time.Duration(s) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		d := t.Sub(now)
		if d < 0 {
			d = 0
		}
		return d, true
	}
	return 0, false
}

// quoteBody renders the start of a response body for an error message:
// one line, printable, bounded.
func quoteBody(b string) string {
	b = strings.TrimSpace(b)
	if b == "" {
		return ""
	}
	if !utf8.ValidString(b) {
		b = strings.ToValidUTF8(b, "?")
	}
	b = strings.Join(strings.Fields(b), " ")
	const max = 200
	if len(b) > max {
		cut := max
		for cut > 0 && !utf8.RuneStart(b[cut]) {
			cut--
		}
		b = b[:cut] + "..."
	}
	return ": " + strconv.Quote(b)
}

// redact returns err with every secret replaced, keeping the chain for
// errors.Is/As (a context deadline stays recognisable).
func (p *httpPoster) redact(err error) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	clean := msg
	for _, s := range p.secrets {
		clean = strings.ReplaceAll(clean, s, "[redacted]")
	}
	if clean == msg {
		return err
	}
	return &redactedError{msg: clean, err: err}
}

// redactedError shows a cleaned message but unwraps to the original, so
// callers can still test for context.DeadlineExceeded.
type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }

// displayURL is a URL safe to show in errors: scheme, host and path; the
// user info and the query (where tokens tend to live) are dropped.
func displayURL(u *url.URL) string {
	c := url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path}
	return c.String()
}
