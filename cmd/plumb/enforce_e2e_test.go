package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"plumb/internal/demo"
	"plumb/internal/enforce"
	enforceaws "plumb/internal/enforce/aws"
	"plumb/internal/receivers/github/githubtest"
	"plumb/internal/testenv"
)

// testEnvTerraform is the test environment's code: a queue in
// eu-west-1, and a cache bucket in us-east-1 that the test environment
// owns although it lives in prod's region.
const testEnvTerraform = `terraform {
  required_providers {
    aws = { source = "hashicorp/aws", version = "5.100.0" }
  }
}
variable "endpoint" { type = string }
%s
resource "aws_sqs_queue" "jobs" { name = "plumb-test-jobs" }
resource "aws_s3_bucket" "shared" {
  provider = aws.east
  bucket   = "plumb-shared-cache"
}
`

// motoProvider is an AWS provider block for moto in a region.
func motoProvider(alias, region string) string {
	var b strings.Builder
	b.WriteString("provider \"aws\" {\n")
	if alias != "" {
		fmt.Fprintf(&b, "  alias = %q\n", alias)
	}
	fmt.Fprintf(&b, "  region = %q\n  access_key = \"testing\"\n  secret_key = \"testing\"\n", region)
	b.WriteString("  skip_credentials_validation = true\n  skip_metadata_api_check = true\n  skip_region_validation = true\n  s3_use_path_style = true\n")
	b.WriteString("  endpoints {\n")
	for _, s := range []string{"s3", "sqs", "sts", "iam"} {
		fmt.Fprintf(&b, "    %s = var.endpoint\n", s)
	}
	b.WriteString("  }\n}\n")
	return b.String()
}

const enforceYAML = `server:
  api_token: {env: PLUMB_TEST_API_TOKEN}
environments:
  - name: prod
    states: [%q]
    regions: [us-east-1]
    accounts: ["123456789012"]
    enforcement:
      unmanaged: delete
      grace: 1h
      max_actions: 10
      max_fraction: 0.2
      dry_run: false
  - name: test
    states: [%q]
    regions: [eu-west-1]
    enforcement: report
route:
  receiver: gh-issues
receivers:
  - name: gh-issues
    github_issue:
      repository: acme/infra
      base_url: %s
      auth:
        token: {env: PLUMB_TEST_GH_TOKEN}
`

