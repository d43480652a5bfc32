package tfrevert_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"plumb/internal/config"
	"plumb/internal/enforce"
	enforceaws "plumb/internal/enforce/aws"
	"plumb/internal/enforce/tfrevert"
	"plumb/internal/findings"
	"plumb/internal/model"
	"plumb/internal/queue"
	"plumb/internal/scan"
	"plumb/internal/testenv"
)

const region = "us-east-1"

// mainTF is the code under test: a VPC with tags, a security group with
// one inline ingress rule in it, and a bucket.
const mainTF = `
resource "aws_vpc" "main" {
  cidr_block = "10.0.0.0/16"
  tags       = { Name = "revert-e2e", env = "test" }
}

resource "aws_security_group" "web" {
  name        = "web"
  description = "web"
  vpc_id      = aws_vpc.main.id
  ingress {
    from_port   = 443
    to_port     = 443
    protocol    = "tcp"
    cidr_blocks = ["10.0.0.0/16"]
  }
  egress {
    from_port   = 0
    to_port     = 0
    protocol    = "-1"
    cidr_blocks = ["0.0.0.0/0"]
  }
}

resource "aws_s3_bucket" "assets" {
  bucket = "plumb-revert-assets"
}
`

// bed is a Terraform root applied to moto, and plumb wired over it as
// plumb serve wires it: stores, executor, Terraform reverter, runner,
// service and approvals. Queued runs are dispatched by dispatch.
type bed struct {
	t        *testing.T
	moto     *testenv.Moto
	aws      aws.Config
	tf       *testenv.Terraform
	tfDir    string
	dir      string
	findings *findings.Store
	actions  *enforce.Store
	ex       *enforceaws.Executor
	rev      *tfrevert.Reverter
	runner   *enforce.Runner
	now      time.Time
	queued   []queue.Item

	mu     sync.Mutex
	tfTime time.Duration
}

func newBed(t *testing.T) *bed {
	t.Helper()
	b := &bed{t: t, moto: testenv.StartMoto(t), tf: testenv.NewTerraform(t), tfDir: t.TempDir(), dir: t.TempDir(), now: time.Now().UTC()}
	b.aws = b.moto.Config(t, region)
	b.writeTF(mainTF)
	ctx := context.Background()
	if _, err := b.tf.Run(ctx, b.tfDir, "init", "-input=false", "-no-color"); err != nil {
		t.Fatal(err)
	}
	if _, err := b.tf.Run(ctx, b.tfDir, "apply", "-auto-approve", "-input=false", "-no-color"); err != nil {
		t.Fatal(err)
	}
	q, err := queue.Open(ctx, queue.Options{DataDir: b.dir, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = q.Close() })
	if b.findings, err = findings.NewStore(ctx, q.DB(), q.Dialect()); err != nil {
		t.Fatal(err)
	}
	if b.actions, err = enforce.NewStore(ctx, q.DB(), q.Dialect()); err != nil {
		t.Fatal(err)
	}
	if b.ex, err = enforceaws.New(ctx); err != nil {
		t.Fatal(err)
	}
	b.rev = &tfrevert.Reverter{Bin: b.tf.Bin, Env: []string{"TF_CLI_CONFIG_FILE=" + b.tf.CLIConfig},
		Observe: func(_ string, d time.Duration) { b.mu.Lock(); b.tfTime += d; b.mu.Unlock() }}
	return b
}

func (b *bed) writeTF(body string) {
	b.t.Helper()
	if err := os.WriteFile(filepath.Join(b.tfDir, "main.tf"), []byte(testenv.MotoProvider(b.moto.Endpoint)+body), 0o644); err != nil {
		b.t.Fatal(err)
	}
}

// config loads plumb.yaml for the bed's Terraform root with extra
// environment settings.
func (b *bed) config(extra string) *config.Config {
	b.t.Helper()
	y := fmt.Sprintf(`environments:
  - name: prod
    states: [%q]
    regions: [us-east-1]
    accounts: ["123456789012"]
    terraform_dir: %q
%s    enforcement:
      changed: revert
      missing: recreate
      grace: 1h
      max_fraction: 1
      dry_run: false
`, filepath.Join(b.tfDir, "terraform.tfstate"), b.tfDir, extra)
	p := filepath.Join(b.dir, "plumb.yaml")
	if err := os.WriteFile(p, []byte(y), 0o644); err != nil {
		b.t.Fatal(err)
	}
	cfg, err := config.Load(p, os.Getenv)
	if err != nil {
		b.t.Fatal(err)
	}
	return cfg
}

