package poller

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azqueue"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/smithy-go"

	"plumb/internal/testenv"
)

// logBuffer collects a poller's log lines (text format, debug and up) so
// tests can count what an operator would see at the default level.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// lines returns the lines at level (INFO, WARN, ...) that contain every
// one of subs.
func (b *logBuffer) lines(level string, subs ...string) []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []string
	for _, l := range strings.Split(b.buf.String(), "\n") {
		if !strings.Contains(l, "level="+level+" ") {
			continue
		}
		ok := true
		for _, s := range subs {
			ok = ok && strings.Contains(l, s)
		}
		if ok {
			out = append(out, l)
		}
	}
	return out
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func (b *logBuffer) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// waitRecorder keeps the back-off waits a poller chose, in order.
type waitRecorder struct {
	mu    sync.Mutex
	waits []time.Duration
}

func (r *waitRecorder) record(d time.Duration) {
	r.mu.Lock()
	r.waits = append(r.waits, d)
	r.mu.Unlock()
}

func (r *waitRecorder) get() []time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.waits)
}

// checkGrowingBackoff asserts that waits never shrink before the cap, grow
// well beyond the first one, and never exceed the cap.
func checkGrowingBackoff(t *testing.T, waits []time.Duration, limit time.Duration) {
	t.Helper()
	if len(waits) < 4 {
		t.Fatalf("only %d back-off waits: %v", len(waits), waits)
	}
	for i, w := range waits {
		if w > limit {
			t.Errorf("wait %d = %s, above the cap %s", i, w, limit)
		}
		if i > 0 && w < waits[i-1] && waits[i-1] < limit/2 {
			t.Errorf("wait %d = %s shorter than the one before (%s) while below the cap: %v", i, w, waits[i-1], waits)
		}
	}
	if last := waits[len(waits)-1]; last < 4*waits[0] {
		t.Errorf("waits did not grow: %v", waits)
	}
}

// sqsClientAt is an SQS client for endpoint, configured as plumb serve
// configures its own (few SDK retries, no retry quota), with static test
// credentials.
func sqsClientAt(t *testing.T, endpoint string) *sqs.Client {
	t.Helper()
	cfg, err := config.LoadDefaultConfig(context.Background(),
		config.WithRegion("us-east-1"),
		config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("testing", "testing", "")),
		config.WithBaseEndpoint(endpoint),
	)
	if err != nil {
		t.Fatal(err)
	}
	return sqs.NewFromConfig(cfg, func(o *sqs.Options) {
		o.Retryer = retry.NewStandard(func(so *retry.StandardOptions) {
			so.MaxAttempts = 2
			so.MaxBackoff = 200 * time.Millisecond
			so.RateLimiter = ratelimit.None
		})
	})
}

// TestSQSPollerUnreachableThenRecovers points the poller at a closed
// port: many failed polls give one warning naming the cause, the waits
// between them grow up to the cap, and Health says failing with the cause.
// Then moto starts on that port: the poller recovers by itself, logs it
// once, and delivers.
func TestSQSPollerUnreachableThenRecovers(t *testing.T) {
	port := testenv.FreePort(t)
	endpoint := "http://127.0.0.1:" + strconv.Itoa(port)
	client := sqsClientAt(t, endpoint)
	url := endpoint + "/123456789012/plumb-late"
	logs := &logBuffer{}
	sink := &recordingSink{}
	const limit = 1600 * time.Millisecond
	p, err := NewSQS(SQSConfig{Name: "late", QueueURL: url, WaitTime: time.Second, MaxErrorBackoff: limit},
		client, testDecode, sink, logs.logger())
	if err != nil {
		t.Fatal(err)
	}
	waits := &waitRecorder{}
	p.onBackoff = waits.record
	if h := p.Health(); h.State != StateUnknown {
		t.Errorf("health before the first poll = %+v, want unknown", h)
	}
	startRun(t, p.Run)

	waitFor(t, 30*time.Second, "six failed polls", func() bool { return p.Health().Failures >= 6 })
	h := p.Health()
	wantCause := "cannot reach SQS at " + endpoint + ": connection refused"
	if h.State != StateFailing || h.Error != wantCause || h.Since.IsZero() || h.NextAttempt.IsZero() || h.Errors < 6 {
		t.Errorf("health = %+v, want failing with %q", h, wantCause)
	}
	if warns := logs.lines("WARN", "receive from SQS failed"); len(warns) != 1 || !strings.Contains(warns[0], wantCause) {
		t.Errorf("%d failures logged %d warnings, want exactly 1 with the cause:\n%s", h.Failures, len(warns), logs)
	}
	checkGrowingBackoff(t, waits.get(), limit)

	moto := testenv.StartMotoAt(t, port)
	if _, err := sqsClientAt(t, moto.Endpoint).CreateQueue(context.Background(), &sqs.CreateQueueInput{QueueName: aws.String("plumb-late")}); err != nil {
		t.Fatal(err)
	}
	if _, err := client.SendMessage(context.Background(), &sqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String(eventBody("late-1"))}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "the poller to recover and deliver", func() bool {
		return p.Health().State == StateOK && len(sink.ids()) == 1
	})
	h = p.Health()
	if h.Error != "" || h.Failures != 0 || !h.NextAttempt.IsZero() || h.LastSuccess.IsZero() {
		t.Errorf("health after recovery = %+v", h)
	}
	if got := logs.lines("INFO", "queue reachable again"); len(got) != 1 {
		t.Errorf("recovery logged %d times, want once:\n%s", len(got), logs)
	}
	if got := logs.lines("WARN", "connection refused"); len(got) != 1 {
		t.Errorf("connection refused logged %d times in all, want once:\n%s", len(got), logs)
	}
}