// TestEnforceEndToEnd: a real Terraform estate per environment, resources
// made by hand in both, scans with --notify, then plumb enforce in prod:
// a dry run first, an apply inside the grace period, an apply after it
// (fake clock). Exactly prod's unmanaged resources go; the protected one,
// the one the test environment's code declares, everything Terraform
// manages and the test environment's identical hand-made resources stay.
func TestEnforceEndToEnd(t *testing.T) {
	moto := testenv.StartMoto(t)
	tf := testenv.NewTerraform(t)
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()

	prodDir, testDir := t.TempDir(), t.TempDir()
	prodState, err := demo.Apply(ctx, tf, prodDir, moto.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	src := fmt.Sprintf(testEnvTerraform, motoProvider("", "eu-west-1")+motoProvider("east", "us-east-1"))
	if err := os.WriteFile(filepath.Join(testDir, "main.tf"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"init", "-input=false", "-no-color"}, {"apply", "-auto-approve", "-input=false", "-no-color"}} {
		if _, err := tf.Run(ctx, testDir, args...); err != nil {
			t.Fatal(err)
		}
	}
	testState := filepath.Join(testDir, "terraform.tfstate")

	// By hand, in both regions: the same names.
	east, west := moto.Config(t, "us-east-1"), moto.Config(t, "eu-west-1")
	for _, cfg := range []aws.Config{east, west} {
		byHand(t, ctx, cfg)
	}
	protected := "by-hand-protected"
	mustDo(t, "create protected bucket", func() error {
		_, err := e2eS3(east).CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(protected)})
		return err
	})
	mustDo(t, "tag protected bucket", func() error {
		_, err := e2eS3(east).PutBucketTagging(ctx, &s3.PutBucketTaggingInput{Bucket: aws.String(protected),
			Tagging: &s3types.Tagging{TagSet: []s3types.Tag{{Key: aws.String("plumb:protect"), Value: aws.String("ci-cache")}}}})
		return err
	})

	fake := githubtest.New(t, "acme", "infra")
	fake.SetToken("ghp_enforcetest0123456789")
	t.Setenv("PLUMB_TEST_GH_TOKEN", "ghp_enforcetest0123456789")
	t.Setenv("PLUMB_TEST_API_TOKEN", "enforce-api-token")
	work := t.TempDir()
	cfgPath := filepath.Join(work, "plumb.yaml")
	if err := os.WriteFile(cfgPath, []byte(fmt.Sprintf(enforceYAML, prodState, testState, fake.BaseURL())), 0o600); err != nil {
		t.Fatal(err)
	}
	dataDir := filepath.Join(work, "data")
	t.Chdir(work)

	scanned := time.Now()
	for _, s := range []struct{ env, state, region string }{{"prod", prodState, "us-east-1"}, {"test", testState, "eu-west-1"}} {
		var stdout, stderr bytes.Buffer
		args := []string{"scan", "--config", cfgPath, "--notify", "--data-dir", dataDir, "--notify-wait", "60s",
			"--env", s.env, "--state", s.state, "--region", s.region, "-o", "json"}
		if s.env == "test" {
			// The test environment's cache bucket lives in us-east-1,
			// outside the region scanned: plumb reports it as not
			// evaluated, and this scan accepts that.
			args = append(args, "--allow-partial")
		}
		code := run(args, &stdout, &stderr)
		if code != 2 {
			t.Fatalf("scan %s: exit %d\n%s\n%s", s.env, code, stderr.String(), stdout.String())
		}
		if strings.Contains(stderr.String(), "not delivered yet") {
			t.Fatalf("scan %s: notifications not delivered:\n%s", s.env, stderr.String())
		}
	}

	ex, err := enforceaws.New(ctx)
	if err != nil {
		t.Fatal(err)
	}
	enforceRun := func(at time.Time, wantCode int, args ...string) *enforce.Plan {
		t.Helper()
		var stdout, stderr bytes.Buffer
		deps := enforceDeps{now: func() time.Time { return at }, executors: map[string]enforce.Executor{"aws": ex}}
		code := runWith(append([]string{"enforce", "--env", "prod", "--config", cfgPath, "--data-dir", dataDir, "-o", "json", "--actor", "e2e"}, args...),
			&stdout, &stderr, deps)
		if code != wantCode {
			t.Fatalf("plumb enforce %v: exit %d, want %d\nstderr: %s\nstdout: %s", args, code, wantCode, stderr.String(), stdout.String())
		}
		var p enforce.Plan
		if err := json.Unmarshal(stdout.Bytes(), &p); err != nil {
			t.Fatalf("decode plan: %v\n%s", err, stdout.String())
		}
		return &p
	}
	outcome := func(p *enforce.Plan) string {
		var lines []string
		for _, a := range p.Actions {
			detail := a.Guard
			if a.State == enforce.StateSucceeded {
				detail = "done"
			}
			lines = append(lines, fmt.Sprintf("%s %s %s", a.Resource.Type, a.Resource.Name, string(a.State)+":"+detail))
		}
		sort.Strings(lines)
		return strings.Join(lines, "\n")
	}

	// 1. A dry run: the plan, no write.
	_, w0 := ex.Calls()
	dry := enforceRun(scanned.Add(2*time.Hour), 2)
	if _, w1 := ex.Calls(); w1 != w0 {
		t.Errorf("dry run made %d writes", w1-w0)
	}
	want := strings.Join([]string{
		"aws_cloudwatch_log_group /by-hand/logs blocked:dry-run",
		"aws_s3_bucket by-hand-protected blocked:protect-tag",
		"aws_s3_bucket by-hand-tmp blocked:dry-run",
		"aws_s3_bucket plumb-shared-cache blocked:declared",
		"aws_security_group by-hand-sg blocked:dry-run",
		"aws_sqs_queue by-hand-queue blocked:dry-run",
	}, "\n")
	if got := outcome(dry); got != want {
		t.Fatalf("dry run plan:\n%s\nwant:\n%s", got, want)
	}

	// 2. Applied inside the grace period: nothing is done.
	early := enforceRun(time.Now(), 2, "--apply")
	for _, a := range early.Actions {
		if a.State != enforce.StateBlocked {
			t.Errorf("inside the grace period %s %s is %s", a.Resource.Type, a.Resource.Name, a.State)
		}
		if a.Guard == enforce.GuardDryRun {
			t.Errorf("%s stopped by the dry run in an apply", a.Resource.Name)
		}
	}
	if _, w1 := ex.Calls(); w1 != w0 {
		t.Errorf("an apply inside the grace period made %d writes", w1-w0)
	}

	// 3. After the grace period: exactly the unmanaged ones go.
	applied := enforceRun(scanned.Add(2*time.Hour), 2, "--apply")
	want = strings.Join([]string{
		"aws_cloudwatch_log_group /by-hand/logs succeeded:done",
		"aws_s3_bucket by-hand-protected blocked:protect-tag",
		"aws_s3_bucket by-hand-tmp succeeded:done",
		"aws_s3_bucket plumb-shared-cache blocked:declared",
		"aws_security_group by-hand-sg succeeded:done",
		"aws_sqs_queue by-hand-queue succeeded:done",
	}, "\n")
	if got := outcome(applied); got != want {
		t.Fatalf("applied:\n%s\nwant:\n%s", got, want)
	}
	assertEstate(t, ctx, east, west, protected)

	// The owning team heard: each deleted resource's issue is closed with
	// what plumb did.
	closed := 0
	for _, iss := range fake.Issues() {
		for _, c := range iss.Comments {
			if strings.Contains(c, "Deleted by plumb enforce") {
				closed++
				if iss.State != "closed" {
					t.Errorf("issue %q commented but %s", iss.Title, iss.State)
				}
			}
		}
	}
	if closed != 4 {
		t.Errorf("%d issues closed as deleted by plumb, want 4", closed)
	}

	// 4. The audit trail.
	var stdout, stderr bytes.Buffer
	if code := run([]string{"enforce", "log", "--env", "prod", "--data-dir", dataDir, "--state", "succeeded", "-o", "json"}, &stdout, &stderr); code != 0 {
		t.Fatalf("enforce log: exit %d: %s", code, stderr.String())
	}
	var log []enforce.Action
	if err := json.Unmarshal(stdout.Bytes(), &log); err != nil {
		t.Fatal(err)
	}
	if len(log) != 4 {
		t.Fatalf("log has %d succeeded actions, want 4", len(log))
	}
	for _, a := range log {
		writes := 0
		for _, c := range a.Calls {
			if c.Write {
				writes++
			}
		}
		if a.Actor != "e2e" || len(a.Before) == 0 || writes == 0 || a.Result == "" {
			t.Errorf("record of %s: actor %q, before %d bytes, %d writes, result %q", a.Resource.ID, a.Actor, len(a.Before), writes, a.Result)
		}
	}

	// 5. Again: the deleted findings are resolved, nothing is written,
	// the two spared resources are still stopped by their guards.
	_, w2 := ex.Calls()
	again := enforceRun(scanned.Add(3*time.Hour), 2, "--apply")
	if _, w3 := ex.Calls(); w3 != w2 {
		t.Errorf("second apply made %d writes", w3-w2)
	}
	if got := outcome(again); got != "aws_s3_bucket by-hand-protected blocked:protect-tag\naws_s3_bucket plumb-shared-cache blocked:declared" {
		t.Errorf("second apply:\n%s", got)
	}
	assertEstate(t, ctx, east, west, protected)
}

