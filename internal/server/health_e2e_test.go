package server

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"plumb/internal/testenv"
)

// readyz fetches /readyz and decodes it.
func (ts *testServer) readyz() (int, readyAnswer) {
	ts.t.Helper()
	resp, b := ts.do("GET", "/readyz", nil, nil)
	var ans readyAnswer
	if err := json.Unmarshal(b, &ans); err != nil {
		ts.t.Fatalf("readyz: %v: %s", err, b)
	}
	return resp.StatusCode, ans
}

// metric reads one sample of /metrics by its exact series name and
// labels, and whether it is there at all.
func (ts *testServer) metric(series string) (float64, bool) {
	ts.t.Helper()
	_, b := ts.do("GET", "/metrics", nil, nil)
	re := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + ` (\S+)$`)
	m := re.FindSubmatch(b)
	if m == nil {
		return 0, false
	}
	v, err := strconv.ParseFloat(string(m[1]), 64)
	if err != nil {
		ts.t.Fatalf("metric %s = %q: %v", series, m[1], err)
	}
	return v, true
}

// logLines counts the server's log lines that contain every one of subs.
func (ts *testServer) logLines(subs ...string) int {
	n := 0
	for _, l := range strings.Split(ts.logs.String(), "\n") {
		ok := l != ""
		for _, s := range subs {
			ok = ok && strings.Contains(l, s)
		}
		if ok {
			n++
		}
	}
	return n
}

// awsAt points the standard AWS environment at endpoint for the rest of
// the test, as StartMoto does, whether or not anything listens there.
func awsAt(t *testing.T, endpoint string) {
	for k, v := range (&testenv.Moto{Endpoint: endpoint}).Env() {
		t.Setenv(k, v)
	}
}

// TestE2ESourceUnreachableThenRecovers runs plumb serve with an SQS source
// whose endpoint is a closed port. The poller fails on every poll but says
// so once, with the cause; its polls spread out; /readyz is 200
// "degraded" and names the source, its error and failure count;
// plumb_source_up is 0. When moto comes up on that port, the poller
// recovers by itself (one log line), readyz is "ok", the metric 1, and an
// event sent through EventBridge arrives.
func TestE2ESourceUnreachableThenRecovers(t *testing.T) {
	port := testenv.FreePort(t)
	endpoint := "http://127.0.0.1:" + strconv.Itoa(port)
	awsAt(t, endpoint)
	ts := runE2E(t, fmt.Sprintf(`
server:
  api_token: {env: TOKEN}
environments:
  - name: prod
sources:
  sqs:
    - name: eventbridge-prod
      queue_url: %s/123456789012/plumb-late
      region: us-east-1
      wait_time: 1s
`, endpoint), nil, func(o *Options) { o.sourceBackoffMax = 3200 * time.Millisecond })

	const check = "poller:eventbridge-prod"
	wantCause := "cannot reach SQS at " + endpoint + ": connection refused"
	// Watch the failure count rise, noting when each failure shows.
	var (
		seen   []time.Time
		last   int
		failed checkView
	)
	deadline := time.Now().Add(60 * time.Second)
	for last < 7 {
		if time.Now().After(deadline) {
			t.Fatalf("only %d failed polls in 60s\n%s", last, ts.logs)
		}
		code, ans := ts.readyz()
		c := ans.Checks[check]
		if c.Failures > last {
			if code != 200 || ans.Status != readyDegraded {
				t.Errorf("readyz with a failing source = %d %q, want 200 degraded", code, ans.Status)
			}
			for range c.Failures - last {
				seen = append(seen, time.Now())
			}
			last, failed = c.Failures, c
		}
		time.Sleep(20 * time.Millisecond)
	}
	if failed.OK || failed.State != checkFailing || failed.Error != wantCause || failed.Since == nil || failed.NextAttempt == nil || failed.LastSuccess != nil {
		t.Errorf("readyz %s = %+v, want failing with %q since the first failure", check, failed, wantCause)
	}
	// Exponential back-off: the gap before the seventh failure (a wait of
	// 1.6s to 3.2s) is several times the first (50ms to 100ms, plus the
	// call), where a fixed retry would keep them equal; seven failures
	// take seconds, not a tight loop.
	first, lastGap := seen[1].Sub(seen[0]), seen[len(seen)-1].Sub(seen[len(seen)-2])
	if lastGap < 3*first || lastGap < 1200*time.Millisecond || seen[len(seen)-1].Sub(seen[0]) < 3*time.Second {
		t.Errorf("failures at %v: gaps do not grow (first %s, last %s)", seen, first, lastGap)
	}
	if up, ok := ts.metric(`plumb_source_up{source="eventbridge-prod"}`); !ok || up != 0 {
		t.Errorf("plumb_source_up = %v (present %v), want 0", up, ok)
	}
	if n, _ := ts.metric(`plumb_source_errors_total{source="eventbridge-prod"}`); n < 7 {
		t.Errorf("plumb_source_errors_total = %v, want >= 7", n)
	}
	if n := ts.logLines("level=WARN", "receive from SQS failed", wantCause); n != 1 {
		t.Errorf("%d failed polls logged %d times, want once:\n%s", last, n, ts.logs)
	}

	moto := testenv.StartMotoAt(t, port)
	awsCfg := moto.Config(t, "us-east-1")
	eventBridgeToSQS(t, awsCfg, "plumb-late", "aws.ec2")
	ids := putEvents(t, awsCfg, ebEntry{"aws.ec2", "AWS API Call via CloudTrail", runInstancesDetail(t, pipelineIdentity, "i-0late")})
	waitForDeadline(t, 30*time.Second, "the source to recover", func() bool {
		code, ans := ts.readyz()
		return code == 200 && ans.Status == readyOK && ans.Checks[check].OK
	})
	_, ans := ts.readyz()
	if c := ans.Checks[check]; c.State != checkOK || c.Error != "" || c.Failures != 0 || c.LastSuccess == nil || c.NextAttempt != nil {
		t.Errorf("readyz %s after recovery = %+v", check, c)
	}
	if up, _ := ts.metric(`plumb_source_up{source="eventbridge-prod"}`); up != 1 {
		t.Errorf("plumb_source_up after recovery = %v, want 1", up)
	}
	waitForDeadline(t, 30*time.Second, "the event sent after the recovery", func() bool {
		return sameStrings(ts.eventIDsIn("filtered"), ids)
	})
	if n := ts.logLines("level=INFO", "queue reachable again", "eventbridge-prod"); n != 1 {
		t.Errorf("recovery logged %d times, want once:\n%s", n, ts.logs)
	}
	if n := ts.logLines("connection refused"); n != 1 {
		t.Errorf("connection refused in %d log lines, want 1:\n%s", n, ts.logs)
	}
}

