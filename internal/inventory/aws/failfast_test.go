package aws

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"plumb/internal/inventory"
	"plumb/internal/testenv"
)

// stsInvalidClientTokenID is STS's documented answer (query protocol, HTTP
// 403) to an access key it does not know.
const stsInvalidClientTokenID = `<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <Error>
    <Type>Sender</Type>
    <Code>InvalidClientTokenId</Code>
    <Message>The security token included in the request is invalid.</Message>
  </Error>
  <RequestId>4a1c2f0e-5b7d-4c1e-9a0f-2d3b4c5d6e7f</RequestId>
</ErrorResponse>`

// fakeSTS answers GetCallerIdentity with InvalidClientTokenId, checking
// the request is the documented query-protocol call. It stands for real
// AWS refusing a key, which no local peer here can do.
func fakeSTS(t testing.TB) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		form, _ := url.ParseQuery(string(body))
		if r.Method != http.MethodPost || form.Get("Action") != "GetCallerIdentity" || form.Get("Version") != "2011-06-15" ||
			!strings.Contains(r.Header.Get("Authorization"), "/sts/aws4_request") {
			t.Errorf("unexpected request %s %s %q (auth %q)", r.Method, r.URL, body, r.Header.Get("Authorization"))
		}
		w.Header().Set("Content-Type", "text/xml")
		w.WriteHeader(http.StatusForbidden)
		_, _ = io.WriteString(w, stsInvalidClientTokenID)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// setAWSEnv points the SDK's standard chain at endpoint with the given
// keys (none when empty), away from any configuration of this machine.
func setAWSEnv(t *testing.T, endpoint, key string) {
	t.Helper()
	dir := t.TempDir()
	t.Setenv("AWS_ENDPOINT_URL", endpoint)
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("AWS_PROFILE", "")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "no-config"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "no-credentials"))
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_SESSION_TOKEN", "")
	t.Setenv("AWS_ACCESS_KEY_ID", key)
	t.Setenv("AWS_SECRET_ACCESS_KEY", key)
	t.Setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", "")
	t.Setenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "")
	t.Setenv("AWS_WEB_IDENTITY_TOKEN_FILE", "")
}

// TestIdentityGate: when AWS cannot be used at all, Scan lists nothing and
// fails within seconds with one AccessError in the user's words.
func TestIdentityGate(t *testing.T) {
	tests := []struct {
		name     string
		endpoint func(t testing.TB) string
		key      string
		reason   string
		message  string // with {endpoint} replaced by the endpoint
		within   time.Duration
	}{
		{"closed port", testenv.ClosedPort, "testing", inventory.AccessUnreachable,
			"cannot reach AWS at {endpoint} (AWS_ENDPOINT_URL): connection refused", 10 * time.Second},
		{"black hole", testenv.BlackHole, "testing", inventory.AccessUnreachable,
			"cannot reach AWS at {endpoint} (AWS_ENDPOINT_URL): no answer within 2s", 15 * time.Second},
		{"refused credentials", fakeSTS, "AKIAIOSFODNN7EXAMPLE", inventory.AccessRefused,
			"AWS refused the credentials from AWS_ACCESS_KEY_ID: InvalidClientTokenId: The security token included in the request is invalid.", 10 * time.Second},
		{"no credentials", testenv.ClosedPort, "", inventory.AccessNoCredentials,
			"no AWS credentials found: set AWS_PROFILE, AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or sign in with `aws sso login`, or run where an instance or task role is available", 10 * time.Second},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			endpoint := tc.endpoint(t)
			setAWSEnv(t, endpoint, tc.key)
			obs := &recordObserver{}
			s, err := New(context.Background(), Options{IdentityTimeout: 2 * time.Second, Observer: obs})
			if err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			inv, err := s.Scan(context.Background())
			took := time.Since(start)
			var ae *inventory.AccessError
			if !errors.As(err, &ae) {
				t.Fatalf("Scan = %v, %v; want an AccessError", inv, err)
			}
			want := strings.ReplaceAll(tc.message, "{endpoint}", endpoint)
			if ae.Reason != tc.reason || ae.Error() != want {
				t.Errorf("error = %s %q\nwant    %s %q", ae.Reason, ae.Error(), tc.reason, want)
			}
			if took > tc.within {
				t.Errorf("took %s, want under %s", took, tc.within)
			}
			if len(obs.planned) != 0 {
				t.Errorf("units were planned after a failed identity check: %v", obs.planned)
			}
		})
	}
}

// recordObserver records what the scanner tells its observer.
type recordObserver struct {
	mu                          sync.Mutex
	planned, attempts, finished []string
}

func (o *recordObserver) Planned(units []string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.planned = append(o.planned, units...)
}