// wire builds the runner, service and approvals of a config.
func (b *bed) wire(cfg *config.Config) (*enforce.Service, *enforce.Approvals) {
	execs := map[string]enforce.Executor{"aws": b.ex}
	clock := func() time.Time { return b.now }
	b.runner = &enforce.Runner{Actions: b.actions, Findings: b.findings, Executors: execs, Now: clock, Environment: cfg.Environment,
		Terraform: b.rev,
		Enqueue: func(_ context.Context, items []queue.Item) (queue.EnqueueResult, error) {
			b.queued = append(b.queued, items...)
			return queue.EnqueueResult{Accepted: len(items)}, nil
		}}
	svc := &enforce.Service{Config: cfg, Findings: b.findings, Actions: b.actions, Executors: execs, Runner: b.runner, Now: clock, Terraform: b.rev}
	return svc, &enforce.Approvals{Config: cfg, Actions: b.actions, Runner: b.runner, Now: clock}
}

// scan scans prod from the Terraform state and records the findings as
// notified two hours ago, past the grace period.
func (b *bed) scan(cfg *config.Config) []model.Finding {
	b.t.Helper()
	ctx := context.Background()
	e, _ := cfg.Environment("prod")
	out, err := scan.Run(ctx, scan.Options{Environment: "prod", States: e.States, Regions: e.Regions,
		Types: []string{"aws_vpc", "aws_security_group", "aws_s3_bucket"}, AllowEmptyState: true, Clouds: []string{scan.CloudAWS}})
	if err != nil {
		b.t.Fatal(err)
	}
	if len(out.Report.Errors) > 0 {
		b.t.Fatalf("scan errors: %+v", out.Report.Errors)
	}
	at := b.now.Add(-2 * time.Hour)
	fs := out.Report.Findings
	if _, err := b.findings.Reconcile(ctx, at, "prod", []model.Kind{model.KindUnmanaged, model.KindMissing, model.KindChanged}, fs, out.Covered); err != nil {
		b.t.Fatal(err)
	}
	var fps []string
	for _, f := range fs {
		fps = append(fps, f.Fingerprint)
	}
	if err := b.findings.MarkNotified(ctx, at, "team", fps); err != nil {
		b.t.Fatal(err)
	}
	return fs
}

func (b *bed) dispatch() {
	b.t.Helper()
	items := b.queued
	b.queued = nil
	for i, it := range items {
		if err := b.runner.Dispatch(context.Background(), queue.Delivery{ID: int64(i + 1), Event: it.Event,
			Subscription: it.Subscriptions[0], Attempt: 1, MaxAttempts: 8}); err != nil {
			b.t.Fatalf("dispatch run %s: %v", it.Event.ID, err)
		}
	}
}

func (b *bed) get(id string) *enforce.Action {
	b.t.Helper()
	a, err := b.actions.Get(context.Background(), id)
	if err != nil {
		b.t.Fatal(err)
	}
	return a
}

func (b *bed) stateAttr(addr, attr string) any {
	b.t.Helper()
	raw, err := os.ReadFile(filepath.Join(b.tfDir, "terraform.tfstate"))
	if err != nil {
		b.t.Fatal(err)
	}
	var st struct {
		Resources []struct {
			Type, Name string
			Instances  []struct {
				Attributes map[string]any `json:"attributes"`
			} `json:"instances"`
		} `json:"resources"`
	}
	if err := json.Unmarshal(raw, &st); err != nil {
		b.t.Fatal(err)
	}
	for _, r := range st.Resources {
		if r.Type+"."+r.Name == addr && len(r.Instances) == 1 {
			return r.Instances[0].Attributes[attr]
		}
	}
	b.t.Fatalf("%s not in the state", addr)
	return nil
}

func finding(t *testing.T, fs []model.Finding, typ string) model.Finding {
	t.Helper()
	for _, f := range fs {
		if f.Resource.Type == typ {
			return f
		}
	}
	t.Fatalf("no %s finding among %+v", typ, fs)
	return model.Finding{}
}

func actionOf(t *testing.T, p *enforce.Plan, fp string) *enforce.Action {
	t.Helper()
	for _, a := range p.Actions {
		if a.Fingerprint == fp {
			return a
		}
	}
	b, _ := json.MarshalIndent(p, "", "  ")
	t.Fatalf("plan has no action for %s:\n%s", fp, b)
	return nil
}