// TestSQSPollerRefusedCredentials: SQS answers every receive with the
// error of an unknown access key. The cause names the credentials, is
// logged once, and the poller recovers when the credentials are accepted.
func TestSQSPollerRefusedCredentials(t *testing.T) {
	moto := testenv.StartMoto(t)
	var refuse atomic.Bool
	refuse.Store(true)
	proxy := testenv.FaultProxy(t, moto.Endpoint, func(service string, n int) *testenv.Fault {
		if refuse.Load() && service == "sqs" {
			return &testenv.Fault{Status: 400,
				Headers: map[string]string{"Content-Type": "application/x-amz-json-1.0", "X-Amzn-ErrorType": "UnrecognizedClientException"},
				Body:    `{"__type":"com.amazon.coral.service#UnrecognizedClientException","message":"The security token included in the request is invalid."}`}
		}
		return nil
	})
	direct := sqsClientAt(t, moto.Endpoint)
	out, err := direct.CreateQueue(context.Background(), &sqs.CreateQueueInput{QueueName: aws.String("plumb-creds")})
	if err != nil {
		t.Fatal(err)
	}
	logs := &logBuffer{}
	p, err := NewSQS(SQSConfig{Name: "creds", QueueURL: aws.ToString(out.QueueUrl), WaitTime: time.Second, MaxErrorBackoff: 800 * time.Millisecond},
		sqsClientAt(t, proxy), testDecode, &recordingSink{}, logs.logger())
	if err != nil {
		t.Fatal(err)
	}
	startRun(t, p.Run)
	waitFor(t, 30*time.Second, "four refused polls", func() bool { return p.Health().Failures >= 4 })
	want := "SQS refused the credentials: UnrecognizedClientException: The security token included in the request is invalid."
	if h := p.Health(); h.State != StateFailing || h.Error != want {
		t.Errorf("health = %+v, want failing with %q", h, want)
	}
	if warns := logs.lines("WARN", "receive from SQS failed"); len(warns) != 1 {
		t.Errorf("%d warnings, want 1:\n%s", len(warns), logs)
	}
	refuse.Store(false)
	waitFor(t, 30*time.Second, "the poller to recover", func() bool { return p.Health().State == StateOK })
	if got := logs.lines("INFO", "queue reachable again"); len(got) != 1 {
		t.Errorf("recovery logged %d times, want once:\n%s", len(got), logs)
	}
}