// byHand creates the hand-made resources of one region.
func byHand(t *testing.T, ctx context.Context, cfg aws.Config) {
	t.Helper()
	bucket := "by-hand-tmp"
	if cfg.Region != "us-east-1" {
		bucket = "by-hand-test-tmp"
	}
	mustDo(t, "create bucket", func() error {
		in := &s3.CreateBucketInput{Bucket: aws.String(bucket)}
		if cfg.Region != "us-east-1" {
			in.CreateBucketConfiguration = &s3types.CreateBucketConfiguration{LocationConstraint: s3types.BucketLocationConstraint(cfg.Region)}
		}
		_, err := e2eS3(cfg).CreateBucket(ctx, in)
		return err
	})
	mustDo(t, "create queue", func() error {
		_, err := sqs.NewFromConfig(cfg).CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("by-hand-queue")})
		return err
	})
	mustDo(t, "create log group", func() error {
		_, err := cloudwatchlogs.NewFromConfig(cfg).CreateLogGroup(ctx, &cloudwatchlogs.CreateLogGroupInput{LogGroupName: aws.String("/by-hand/logs")})
		return err
	})
	mustDo(t, "create security group", func() error {
		_, err := ec2.NewFromConfig(cfg).CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{GroupName: aws.String("by-hand-sg"), Description: aws.String("by hand"),
			TagSpecifications: []ec2types.TagSpecification{{ResourceType: ec2types.ResourceTypeSecurityGroup,
				Tags: []ec2types.Tag{{Key: aws.String("Name"), Value: aws.String("by-hand-sg")}}}}})
		return err
	})
}

