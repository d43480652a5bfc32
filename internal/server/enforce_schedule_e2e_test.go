package server

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"

	"plumb/internal/enforce"
	"plumb/internal/testenv"
)

// TestE2EScheduledScanEnforces: after each scheduled scan of prod
// (unmanaged: quarantine, grace 0s, armed), plumb serve quarantines the
// bucket no state declares, as actor "schedule", once: later scans find
// it quarantined already. The declared bucket is untouched, and the test
// environment, which only reports, acts on nothing.
func TestE2EScheduledScanEnforces(t *testing.T) {
	moto := testenv.StartMoto(t)
	ctx := context.Background()
	s3c := s3.NewFromConfig(moto.Config(t, "us-east-1"), func(o *s3.Options) { o.UsePathStyle = true })
	for _, b := range []string{"plumb-declared", "plumb-undeclared"} {
		if _, err := s3c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(b)}); err != nil {
			t.Fatalf("create bucket %s: %v", b, err)
		}
	}
	state, err := filepath.Abs("testdata/e2e/declared-bucket.tfstate")
	if err != nil {
		t.Fatal(err)
	}
	// The test environment's state declares a bucket of its own, so both
	// buckets of the account are unmanaged there (it only reports).
	raw, err := os.ReadFile(state)
	if err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(t.TempDir(), "test.tfstate")
	writeFile(t, empty, strings.ReplaceAll(string(raw), "plumb-declared", "plumb-test-only"))
	ts := runE2E(t, fmt.Sprintf(`
server:
  api_token: {env: TOKEN}
environments:
  - name: prod
    regions: [us-east-1]
    states: [%s]
    schedule: "@every 1s"
    accounts: ["123456789012"]
    enforcement: {unmanaged: quarantine, grace: 0s, dry_run: false, max_fraction: 1}
  - name: test
    regions: [us-east-1]
    states: [%s]
    schedule: "@every 1s"
    enforcement: report
`, state, empty), nil, nil)

	policy := func(bucket string) string {
		out, err := s3c.GetBucketPolicy(ctx, &s3.GetBucketPolicyInput{Bucket: aws.String(bucket)})
		var ae smithy.APIError
		if errors.As(err, &ae) && ae.ErrorCode() == "NoSuchBucketPolicy" {
			return ""
		}
		if err != nil {
			t.Fatalf("policy of %s: %v", bucket, err)
		}
		return aws.ToString(out.Policy)
	}
	quarantines := func() []enforce.Action {
		var page struct {
			Actions []enforce.Action `json:"actions"`
		}
		ts.apiGet("/v1/actions?state=succeeded&limit=1000", &page)
		var out []enforce.Action
		for _, a := range page.Actions {
			if a.Verb == enforce.VerbQuarantine {
				out = append(out, a)
			}
		}
		return out
	}
	waitForDeadline(t, 90*time.Second, "the scheduled quarantine", func() bool { return len(quarantines()) > 0 })
	// Later scans see the finding again and must not act twice.
	waitForDeadline(t, 90*time.Second, "two more scans of prod", func() bool {
		for _, f := range ts.findings("kind=drift.unmanaged&environment=prod") {
			if f.Finding.Resource.ID == "plumb-undeclared" && f.Count >= 3 {
				return true
			}
		}
		return false
	})
	qs := quarantines()
	if len(qs) != 1 {
		t.Fatalf("%d quarantines, want 1: %+v", len(qs), qs)
	}
	q := qs[0]
	if q.Resource.ID != "plumb-undeclared" || q.Environment != "prod" || q.Actor != enforce.ActorSchedule || len(q.Before) == 0 {
		t.Errorf("quarantine %+v", q)
	}
	if p := policy("plumb-undeclared"); !strings.Contains(p, "PlumbQuarantine") {
		t.Errorf("undeclared bucket's policy %q", p)
	}
	if p := policy("plumb-declared"); p != "" {
		t.Errorf("the declared bucket got a policy: %s", p)
	}
	waitForDeadline(t, 90*time.Second, "the test environment to report both buckets", func() bool {
		return len(ts.findings("kind=drift.unmanaged&environment=test&status=open")) == 2
	})
	var page struct {
		Actions []enforce.Action `json:"actions"`
	}
	ts.apiGet("/v1/actions?environment=test&limit=1000", &page)
	if len(page.Actions) != 0 {
		t.Errorf("the test environment, which only reports, has actions: %+v", page.Actions)
	}
}
