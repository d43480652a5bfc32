package server

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"plumb/internal/testenv"
)

// TestE2EScheduledScan: an environment with a schedule is scanned by
// plumb serve on its own; the bucket its state declares is in sync and the
// one created outside the code becomes a drift.unmanaged finding, the same
// finding again on every later scan. The config's ignore rules apply to
// scheduled scans as to every scan.
func TestE2EScheduledScan(t *testing.T) {
	moto := testenv.StartMoto(t)
	s3c := s3.NewFromConfig(moto.Config(t, "us-east-1"), func(o *s3.Options) { o.UsePathStyle = true })
	for _, b := range []string{"plumb-declared", "plumb-undeclared", "plumb-scratch-1"} {
		if _, err := s3c.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String(b)}); err != nil {
			t.Fatalf("create bucket %s: %v", b, err)
		}
	}
	state, err := filepath.Abs("testdata/e2e/declared-bucket.tfstate")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		// ignore is the config's ignore section.
		ignore string
		// wantUnmanaged and wantQuiet are bucket names that must and must
		// not have findings.
		wantUnmanaged, wantQuiet []string
	}{
		{"undeclared buckets are unmanaged", "",
			[]string{"plumb-undeclared", "plumb-scratch-1"}, []string{"plumb-declared"}},
		{"config ignore rules apply", "ignore:\n  - aws_s3_bucket.plumb-scratch-*\n",
			[]string{"plumb-undeclared"}, []string{"plumb-declared", "plumb-scratch-1"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ts := runE2E(t, fmt.Sprintf(`
server:
  api_token: {env: TOKEN}
environments:
  - name: prod
    cloud: aws
    regions: [us-east-1]
    states: [%s]
    schedule: "@every 1s"
%s`, state, tc.ignore), nil, nil)

			// Two scans at least: the finding is seen twice and stays one.
			var unmanaged []findingView
			waitForDeadline(t, 90*time.Second, "scheduled scans to report the undeclared bucket twice", func() bool {
				unmanaged = ts.findings("kind=drift.unmanaged&environment=prod")
				for _, f := range unmanaged {
					if f.Finding.Resource.ID == "plumb-undeclared" && f.Count >= 2 {
						return true
					}
				}
				return false
			})
			for _, want := range tc.wantUnmanaged {
				n := 0
				for _, f := range unmanaged {
					r := f.Finding.Resource
					if r.Type != "aws_s3_bucket" || r.ID != want {
						continue
					}
					n++
					if f.Status != "open" || r.Region != "us-east-1" || f.Finding.Message != "Undefined resource exists ("+want+")" {
						t.Errorf("finding for %s = %+v", want, f)
					}
				}
				if n != 1 {
					t.Errorf("%d findings for %s, want one kept across scans: %+v", n, want, unmanaged)
				}
			}
			for _, f := range ts.findings("environment=prod") {
				for _, quiet := range tc.wantQuiet {
					if f.Finding.Resource.ID == quiet {
						t.Errorf("%s reported: %s %s", quiet, f.Finding.Kind, f.Finding.Message)
					}
				}
			}
		})
	}
}

// TestE2EQueueAlert: a runbook that always fails fills the retry queue;
// above the threshold the queue alert raises an event.alert finding, and
// not before.
func TestE2EQueueAlert(t *testing.T) {
	ts := runE2E(t, `
server:
  api_token: {env: TOKEN}
environments:
  - name: prod
sources:
  eventgrid: {key: {env: KEY}}
subscriptions:
  - name: broken-runbook
    environment: prod
    handlers:
      - type: runbook
        command: [sh, -c, 'echo "remediation endpoint unreachable" >&2; exit 3']
    retry: {max_attempts: 5, schedule: [1h]}
queue_alerts:
  - name: retry-backlog
    state: retry
    threshold: 1
    for: 0s
    severity: critical
`, nil, func(o *Options) { o.AlertInterval = 100 * time.Millisecond })

	post := func(id string) {
		t.Helper()
		resp, b := ts.do("POST", keyed("/v1/events/eventgrid"), nil, mustJSON(t, []any{eventGridEvent(id, "Microsoft.Resources.ResourceWriteSuccess", "p")}))
		if resp.StatusCode != 200 {
			t.Fatalf("post %s: %d %s", id, resp.StatusCode, b)
		}
	}
	retrying := func(n int) func() bool {
		return func() bool { return len(ts.eventIDsIn("retry")) == n }
	}

	post("qa-1")
	waitForDeadline(t, 20*time.Second, "the first event to wait for its retry", retrying(1))
	var ev eventsAnswer
	ts.apiGet("/v1/events?state=retry", &ev)
	if d := ev.Events[0].Deliveries; len(d) != 1 || d[0].Attempt != 1 || !strings.Contains(d[0].LastError, "exit status 3") {
		t.Errorf("retrying delivery = %+v, want attempt 1 with the runbook's exit status", d)
	}
	// One delivery in retry is at the threshold, not above: several alert
	// checks later there is still no alert.
	time.Sleep(500 * time.Millisecond)
	if fs := ts.findings("kind=event.alert"); len(fs) != 0 {
		t.Fatalf("alert at the threshold: %+v", fs)
	}

	post("qa-2")
	waitForDeadline(t, 20*time.Second, "both events to wait for their retry", retrying(2))
	var alerts []findingView
	waitForDeadline(t, 10*time.Second, "the queue alert", func() bool {
		alerts = ts.findings("kind=event.alert")
		return len(alerts) > 0
	})
	if len(alerts) != 1 {
		t.Fatalf("alerts = %+v, want one", alerts)
	}
	a := alerts[0]
	if a.Status != "open" || a.Finding.Severity != "critical" || a.Finding.Resource.Name != "retry-backlog" ||
		!strings.Contains(a.Finding.Message, "2 deliveries in state retry") {
		t.Errorf("alert = %+v, want an open critical retry-backlog alert counting 2 retrying deliveries", a)
	}
}