// TestE2EScheduledScanUnreachable schedules a scan of an AWS account whose
// endpoint is a closed port. Every run fails within the scan timeout (no
// hang); the failure is logged once, shown in /readyz with its error and
// counted in the metrics; the schedule keeps running, and when moto comes
// up the next run succeeds, is logged once as a recovery and sets the
// last-success metric.
func TestE2EScheduledScanUnreachable(t *testing.T) {
	port := testenv.FreePort(t)
	endpoint := "http://127.0.0.1:" + strconv.Itoa(port)
	awsAt(t, endpoint)
	state, err := filepath.Abs("testdata/e2e/declared-bucket.tfstate")
	if err != nil {
		t.Fatal(err)
	}
	const scanTimeout = 10 * time.Second
	ts := runE2E(t, fmt.Sprintf(`
server:
  api_token: {env: TOKEN}
environments:
  - name: prod
    cloud: aws
    regions: [us-east-1]
    states: [%s]
    schedule: "@every 1s"
`, state), nil, func(o *Options) { o.ScanTimeout = scanTimeout })

	const check = "schedule:prod"
	code, ans := ts.readyz()
	if c := ans.Checks[check]; code != 200 || c.OK || (c.State != checkUnknown && c.State != checkFailing) {
		t.Errorf("readyz before the first run ended = %d %+v, want 200 and the schedule unknown (or already failing)", code, c)
	}
	start := time.Now()
	var failed checkView
	waitForDeadline(t, 3*(scanTimeout+10*time.Second), "two failed scheduled scans", func() bool {
		code, ans = ts.readyz()
		failed = ans.Checks[check]
		return failed.Failures >= 2
	})
	if took := time.Since(start); took > 2*(scanTimeout+10*time.Second) {
		t.Errorf("two failed scans took %s: a scan is not bounded by its timeout", took)
	}
	if code != 200 || ans.Status != readyDegraded {
		t.Errorf("readyz = %d %q, want 200 degraded", code, ans.Status)
	}
	// The error names the scan and either the unreachable endpoint or the
	// timeout that ended it: never an empty or generic failure.
	if failed.OK || failed.State != checkFailing || failed.Since == nil || failed.LastSuccess != nil ||
		!strings.HasPrefix(failed.Error, "scan prod") ||
		!(strings.Contains(failed.Error, "127.0.0.1:"+strconv.Itoa(port)) || strings.Contains(failed.Error, "did not finish within "+scanTimeout.String())) {
		t.Errorf("readyz %s = %+v, want failing with the endpoint or the timeout in the error", check, failed)
	}
	if n, ok := ts.metric(`plumb_scheduled_scan_errors_total{environment="prod"}`); !ok || n < 2 {
		t.Errorf("plumb_scheduled_scan_errors_total = %v (present %v), want >= 2", n, ok)
	}
	if v, ok := ts.metric(`plumb_scheduled_scan_last_success_timestamp_seconds{environment="prod"}`); !ok || v != 0 {
		t.Errorf("last success = %v (present %v), want 0 before any success", v, ok)
	}
	if n := ts.logLines("level=WARN", "periodic job failed", "job=scan-prod"); n != 1 {
		t.Errorf("%d failed scans logged %d warnings, want 1:\n%s", failed.Failures, n, ts.logs)
	}

	moto := testenv.StartMotoAt(t, port)
	s3c := s3.NewFromConfig(moto.Config(t, "us-east-1"), func(o *s3.Options) { o.UsePathStyle = true })
	if _, err := s3c.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String("plumb-declared")}); err != nil {
		t.Fatal(err)
	}
	before := time.Now()
	waitForDeadline(t, 3*(scanTimeout+10*time.Second), "a scheduled scan to succeed", func() bool {
		_, ans := ts.readyz()
		return ans.Checks[check].OK
	})
	code, ans = ts.readyz()
	if c := ans.Checks[check]; code != 200 || ans.Status != readyOK || c.State != checkOK || c.Error != "" || c.Failures != 0 || c.LastSuccess == nil {
		t.Errorf("readyz after recovery = %d %q %+v", code, ans.Status, c)
	}
	if v, _ := ts.metric(`plumb_scheduled_scan_last_success_timestamp_seconds{environment="prod"}`); v < float64(before.Unix()) {
		t.Errorf("last success = %v, want after %d", v, before.Unix())
	}
	if n := ts.logLines("level=INFO", "periodic job succeeded again", "job=scan-prod"); n != 1 {
		t.Errorf("recovery logged %d times, want once:\n%s", n, ts.logs)
	}
}