// TestStorageQueuePollerUnreachableThenRecovers is the SQS test for
// Azure: a connection string whose queue endpoint is a closed port, then
// azurite on that port.
func TestStorageQueuePollerUnreachableThenRecovers(t *testing.T) {
	port := testenv.FreePort(t)
	connStr := testenv.AzuriteConnectionString(port)
	logs := &logBuffer{}
	sink := &recordingSink{}
	const limit = 1600 * time.Millisecond
	p, err := NewStorageQueue(StorageQueueConfig{Name: "late", ConnectionString: connStr, Queue: "plumb-late",
		MaxPollingInterval: 200 * time.Millisecond, MaxErrorBackoff: limit, Base64: true}, testDecode, sink, logs.logger())
	if err != nil {
		t.Fatal(err)
	}
	waits := &waitRecorder{}
	p.onBackoff = waits.record
	startRun(t, p.Run)

	waitFor(t, 60*time.Second, "five failed polls", func() bool { return p.Health().Failures >= 5 })
	wantCause := fmt.Sprintf("cannot reach storage queue at http://127.0.0.1:%d: connection refused", port)
	if h := p.Health(); h.State != StateFailing || h.Error != wantCause {
		t.Errorf("health = %+v, want failing with %q", h, wantCause)
	}
	if warns := logs.lines("WARN", "dequeue failed"); len(warns) != 1 || !strings.Contains(warns[0], wantCause) {
		t.Errorf("%d warnings, want exactly 1 with the cause:\n%s", len(warns), logs)
	}
	checkGrowingBackoff(t, waits.get(), limit)

	testenv.StartAzuriteQueueAt(t, port)
	q := newAzQueue(t, connStr, "plumb-late")
	if _, err := q.EnqueueMessage(context.Background(), eventGridMessage("late-1"), nil); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "the poller to recover and deliver", func() bool {
		return p.Health().State == StateOK && len(sink.ids()) == 1
	})
	if got := logs.lines("INFO", "queue reachable again"); len(got) != 1 {
		t.Errorf("recovery logged %d times, want once:\n%s", len(got), logs)
	}
	if got := logs.lines("WARN", "connection refused"); len(got) != 1 {
		t.Errorf("connection refused logged %d times, want once:\n%s", len(got), logs)
	}
}

// TestStorageQueuePollerRefusedCredentials: a wrong account key gets a 403
// from the storage account; the cause says the credentials were refused.
func TestStorageQueuePollerRefusedCredentials(t *testing.T) {
	connStr := testenv.StartAzuriteQueue(t)
	newAzQueue(t, connStr, "plumb-creds")
	const wrongKey = "AccountKey=d3JvbmcgYWNjb3VudCBrZXkgZm9yIHBsdW1iIHRlc3Rz;"
	i := strings.Index(connStr, "AccountKey=")
	j := strings.Index(connStr[i:], ";")
	bad := connStr[:i] + wrongKey + connStr[i+j+1:]
	logs := &logBuffer{}
	p, err := NewStorageQueue(StorageQueueConfig{Name: "creds", ConnectionString: bad, Queue: "plumb-creds",
		MaxErrorBackoff: 800 * time.Millisecond, Base64: true}, testDecode, &recordingSink{}, logs.logger())
	if err != nil {
		t.Fatal(err)
	}
	startRun(t, p.Run)
	waitFor(t, 30*time.Second, "three refused polls", func() bool { return p.Health().Failures >= 3 })
	h := p.Health()
	if h.State != StateFailing || !strings.HasPrefix(h.Error, "storage queue refused the credentials: ") || !strings.Contains(h.Error, "HTTP 403") {
		t.Errorf("health = %+v, want the credentials refused with HTTP 403", h)
	}
	if warns := logs.lines("WARN", "dequeue failed"); len(warns) != 1 {
		t.Errorf("%d warnings, want 1:\n%s", len(warns), logs)
	}
}