func (o *recordObserver) Attempt(unit, op string, attempt int, lastErr string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.attempts = append(o.attempts, fmt.Sprintf("%s %s #%d %s", unit, op, attempt, lastErr))
}

func (o *recordObserver) Finished(unit string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.finished = append(o.finished, unit)
}

func (o *recordObserver) attemptsOf(unit string) []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	var out []string
	for _, a := range o.attempts {
		if strings.HasPrefix(a, unit+" ") {
			out = append(out, a)
		}
	}
	return out
}

// TestTimeLimitReportsWhatWasRead: EC2 stops answering in the middle of a
// scan (STS and SQS still answer). When the scan's context ends, Scan
// returns what it read, and the EC2 scope is an error naming the call it
// was waiting for; the observer saw that call.
func TestTimeLimitReportsWhatWasRead(t *testing.T) {
	m := testenv.StartMoto(t)
	proxy := testenv.HangProxy(t, m.Endpoint, func(service string) bool { return service == "ec2" })
	t.Setenv("AWS_ENDPOINT_URL", proxy)
	obs := &recordObserver{}
	s, err := New(context.Background(), Options{Regions: []string{"us-east-1"}, Types: []string{"aws_vpc", "aws_sqs_queue"}, Observer: obs})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Second)
	defer cancel()
	start := time.Now()
	inv, err := s.Scan(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > 20*time.Second {
		t.Errorf("scan took %s after a 4s limit", took)
	}
	if !inv.Complete("aws_sqs_queue", "us-east-1") {
		t.Errorf("the answering service was not read: %+v", inv.Errors)
	}
	want := inventory.ScopeError{Scope: "aws/us-east-1/ec2", Types: []string{"aws_vpc"},
		Message: "the scan's time limit was reached while waiting for DescribeVpcs"}
	if len(inv.Errors) != 1 || inv.Errors[0].Scope != want.Scope || inv.Errors[0].Message != want.Message || !slices.Equal(inv.Errors[0].Types, want.Types) {
		t.Fatalf("errors = %+v, want [%+v]", inv.Errors, want)
	}
	if got := obs.attemptsOf("ec2/us-east-1"); len(got) == 0 || !strings.HasPrefix(got[0], "ec2/us-east-1 DescribeVpcs #1") {
		t.Errorf("observer attempts for ec2 = %v", got)
	}
	slices.Sort(obs.finished)
	if !slices.Equal(obs.finished, []string{"ec2/us-east-1", "sqs/us-east-1"}) {
		t.Errorf("finished = %v", obs.finished)
	}
}

// TestTransportErrorsFailFast: connections to EC2 are cut without an
// answer. The call is tried three times, a second apart at most, and its
// scope fails with the short cause; the rest of the scan is unaffected.
func TestTransportErrorsFailFast(t *testing.T) {
	m := testenv.StartMoto(t)
	proxy := testenv.FaultProxy(t, m.Endpoint, func(service string, n int) *testenv.Fault {
		if service == "ec2" {
			return &testenv.Fault{Hangup: true}
		}
		return nil
	})
	t.Setenv("AWS_ENDPOINT_URL", proxy)
	obs := &recordObserver{}
	s, err := New(context.Background(), Options{Regions: []string{"us-east-1"}, Types: []string{"aws_vpc", "aws_sqs_queue"}, Observer: obs})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	inv, err := s.Scan(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > 20*time.Second {
		t.Errorf("scan took %s: transport errors were retried too long", took)
	}
	if len(inv.Errors) != 1 || inv.Errors[0].Scope != "aws/us-east-1/ec2" ||
		inv.Errors[0].Message != "connection closed without an answer (after 3 attempts)" {
		t.Fatalf("errors = %+v", inv.Errors)
	}
	got := obs.attemptsOf("ec2/us-east-1")
	want := []string{
		"ec2/us-east-1 DescribeVpcs #1 ",
		"ec2/us-east-1 DescribeVpcs #2 connection closed without an answer",
		"ec2/us-east-1 DescribeVpcs #3 connection closed without an answer",
	}
	if !slices.Equal(got, want) {
		t.Errorf("attempts = %q\nwant %q", got, want)
	}
	if !inv.Complete("aws_sqs_queue", "us-east-1") {
		t.Errorf("sqs not read")
	}
}

// TestTransportBackoffIsShort pins the waits between transport retries.
func TestTransportBackoffIsShort(t *testing.T) {
	for attempt, want := range map[int]time.Duration{1: 200 * time.Millisecond, 2: 400 * time.Millisecond, 3: 800 * time.Millisecond, 4: time.Second, 9: time.Second} {
		if got := transportBackoff(attempt); got != want {
			t.Errorf("transportBackoff(%d) = %s, want %s", attempt, got, want)
		}
	}
}