func describe(v any) string {
	b, _ := json.MarshalIndent(v, "", "  ")
	return string(b)
}

// TestTerraformRevert: with real Terraform and the real AWS provider
// against moto, a tag and a security group rule changed by hand are
// planned as targeted plans, wait for management approval with the plan
// attached, and are put back by the apply of that plan once approved; a
// plan that would also change an undrifted resource is refused.
func TestTerraformRevert(t *testing.T) {
	b := newBed(t)
	ctx := context.Background()
	cfg := b.config("    approval: management\n    approvers: [alice, bob]\n")
	svc, approvals := b.wire(cfg)
	if fs := b.scan(cfg); len(fs) != 0 {
		t.Fatalf("not in sync after apply: %+v", fs)
	}
	vpcID, _ := b.stateAttr("aws_vpc.main", "id").(string)
	sgID, _ := b.stateAttr("aws_security_group.web", "id").(string)
	c := ec2.NewFromConfig(b.aws)
	_, err := c.CreateTags(ctx, &ec2.CreateTagsInput{Resources: []string{vpcID}, Tags: []ec2types.Tag{{Key: aws.String("env"), Value: aws.String("prod")}}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.AuthorizeSecurityGroupIngress(ctx, &ec2.AuthorizeSecurityGroupIngressInput{GroupId: aws.String(sgID), IpPermissions: []ec2types.IpPermission{{
		IpProtocol: aws.String("tcp"), FromPort: aws.Int32(22), ToPort: aws.Int32(22), IpRanges: []ec2types.IpRange{{CidrIp: aws.String("0.0.0.0/0")}}}}})
	if err != nil {
		t.Fatal(err)
	}
	fs := b.scan(cfg)
	vpcF, sgF := finding(t, fs, "aws_vpc"), finding(t, fs, "aws_security_group")
	if vpcF.Address == nil || *vpcF.Address != "aws_vpc.main" || sgF.Address == nil || *sgF.Address != "aws_security_group.web" {
		t.Fatalf("findings lack their addresses: %s", describe(fs))
	}

	p, err := svc.Plan(ctx, enforce.Request{Environment: config.Environment{Name: "prod"}, Apply: true, Actor: "carol"})
	if err != nil {
		t.Fatal(err)
	}
	vpcA, sgA := actionOf(t, p, vpcF.Fingerprint), actionOf(t, p, sgF.Fingerprint)
	awaiting := func(a *enforce.Action) {
		t.Helper()
		if a.State != enforce.StateAwaiting || a.Revert == nil || a.Revert.Method != enforce.MethodTerraform || a.Approval == nil || a.Approval.Required != "management" {
			t.Fatalf("want awaiting approval with a Terraform plan: %s", describe(a))
		}
		if len(a.Revert.Resources) != 1 || a.Revert.Resources[0].Address != a.Revert.Address || a.Revert.Resources[0].Actions[0] != "update" {
			t.Errorf("plan resources: %s", describe(a.Revert))
		}
		if stored := b.get(a.ID); stored.State != enforce.StateAwaiting {
			t.Errorf("stored %s", stored.State)
		}
	}
	awaiting(vpcA)
	if !strings.Contains(vpcA.Revert.Summary, `tags.env: "prod" -> "test"`) || !strings.Contains(vpcA.Revert.Summary, "terraform plan -target=aws_vpc.main") {
		t.Errorf("VPC plan summary:\n%s", vpcA.Revert.Summary)
	}
	// -target takes the target's dependencies along: while the VPC is
	// drifted too, the group's plan would also change it, so it is refused
	// until the VPC is back.
	if sgA.State != enforce.StateBlocked || sgA.Guard != enforce.GuardRevertPlan || !strings.Contains(sgA.Reason, "aws_vpc.main would be changed too") {
		t.Fatalf("want the group's plan refused while its VPC is drifted: %s", describe(sgA))
	}
	if b.queued != nil {
		t.Fatal("an action awaiting approval was queued")
	}
	if _, err := approvals.Decide(ctx, enforce.DecideRequest{ActionID: vpcA.ID, Approver: "carol", Decision: enforce.DecisionApprove, Via: enforce.ViaCLI}); err == nil {
		t.Fatal("the requester, who is no approver, approved")
	}

	// Approval to applied, one resource, timed: Terraform's own time
	// (plan, show, apply) against plumb's.
	b.tfTime = 0
	start := time.Now()
	d, err := approvals.Decide(ctx, enforce.DecideRequest{ActionID: vpcA.ID, Approver: "alice", Decision: enforce.DecisionApprove, Via: enforce.ViaAPI})
	if err != nil || !d.Released {
		t.Fatalf("approve: %v %+v", err, d)
	}
	b.dispatch()
	total := time.Since(start)
	overhead := total - b.tfTime
	t.Logf("approval to applied (one resource): %s; Terraform %s; plumb %s", total.Round(time.Millisecond), b.tfTime.Round(time.Millisecond), overhead.Round(time.Millisecond))
	if overhead > 3*time.Second {
		t.Errorf("plumb's own overhead %s (want well under a second on an idle machine)", overhead)
	}
	if a := b.get(vpcA.ID); a.State != enforce.StateSucceeded || !strings.Contains(a.Result, "applied the saved Terraform plan: aws_vpc.main update") {
		t.Fatalf("VPC revert: %s", describe(a))
	}

	// The VPC is back: the group's plan now changes the group only.
	p, err = svc.Plan(ctx, enforce.Request{Environment: config.Environment{Name: "prod"}, Apply: true, Actor: "carol"})
	if err != nil {
		t.Fatal(err)
	}
	sgA = actionOf(t, p, sgF.Fingerprint)
	awaiting(sgA)
	if !strings.Contains(sgA.Revert.Summary, "aws_security_group.web will be updated in-place") || !strings.Contains(sgA.Revert.Summary, "ingress") {
		t.Errorf("SG plan summary:\n%s", sgA.Revert.Summary)
	}
	if _, err := approvals.Decide(ctx, enforce.DecideRequest{ActionID: sgA.ID, Approver: "bob", Decision: enforce.DecisionApprove, Via: enforce.ViaCLI}); err != nil {
		t.Fatal(err)
	}
	b.dispatch()
	sgDone := b.get(sgA.ID)
	if sgDone.State != enforce.StateSucceeded {
		t.Fatalf("SG revert: %s", describe(sgDone))
	}
	writes := 0
	for _, c := range sgDone.Calls {
		if c.Write {
			writes++
			if c.Operation != "apply" {
				t.Errorf("write call %s", c.Operation)
			}
		}
	}
	if writes != 1 {
		t.Errorf("want exactly one write (the apply), got %d: %+v", writes, sgDone.Calls)
	}
	vpcs, err := c.DescribeVpcs(ctx, &ec2.DescribeVpcsInput{VpcIds: []string{vpcID}})
	if err != nil || len(vpcs.Vpcs) != 1 {
		t.Fatal(err)
	}
	for _, tag := range vpcs.Vpcs[0].Tags {
		if aws.ToString(tag.Key) == "env" && aws.ToString(tag.Value) != "test" {
			t.Errorf("VPC env tag still %s", aws.ToString(tag.Value))
		}
	}
	if after := b.scan(cfg); len(after) != 0 {
		t.Errorf("still drifted after the reverts: %s", describe(after))
	}
	for _, f := range []model.Finding{vpcF, sgF} {
		rec, err := b.findings.Get(ctx, f.Fingerprint)
		if err != nil || rec.Status != findings.StatusResolved {
			t.Errorf("%s: %v %s", f.Resource.Type, err, rec.Status)
		}
	}

	// The code now changes the VPC too (not applied yet), and the rule is
	// opened again: the targeted plan of the group drags the VPC in, and
	// is refused; nothing is written.
	b.writeTF(strings.Replace(mainTF, `env = "test" }`, `env = "test", cost = "1" }`, 1))
	_, err = c.AuthorizeSecurityGroupIngress(ctx, &ec2.AuthorizeSecurityGroupIngressInput{GroupId: aws.String(sgID), IpPermissions: []ec2types.IpPermission{{
		IpProtocol: aws.String("tcp"), FromPort: aws.Int32(22), ToPort: aws.Int32(22), IpRanges: []ec2types.IpRange{{CidrIp: aws.String("0.0.0.0/0")}}}}})
	if err != nil {
		t.Fatal(err)
	}
	fs = b.scan(cfg)
	sgF = finding(t, fs, "aws_security_group")
	p, err = svc.Plan(ctx, enforce.Request{Environment: config.Environment{Name: "prod"}, Apply: true, Actor: "carol"})
	if err != nil {
		t.Fatal(err)
	}
	a := actionOf(t, p, sgF.Fingerprint)
	if a.State != enforce.StateBlocked || a.Guard != enforce.GuardRevertPlan || !strings.Contains(a.Reason, "aws_vpc.main would be changed too") {
		t.Fatalf("want refused: %s", describe(a))
	}
	vpcs, _ = c.DescribeVpcs(ctx, &ec2.DescribeVpcsInput{VpcIds: []string{vpcID}})
	for _, tag := range vpcs.Vpcs[0].Tags {
		if aws.ToString(tag.Key) == "cost" {
			t.Error("the refused plan changed the VPC")
		}
	}
}

// TestTerraformReplaceAndRecreate: a revert whose plan replaces the
// resource is refused unless allow_replace; with it, the plan is applied.
// A bucket deleted by hand is recreated by a targeted apply (missing:
// recreate).
func TestTerraformReplaceAndRecreate(t *testing.T) {
	b := newBed(t)
	ctx := context.Background()
	cfg := b.config("")
	svc, _ := b.wire(cfg)
	sgID, _ := b.stateAttr("aws_security_group.web", "id").(string)
	c := ec2.NewFromConfig(b.aws)
	_, err := c.AuthorizeSecurityGroupIngress(ctx, &ec2.AuthorizeSecurityGroupIngressInput{GroupId: aws.String(sgID), IpPermissions: []ec2types.IpPermission{{
		IpProtocol: aws.String("tcp"), FromPort: aws.Int32(22), ToPort: aws.Int32(22), IpRanges: []ec2types.IpRange{{CidrIp: aws.String("0.0.0.0/0")}}}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s3.NewFromConfig(b.aws, func(o *s3.Options) { o.UsePathStyle = true }).DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String("plumb-revert-assets")}); err != nil {
		t.Fatal(err)
	}
	// The group's description changed in code: Terraform must replace it.
	b.writeTF(strings.Replace(mainTF, `description = "web"`, `description = "web v2"`, 1))
	fs := b.scan(cfg)
	sgF, bucketF := finding(t, fs, "aws_security_group"), finding(t, fs, "aws_s3_bucket")
	if bucketF.Kind != model.KindMissing {
		t.Fatalf("bucket finding: %s", describe(bucketF))
	}
	p, err := svc.Plan(ctx, enforce.Request{Environment: config.Environment{Name: "prod"}, Apply: true, Actor: "ci"})
	if err != nil {
		t.Fatal(err)
	}
	a := actionOf(t, p, sgF.Fingerprint)
	if a.State != enforce.StateBlocked || !strings.Contains(a.Reason, "aws_security_group.web would be replaced") || !strings.Contains(a.Reason, "allow_replace") {
		t.Fatalf("want refused replacement: %s", describe(a))
	}
	rec := actionOf(t, p, bucketF.Fingerprint)
	if rec.Verb != enforce.VerbRecreate || rec.State != enforce.StatePlanned || rec.Revert == nil || rec.Revert.Resources[0].Actions[0] != "create" {
		t.Fatalf("want a planned recreate: %s", describe(rec))
	}
	b.dispatch()
	if got := b.get(rec.ID); got.State != enforce.StateSucceeded {
		t.Fatalf("recreate: %s", describe(got))
	}
	if _, err := s3.NewFromConfig(b.aws, func(o *s3.Options) { o.UsePathStyle = true }).HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String("plumb-revert-assets")}); err != nil {
		t.Errorf("bucket not recreated: %v", err)
	}

	cfg = b.config("")
	cfg.Environments[0].Enforcement.AllowReplace = true
	svc, _ = b.wire(cfg)
	p, err = svc.Plan(ctx, enforce.Request{Environment: config.Environment{Name: "prod"}, Apply: true, Actor: "ci"})
	if err != nil {
		t.Fatal(err)
	}
	a = actionOf(t, p, sgF.Fingerprint)
	if a.State != enforce.StatePlanned || !strings.Contains(a.Revert.Summary, "aws_security_group.web will be replaced") {
		t.Fatalf("want a planned replacement: %s", describe(a))
	}
	b.dispatch()
	if got := b.get(a.ID); got.State != enforce.StateSucceeded {
		t.Fatalf("replace: %s", describe(got))
	}
	newID, _ := b.stateAttr("aws_security_group.web", "id").(string)
	if newID == sgID || b.stateAttr("aws_security_group.web", "description") != "web v2" {
		t.Errorf("group not replaced: %s -> %s", sgID, newID)
	}
}