func TestDescribe(t *testing.T) {
	closed := "127.0.0.1:" + strconv.Itoa(testenv.FreePort(t))
	refused := func() error {
		_, err := sqsClientAt(t, "http://"+closed).ListQueues(context.Background(), &sqs.ListQueuesInput{})
		if err == nil {
			t.Fatal("ListQueues on a closed port succeeded")
		}
		return err
	}()
	refusedAz := func() error {
		q, err := azqueue.NewQueueClientFromConnectionString(testenv.AzuriteConnectionString(testenv.FreePort(t)), "q",
			&azqueue.ClientOptions{ClientOptions: azcore.ClientOptions{Retry: policy.RetryOptions{MaxRetries: -1}}})
		if err != nil {
			t.Fatal(err)
		}
		_, err = q.GetProperties(context.Background(), nil)
		if err == nil {
			t.Fatal("GetProperties on a closed port succeeded")
		}
		return err
	}()
	// A listener that accepts and never answers: the per-call deadline
	// ends the call.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	silent := l.Addr().String()
	noAnswer := func() error {
		go func() {
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				t.Cleanup(func() { c.Close() })
			}
		}()
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		_, err = sqsClientAt(t, "http://"+l.Addr().String()).ListQueues(ctx, &sqs.ListQueuesInput{})
		if err == nil {
			t.Fatal("ListQueues on a silent peer succeeded")
		}
		return err
	}()
	tests := []struct {
		name     string
		service  string
		endpoint string
		err      error
		want     string
	}{
		{"connection refused names the endpoint", "SQS", "", refused, "cannot reach SQS at http://" + closed + ": connection refused"},
		{"azure connection refused", "storage queue", "", refusedAz, "cannot reach storage queue at http://127.0.0.1:"},
		{"no answer within the call timeout", "SQS", "http://" + silent, noAnswer, "no answer from SQS at http://" + silent + " within 5s"},
		{"refused credentials (AWS)", "SQS", "", fmt.Errorf("operation error SQS: ReceiveMessage, https response error StatusCode: 400, RequestID: 1, %w",
			&smithy.GenericAPIError{Code: "InvalidClientTokenId", Message: "The security token included in the request is invalid."}),
			"SQS refused the credentials: InvalidClientTokenId: The security token included in the request is invalid."},
		{"other API error (AWS)", "SQS", "", &smithy.GenericAPIError{Code: "AWS.SimpleQueueService.NonExistentQueue", Message: "The specified queue does not exist."},
			"SQS refused the request: AWS.SimpleQueueService.NonExistentQueue: The specified queue does not exist."},
		{"refused credentials (Azure)", "storage queue", "", &azcore.ResponseError{StatusCode: 403, ErrorCode: "AuthenticationFailed"},
			"storage queue refused the credentials: AuthenticationFailed (HTTP 403)"},
		{"other HTTP error (Azure)", "storage queue", "", &azcore.ResponseError{StatusCode: 503},
			"storage queue refused the request: status 503 (HTTP 503)"},
		{"unknown host", "SQS", "", &net.DNSError{Err: "no such host", Name: "sqs.nowhere.invalid", IsNotFound: true},
			"cannot reach SQS: cannot resolve sqs.nowhere.invalid"},
		{"no credentials", "SQS", "http://127.0.0.1:1", errors.New("operation error SQS: ReceiveMessage, get identity: get credentials: failed to refresh cached credentials, no EC2 IMDS role found, dial tcp 169.254.169.254:80: connect: connection refused"),
			"no usable credentials for SQS: "},
		{"anything else keeps the innermost cause", "SQS", "", fmt.Errorf("operation error: %w", errors.New("disk on fire")), "SQS: disk on fire"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := describe(tt.service, tt.endpoint, 5*time.Second, tt.err)
			if !strings.HasPrefix(got, tt.want) {
				t.Errorf("describe(%v)\n got %q\nwant prefix %q", tt.err, got, tt.want)
			}
			if strings.Contains(got, "RequestID") || strings.Contains(got, "attempts") {
				t.Errorf("describe kept SDK noise: %q", got)
			}
		})
	}
}

func TestErrorBackoff(t *testing.T) {
	ms := time.Millisecond
	tests := []struct {
		name string
		rand func(int64) int64
		want []time.Duration
	}{
		// The lowest draw is the lower half's end: 50, 100, 200, ...
		{"lowest jitter", func(int64) int64 { return 0 }, []time.Duration{50 * ms, 100 * ms, 200 * ms, 400 * ms, 500 * ms, 500 * ms, 500 * ms}},
		{"highest jitter", func(n int64) int64 { return n - 1 }, []time.Duration{100 * ms, 200 * ms, 400 * ms, 800 * ms, 1000 * ms, 1000 * ms, 1000 * ms}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newErrorBackoff(time.Second)
			b.rand = tt.rand
			var got []time.Duration
			for range tt.want {
				got = append(got, b.next())
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("waits = %v, want %v", got, tt.want)
			}
			b.reset()
			if first := b.next(); first != tt.want[0] {
				t.Errorf("after reset = %s, want %s", first, tt.want[0])
			}
		})
	}
	// With real randomness every wait lies in the upper half of its step.
	b := newErrorBackoff(30 * time.Second)
	step := time.Duration(0)
	for range 20 {
		step = nextPollInterval(step, 30*time.Second)
		if w := b.next(); w < step/2 || w > step {
			t.Errorf("wait %s outside [%s, %s]", w, step/2, step)
		}
	}
}
