package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"

	"plumb/internal/config"
	"plumb/internal/enforce"
	"plumb/internal/findings"
	"plumb/internal/model"
	"plumb/internal/queue"
	"plumb/internal/scan"
	"plumb/internal/testenv"
)

// TestEnforceActUsage: mistakes on the command line of release and
// isolate are exit 1 with a message that says what to fix, before any
// request is made.
func TestEnforceActUsage(t *testing.T) {
	t.Setenv("PLUMB_SERVER", "")
	dir := t.TempDir()
	one := writeFile(t, dir, "one.yaml", "environments: [{name: prod}]\n")
	data := filepath.Join(dir, "data")
	srv := "http://127.0.0.1:1"
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"enforce", "release"}, "accepts 1 arg(s), received 0"},
		{[]string{"enforce", "release", "fp1", "--data-dir", data}, "--config plumb.yaml is required with --data-dir"},
		{[]string{"enforce", "release", "fp1", "--config", one, "--data-dir", filepath.Join(dir, "missing")}, "the quarantine was recorded in another store"},
		{[]string{"enforce", "release", "fp1", "--config", one, "--data-dir", data, "-o", "yaml"}, `--output "yaml": want table or json`},
		{[]string{"enforce", "isolate", "aws_instance.i-1", "--env", "prod", "--reason", "x"}, "isolate runs through plumb serve: pass --server URL"},
		{[]string{"enforce", "isolate", "aws_instance.i-1", "--reason", "x", "--server", srv}, "--env is required"},
		{[]string{"enforce", "isolate", "aws_instance.i-1", "--env", "prod", "--server", srv}, "--reason is required"},
		{[]string{"enforce", "isolate", "i-1", "--env", "prod", "--reason", "x", "--server", srv}, `resource "i-1": want TYPE.ID`},
		{[]string{"enforce", "isolate", "aws_instance.i-1", "--env", "prod", "--reason", "x", "--server", srv, "-o", "yaml"}, `--output "yaml": want table or json`},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.args[1:], " "), func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if code := run(tc.args, &stdout, &stderr); code != exitError {
				t.Fatalf("exit %d, want 1\n%s%s", code, stdout.String(), stderr.String())
			}
			if !strings.Contains(stderr.String(), tc.want) {
				t.Errorf("stderr lacks %q:\n%s", tc.want, stderr.String())
			}
		})
	}
}