// assertEstate reads moto back: prod's hand-made resources are gone,
// everything else stays.
func assertEstate(t *testing.T, ctx context.Context, east, west aws.Config, protected string) {
	t.Helper()
	for _, b := range []struct {
		cfg    aws.Config
		name   string
		exists bool
	}{
		{east, "by-hand-tmp", false}, {east, protected, true}, {east, "plumb-shared-cache", true},
		{east, demo.UnmanagedBucket, false}, {east, "plumb-demo-assets", true}, {west, "by-hand-test-tmp", true},
	} {
		_, err := e2eS3(b.cfg).HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(b.name)})
		if (err == nil) != b.exists {
			t.Errorf("bucket %s: exists %v, want %v", b.name, err == nil, b.exists)
		}
	}
	for _, q := range []struct {
		cfg    aws.Config
		name   string
		exists bool
	}{{east, "by-hand-queue", false}, {west, "by-hand-queue", true}, {east, demo.DeletedQueue, true}, {west, "plumb-test-jobs", true}} {
		_, err := sqs.NewFromConfig(q.cfg).GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String(q.name)})
		if (err == nil) != q.exists {
			t.Errorf("queue %s in %s: exists %v, want %v", q.name, q.cfg.Region, err == nil, q.exists)
		}
	}
	for _, cfg := range []aws.Config{east, west} {
		lg, err := cloudwatchlogs.NewFromConfig(cfg).DescribeLogGroups(ctx, &cloudwatchlogs.DescribeLogGroupsInput{LogGroupNamePrefix: aws.String("/by-hand/logs")})
		if err != nil {
			t.Fatal(err)
		}
		if want := cfg.Region != "us-east-1"; (len(lg.LogGroups) == 1) != want {
			t.Errorf("log group in %s: %d, exists want %v", cfg.Region, len(lg.LogGroups), want)
		}
		sgs, err := ec2.NewFromConfig(cfg).DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{
			Filters: []ec2types.Filter{{Name: aws.String("group-name"), Values: []string{"by-hand-sg"}}}})
		if err != nil {
			t.Fatal(err)
		}
		if want := cfg.Region != "us-east-1"; (len(sgs.SecurityGroups) == 1) != want {
			t.Errorf("security group in %s: %d, exists want %v", cfg.Region, len(sgs.SecurityGroups), want)
		}
	}
	// What Terraform manages in prod is untouched.
	vpcs, err := ec2.NewFromConfig(east).DescribeVpcs(ctx, &ec2.DescribeVpcsInput{Filters: []ec2types.Filter{{Name: aws.String("tag:Name"), Values: []string{demo.ChangedVPCName}}}})
	if err != nil || len(vpcs.Vpcs) != 1 {
		t.Errorf("demo VPC: %v %v", vpcs, err)
	}
}

func e2eS3(cfg aws.Config) *s3.Client {
	return s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true })
}

func mustDo(t *testing.T, what string, fn func() error) {
	t.Helper()
	if err := fn(); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}