// TestEnforceIsolateAndReleaseThroughServer: plumb enforce isolate and
// release against a running plumb serve and moto. The API token cannot
// isolate; --token with the operator's credential can, and the command
// waits for the instance to sit in the isolation group; a release with
// the API token is refused, one with $PLUMB_OPERATOR_TOKEN puts the
// instance's groups back.
func TestEnforceIsolateAndReleaseThroughServer(t *testing.T) {
	moto := testenv.StartMoto(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	awsCfg := moto.Config(t, "us-east-1")
	instance, groups := cliInstance(t, ctx, awsCfg)

	dir := t.TempDir()
	state := writeFile(t, dir, "prod.tfstate", `{"version": 4, "terraform_version": "1.11.4", "serial": 1, "lineage": "cli-isolate", "outputs": {},
  "resources": [{"mode": "managed", "type": "aws_instance", "name": "web", "provider": "provider[\"registry.terraform.io/hashicorp/aws\"]",
    "instances": [{"schema_version": 1, "attributes": {"id": "`+instance+`", "instance_type": "t3.micro", "tags": {}, "tags_all": {}}}]}]}`)
	cfgPath := writeFile(t, dir, "plumb.yaml", fmt.Sprintf(`server:
  api_token: {env: PLUMB_TEST_API_TOKEN}
  operator_token: {env: PLUMB_TEST_OPERATOR_TOKEN}
environments:
  - name: prod
    states: [%q]
    regions: [us-east-1]
    accounts: ["123456789012"]
`, state))
	const apiToken, opToken = "cli-api-token", "cli-operator-token"
	t.Setenv("PLUMB_TEST_API_TOKEN", apiToken)
	t.Setenv("PLUMB_TEST_OPERATOR_TOKEN", opToken)
	t.Setenv("PLUMB_API_TOKEN", apiToken)
	t.Setenv("PLUMB_OPERATOR_TOKEN", "")
	t.Setenv("PLUMB_SERVER", "")
	cfg, err := config.Load(cfgPath, os.Getenv)
	if err != nil {
		t.Fatal(err)
	}
	base := runServer(t, cfg)

	isolate := []string{"enforce", "isolate", "aws_instance." + instance, "--env", "prod", "--server", base,
		"--reason", "C2 traffic seen by GuardDuty", "--cve", "CVE-2026-12345", "--actor", "soc"}
	var stdout, stderr bytes.Buffer
	if code := run(isolate, &stdout, &stderr); code != exitError || !strings.Contains(stderr.String(), "403") {
		t.Fatalf("isolate with the API token: exit %d\n%s%s", code, stdout.String(), stderr.String())
	}
	if got := instanceGroups(t, ctx, awsCfg, instance); strings.Join(got, ",") != strings.Join(groups, ",") {
		t.Fatalf("a refused isolation changed the groups: %v", got)
	}

	stdout.Reset()
	stderr.Reset()
	if code := run(append(isolate, "--token", opToken, "-o", "json"), &stdout, &stderr); code != exitOK {
		t.Fatalf("isolate: exit %d\n%s%s", code, stdout.String(), stderr.String())
	}
	var p enforce.Plan
	if err := json.Unmarshal(stdout.Bytes(), &p); err != nil || len(p.Actions) != 1 {
		t.Fatalf("isolate output %v: %s", err, stdout.String())
	}
	a := p.Actions[0]
	if a.State != enforce.StateSucceeded || a.Verb != enforce.VerbQuarantine || a.Actor != "soc" || a.Kind != model.KindIsolated {
		t.Errorf("isolation action %+v", a)
	}
	fp := a.Fingerprint
	if !strings.Contains(stderr.String(), "release with: plumb enforce release "+fp+" --server "+base) {
		t.Errorf("isolate does not say how to release:\n%s", stderr.String())
	}
	if got := instanceGroups(t, ctx, awsCfg, instance); len(got) != 1 || got[0] == groups[0] {
		t.Errorf("isolated instance has groups %v", got)
	}

	stdout.Reset()
	stderr.Reset()
	release := []string{"enforce", "release", fp, "--server", base, "--reason", "patched", "--actor", "soc"}
	if code := run(release, &stdout, &stderr); code != exitError || !strings.Contains(stderr.String(), "403") {
		t.Fatalf("release with the API token: exit %d\n%s%s", code, stdout.String(), stderr.String())
	}
	t.Setenv("PLUMB_OPERATOR_TOKEN", opToken)
	stdout.Reset()
	stderr.Reset()
	if code := run(release, &stdout, &stderr); code != exitOK {
		t.Fatalf("release: exit %d\n%s%s", code, stdout.String(), stderr.String())
	}
	if !strings.Contains(stdout.String(), "release") || !strings.Contains(stdout.String(), "done:") {
		t.Errorf("release table:\n%s", stdout.String())
	}
	if got := instanceGroups(t, ctx, awsCfg, instance); strings.Join(got, ",") != strings.Join(groups, ",") {
		t.Errorf("released instance has groups %v, want %v", got, groups)
	}
	stdout.Reset()
	stderr.Reset()
	if code := run(release, &stdout, &stderr); code != exitError || !strings.Contains(stderr.String(), "404") {
		t.Errorf("second release: exit %d\n%s%s", code, stdout.String(), stderr.String())
	}
}

// TestEnforceQuarantineAndReleaseLocal: with --config and --data-dir,
// plumb enforce --apply quarantines an unmanaged bucket (public access
// block, deny-all policy) and plumb enforce release FINGERPRINT takes
// both away again, as they were (none), recorded in plumb enforce log.
func TestEnforceQuarantineAndReleaseLocal(t *testing.T) {
	moto := testenv.StartMoto(t)
	ctx := context.Background()
	s3c := s3.NewFromConfig(moto.Config(t, "us-east-1"), func(o *s3.Options) { o.UsePathStyle = true })
	const bucket = "stray-bucket"
	if _, err := s3c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	state := writeFile(t, dir, "prod.tfstate", `{"version": 4, "terraform_version": "1.11.4", "serial": 1, "lineage": "x", "outputs": {}, "resources": []}`)
	cfgPath := writeFile(t, dir, "plumb.yaml", fmt.Sprintf(`environments:
  - name: staging
    states: [%q]
    regions: [us-east-1]
    accounts: ["123456789012"]
    enforcement: {unmanaged: quarantine, dry_run: false, max_fraction: 1}
`, state))
	data := filepath.Join(dir, "data")
	fp := seedScan(t, ctx, "staging", state, data)
	t.Setenv("PLUMB_SERVER", "")

	var stdout, stderr bytes.Buffer
	if code := run([]string{"enforce", "--config", cfgPath, "--data-dir", data, "--apply", "--actor", "dana"}, &stdout, &stderr); code != exitOK {
		t.Fatalf("apply: exit %d\n%s%s", code, stdout.String(), stderr.String())
	}
	if !strings.Contains(stdout.String(), "quarantine") || bucketPolicy(t, ctx, s3c, bucket) == "" {
		t.Fatalf("bucket not quarantined:\n%s", stdout.String())
	}
	stdout.Reset()
	stderr.Reset()
	if code := run([]string{"enforce", "release", fp, "--config", cfgPath, "--data-dir", data, "--reason", "claimed by team-a", "--actor", "dana", "-o", "json"}, &stdout, &stderr); code != exitOK {
		t.Fatalf("release: exit %d\n%s%s", code, stdout.String(), stderr.String())
	}
	var p enforce.Plan
	if err := json.Unmarshal(stdout.Bytes(), &p); err != nil || len(p.Actions) != 1 || p.Actions[0].State != enforce.StateSucceeded ||
		p.Actions[0].Verb != enforce.VerbRelease || !strings.Contains(p.Actions[0].Why, "claimed by team-a") {
		t.Fatalf("release output %v: %s", err, stdout.String())
	}
	if got := bucketPolicy(t, ctx, s3c, bucket); got != "" {
		t.Errorf("released bucket still has a policy: %s", got)
	}
	if _, err := s3c.GetPublicAccessBlock(ctx, &s3.GetPublicAccessBlockInput{Bucket: aws.String(bucket)}); err == nil {
		t.Error("released bucket still has a public access block (it had none)")
	}
	stdout.Reset()
	if code := run([]string{"enforce", "log", "--data-dir", data, "--state", "released"}, &stdout, &stderr); code != exitOK ||
		!strings.Contains(stdout.String(), "quarantine") || !strings.Contains(stdout.String(), "released by dana") {
		t.Errorf("log: exit %d\n%s%s", code, stdout.String(), stderr.String())
	}
}

// seedScan stores what a scan of the environment with a delivered
// notification two hours ago leaves behind, and returns the fingerprint
// of its one finding.
func seedScan(t *testing.T, ctx context.Context, env, state, data string) string {
	t.Helper()
	out, err := scan.Run(ctx, scan.Options{Environment: env, States: []string{state}, Regions: []string{"us-east-1"},
		Types: []string{"aws_s3_bucket"}, AllowEmptyState: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Report.Findings) != 1 {
		t.Fatalf("scan found %d findings, want 1", len(out.Report.Findings))
	}
	q, err := queue.Open(ctx, queue.Options{DataDir: data, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	store, err := findings.NewStore(ctx, q.DB(), q.Dialect())
	if err != nil {
		t.Fatal(err)
	}
	past := time.Now().Add(-2 * time.Hour)
	if _, err := store.Reconcile(ctx, past, env, []model.Kind{model.KindUnmanaged}, out.Report.Findings, out.Covered); err != nil {
		t.Fatal(err)
	}
	fp := out.Report.Findings[0].Fingerprint
	if err := store.MarkNotified(ctx, past, "team", []string{fp}); err != nil {
		t.Fatal(err)
	}
	return fp
}

// cliInstance starts an instance with one security group of its own in
// the default VPC, and returns it and its groups.
func cliInstance(t *testing.T, ctx context.Context, cfg aws.Config) (string, []string) {
	t.Helper()
	c := ec2.NewFromConfig(cfg)
	vpcs, err := c.DescribeVpcs(ctx, &ec2.DescribeVpcsInput{})
	if err != nil || len(vpcs.Vpcs) == 0 {
		t.Fatalf("DescribeVpcs: %v", err)
	}
	subnets, err := c.DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{Filters: []ec2types.Filter{{Name: aws.String("vpc-id"), Values: []string{aws.ToString(vpcs.Vpcs[0].VpcId)}}}})
	if err != nil || len(subnets.Subnets) == 0 {
		t.Fatalf("DescribeSubnets: %v", err)
	}
	g, err := c.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{GroupName: aws.String("web"), Description: aws.String("web"), VpcId: vpcs.Vpcs[0].VpcId})
	if err != nil {
		t.Fatal(err)
	}
	images, err := c.DescribeImages(ctx, &ec2.DescribeImagesInput{Owners: []string{"amazon"}})
	if err != nil || len(images.Images) == 0 {
		t.Fatalf("DescribeImages: %v", err)
	}
	out, err := c.RunInstances(ctx, &ec2.RunInstancesInput{ImageId: images.Images[0].ImageId, InstanceType: ec2types.InstanceTypeT3Micro,
		MinCount: aws.Int32(1), MaxCount: aws.Int32(1), SubnetId: subnets.Subnets[0].SubnetId, SecurityGroupIds: []string{aws.ToString(g.GroupId)}})
	if err != nil {
		t.Fatal(err)
	}
	id := aws.ToString(out.Instances[0].InstanceId)
	return id, instanceGroups(t, ctx, cfg, id)
}

// instanceGroups reads an instance's security groups back from moto.
func instanceGroups(t *testing.T, ctx context.Context, cfg aws.Config, id string) []string {
	t.Helper()
	out, err := ec2.NewFromConfig(cfg).DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{id}})
	if err != nil {
		t.Fatal(err)
	}
	var gs []string
	for _, g := range out.Reservations[0].Instances[0].SecurityGroups {
		gs = append(gs, aws.ToString(g.GroupId))
	}
	return gs
}

// bucketPolicy reads a bucket's policy; "" when it has none.
func bucketPolicy(t *testing.T, ctx context.Context, c *s3.Client, bucket string) string {
	t.Helper()
	out, err := c.GetBucketPolicy(ctx, &s3.GetBucketPolicyInput{Bucket: aws.String(bucket)})
	var ae smithy.APIError
	if errors.As(err, &ae) && ae.ErrorCode() == "NoSuchBucketPolicy" {
		return ""
	}
	if err != nil {
		t.Fatal(err)
	}
	return aws.ToString(out.Policy)
}
