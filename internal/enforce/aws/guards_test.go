package aws_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/route53"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"plumb/internal/enforce"
	"plumb/internal/findings"
	"plumb/internal/model"
)

// prodYAML is a prod environment armed to delete; cases change one thing.
const prodYAML = `environments:
  - name: prod
    states: [prod.tfstate]
    regions: [us-east-1]
    accounts: ["123456789012"]
    enforcement:
      unmanaged: delete
      grace: 1h
      max_actions: 10
      max_fraction: 1
      dry_run: false
`

// TestGuardsStopRealDeletes: each guard, alone, keeps a real resource in
// moto from being deleted, and the plan names it. The first case is the
// control: with no guard in the way the same resource is deleted.
func TestGuardsStopRealDeletes(t *testing.T) {
	m, cfg := startMoto(t)
	const victim = "victim-bucket"
	hours := func(n float64) time.Duration { return time.Duration(n * float64(time.Hour)) }
	type setup struct {
		yaml   string
		states map[string]string
		types  []string
		// before runs after moto is reset, before the scan.
		before func(t *testing.T, ctx context.Context, cfg aws.Config)
		// scanned runs after the scan and returns the fingerprint to
		// watch; default: the victim bucket's finding.
		scanned func(t *testing.T, h *harness, fs []model.Finding) string
		// scanAge and notifiedAge place the scan and its notification in
		// the past (notifiedAge < 0: never notified).
		scanAge, notifiedAge time.Duration
		apply                bool
	}
	cases := []struct {
		name  string
		setup setup
		guard string // "" : deleted
		// exists reports whether the resource must still exist.
		exists func(t *testing.T, ctx context.Context, cfg aws.Config) bool
	}{
		{name: "control: no guard, deleted", guard: ""},
		{name: "account allow-list", guard: enforce.GuardAccount,
			setup: setup{yaml: strings.Replace(prodYAML, `"123456789012"`, `"111111111111"`, 1)}},
		{name: "account allow-list: another listed account than plumb's own", guard: enforce.GuardAccount,
			setup: setup{yaml: strings.Replace(prodYAML, `"123456789012"`, `"123456789012", "222222222222"`, 1),
				scanned: func(t *testing.T, h *harness, fs []model.Finding) string {
					// A finding of a multi-account scan: the resource is in
					// another account the environment reads through a role.
					f := findingOf(t, fs, victim)
					f.Resource.Account = "222222222222"
					h.record("prod", []model.Finding{f}, func(model.Finding) bool { return true }, h.now.Add(-2*time.Hour), h.now.Add(-2*time.Hour))
					return f.Fingerprint
				}}},
		{name: "declared in another environment's state", guard: enforce.GuardDeclared,
			setup: setup{yaml: prodYAML + "  - name: staging\n    states: [staging.tfstate]\n    regions: [eu-west-1]\n",
				states: map[string]string{"staging.tfstate": bucketState(victim)}}},
		{name: "protect pattern", guard: enforce.GuardProtectPattern,
			setup: setup{yaml: prodYAML + "      protect: [\"aws_s3_bucket.victim-*\"]\n"}},
		{name: "protect tag seen by the scan", guard: enforce.GuardProtectTag,
			setup: setup{before: func(t *testing.T, ctx context.Context, cfg aws.Config) {
				tagBucket(t, ctx, cfg, victim, "plumb:protect")
			}}},
		{name: "protect tag added after the scan (live)", guard: enforce.GuardProtectTag,
			setup: setup{scanned: func(t *testing.T, h *harness, fs []model.Finding) string {
				tagBucket(t, context.Background(), cfg, victim, "keep-me")
				return findingOf(t, fs, victim).Fingerprint
			}, yaml: prodYAML + "      protect_tags: [keep-me]\n"}},
		{name: "aws default (the default VPC's security group)", guard: enforce.GuardDefault,
			setup: setup{types: []string{"aws_security_group"}, scanned: func(t *testing.T, h *harness, _ []model.Finding) string {
				// No scan reports a default as unmanaged; a finding for it
				// (a bug elsewhere, an event) must still not delete it.
				sg := defaultSecurityGroup(t, cfg)
				f := model.Finding{Kind: model.KindUnmanaged, Severity: model.SeverityMedium, Environment: "prod",
					Resource:    model.Resource{Provider: "aws", Type: "aws_security_group", ID: sg, Region: region, Account: "123456789012", Tags: map[string]string{}},
					Fingerprint: model.Fingerprint(model.KindUnmanaged, "prod", "aws", "aws_security_group", region, sg, ""), Message: "x"}
				h.record("prod", []model.Finding{f}, func(model.Finding) bool { return true }, h.now.Add(-2*time.Hour), h.now.Add(-2*time.Hour))
				return f.Fingerprint
			}},
			exists: func(t *testing.T, ctx context.Context, cfg aws.Config) bool {
				out, err := ec2.NewFromConfig(cfg).DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{GroupIds: []string{defaultSecurityGroup(t, cfg)}})
				return err == nil && len(out.SecurityGroups) == 1
			}},
		{name: "complete scope: the latest scan did not read it", guard: enforce.GuardScope,
			setup: setup{scanned: func(t *testing.T, h *harness, fs []model.Finding) string {
				// A later scan that could not read S3 keeps the finding
				// open without confirming it.
				h.record("prod", fs, func(model.Finding) bool { return false }, h.now.Add(-time.Hour), time.Time{})
				return findingOf(t, fs, victim).Fingerprint
			}}},
		{name: "grace: notified 10 minutes ago", guard: enforce.GuardGrace,
			setup: setup{notifiedAge: 10 * time.Minute}},
		{name: "grace: never notified", guard: enforce.GuardGrace,
			setup: setup{notifiedAge: -1}},
		{name: "circuit breaker: more than max_actions", guard: enforce.GuardCircuit,
			setup: setup{yaml: strings.Replace(prodYAML, "max_actions: 10", "max_actions: 1", 1),
				before: func(t *testing.T, ctx context.Context, cfg aws.Config) { createBucket(t, ctx, cfg, "second-victim") }}},
		{name: "circuit breaker: more than max_fraction", guard: enforce.GuardCircuit,
			setup: setup{yaml: strings.Replace(prodYAML, "max_fraction: 1", "max_fraction: 0.5", 1),
				states: map[string]string{"prod.tfstate": bucketState("declared-bucket")},
				before: func(t *testing.T, ctx context.Context, cfg aws.Config) {
					createBucket(t, ctx, cfg, "declared-bucket")
					createBucket(t, ctx, cfg, "second-victim")
				}}},
		{name: "dry_run in the config", guard: enforce.GuardDryRun,
			setup: setup{yaml: strings.Replace(prodYAML, "dry_run: false", "dry_run: true", 1)}},
		{name: "no --apply", guard: enforce.GuardDryRun, setup: setup{apply: false}},
		{name: "precondition: bucket not empty", guard: enforce.GuardPrecondition,
			setup: setup{before: func(t *testing.T, ctx context.Context, cfg aws.Config) {
				_, err := s3c(cfg).PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(victim), Key: aws.String("k"), Body: strings.NewReader("v")})
				must(t, err, "PutObject")
			}}},
		{name: "in flight: an earlier action is still queued", guard: enforce.GuardInFlight,
			setup: setup{scanned: func(t *testing.T, h *harness, fs []model.Finding) string {
				f := findingOf(t, fs, victim)
				must(t, h.actions.Insert(context.Background(), []*enforce.Action{{ID: "earlier", RunID: "run0", Fingerprint: f.Fingerprint,
					Environment: "prod", Verb: enforce.VerbDelete, Resource: f.Resource, State: enforce.StatePlanned, CreatedAt: h.now, UpdatedAt: h.now}}), "insert")
				return f.Fingerprint
			}}},
		{name: "supported: no delete for route53 zones", guard: enforce.GuardSupported,
			setup: setup{types: []string{"aws_route53_zone"}, before: func(t *testing.T, ctx context.Context, cfg aws.Config) {
				_, err := route53.NewFromConfig(cfg).CreateHostedZone(ctx, &route53.CreateHostedZoneInput{Name: aws.String("by-hand.example"), CallerReference: aws.String("x")})
				must(t, err, "CreateHostedZone")
			}, scanned: func(t *testing.T, h *harness, fs []model.Finding) string {
				return fs[0].Fingerprint
			}},
			exists: func(t *testing.T, ctx context.Context, cfg aws.Config) bool {
				out, err := route53.NewFromConfig(cfg).ListHostedZones(ctx, &route53.ListHostedZonesInput{})
				return err == nil && len(out.HostedZones) == 1
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			m.Reset(t)
			s := tc.setup
			if s.yaml == "" {
				s.yaml = prodYAML
			}
			if s.states == nil {
				s.states = map[string]string{}
			}
			if _, ok := s.states["prod.tfstate"]; !ok {
				s.states["prod.tfstate"] = emptyState
			}
			if s.types == nil {
				s.types = []string{"aws_s3_bucket"}
			}
			if s.scanAge == 0 {
				s.scanAge = 2 * time.Hour
			}
			if s.notifiedAge == 0 {
				s.notifiedAge = hours(1.5)
			}
			if tc.name != "no --apply" {
				s.apply = true
			}
			createBucket(t, ctx, cfg, victim)
			if s.before != nil {
				s.before(t, ctx, cfg)
			}
			h := newHarness(t, s.yaml, s.states)
			var notified time.Time
			if s.notifiedAge > 0 {
				notified = h.now.Add(-s.notifiedAge)
			}
			fs := h.scan("prod", s.types, h.now.Add(-s.scanAge), notified)
			var fp string
			if s.scanned != nil {
				fp = s.scanned(t, h, fs)
			} else {
				fp = findingOf(t, fs, victim).Fingerprint
			}
			_, w0 := h.ex.Calls()
			p := h.plan("prod", s.apply)
			h.dispatch()
			_, w1 := h.ex.Calls()
			a := h.action(p, fp)
			exists := tc.exists
			if exists == nil {
				exists = func(t *testing.T, ctx context.Context, cfg aws.Config) bool { return bucketExists(ctx, cfg, victim) }
			}
			if tc.guard == "" {
				if a.State != enforce.StateSucceeded || exists(t, ctx, cfg) {
					t.Fatalf("control: action %s (%s: %s), resource exists %v\n%s", a.State, a.Guard, a.Reason, exists(t, ctx, cfg), describePlan(p))
				}
				rec, err := h.findings.Get(ctx, fp)
				must(t, err, "get finding")
				if rec.Status != findings.StatusResolved || rec.Finding.Enforcement == nil || rec.Finding.Enforcement.ActionID != a.ID {
					t.Errorf("finding after delete: %s %+v", rec.Status, rec.Finding.Enforcement)
				}
				return
			}
			if a.State != enforce.StateBlocked || a.Guard != tc.guard {
				t.Errorf("action %s by %q (%s), want blocked by %s\n%s", a.State, a.Guard, a.Reason, tc.guard, describePlan(p))
			}
			if !exists(t, ctx, cfg) {
				t.Errorf("the resource was deleted although %s should have stopped it", tc.guard)
			}
			if w1 != w0 {
				t.Errorf("%d write calls were made", w1-w0)
			}
			if tc.guard == enforce.GuardCircuit {
				rec, err := h.findings.Get(ctx, enforce.CircuitFinding("prod", "").Fingerprint)
				if err != nil || rec.Status != findings.StatusOpen || rec.Finding.Severity != model.SeverityHigh || !strings.Contains(rec.Finding.Message, "max_") {
					t.Errorf("circuit finding: %+v %v", rec, err)
				}
				for _, other := range p.Actions {
					if other.Guard != enforce.GuardCircuit {
						t.Errorf("the breaker let %s %s through (%s)", other.Verb, other.Resource.ID, other.Guard)
					}
				}
			}
		})
	}
}

// TestDryRunMakesNoWrite plans a delete that every guard but the dry run
// lets through: the plan reads (STS, the live resource, its
// precondition) and writes nothing, and the resource stays.
func TestDryRunMakesNoWrite(t *testing.T) {
	_, cfg := startMoto(t)
	ctx := context.Background()
	createBucket(t, ctx, cfg, "dry-bucket")
	h := newHarness(t, strings.Replace(prodYAML, "dry_run: false", "dry_run: true", 1), map[string]string{"prod.tfstate": emptyState})
	fs := h.scan("prod", []string{"aws_s3_bucket"}, h.now.Add(-2*time.Hour), h.now.Add(-2*time.Hour))
	r0, w0 := h.ex.Calls()
	for _, apply := range []bool{false, true} {
		p := h.plan("prod", apply)
		h.dispatch()
		a := h.action(p, findingOf(t, fs, "dry-bucket").Fingerprint)
		if a.Guard != enforce.GuardDryRun {
			t.Errorf("apply=%v: stopped by %q (%s), want the dry run", apply, a.Guard, a.Reason)
		}
	}
	r1, w1 := h.ex.Calls()
	if w1 != w0 {
		t.Errorf("dry run made %d write calls", w1-w0)
	}
	if r1 == r0 {
		t.Error("dry run made no read call: the live guards did not run")
	}
	if !bucketExists(ctx, cfg, "dry-bucket") {
		t.Error("dry run deleted the bucket")
	}
}

// TestLiveGuardsAtExecution: a protect tag added between the plan and the
// job's run still stops the delete, because the runner re-reads the
// resource and re-applies the live guards right before writing.
func TestLiveGuardsAtExecution(t *testing.T) {
	_, cfg := startMoto(t)
	ctx := context.Background()
	createBucket(t, ctx, cfg, "late-protect")
	h := newHarness(t, prodYAML, map[string]string{"prod.tfstate": emptyState})
	fs := h.scan("prod", []string{"aws_s3_bucket"}, h.now.Add(-2*time.Hour), h.now.Add(-2*time.Hour))
	p := h.plan("prod", true)
	if len(p.Runnable()) != 1 {
		t.Fatalf("plan: %s", describePlan(p))
	}
	tagBucket(t, ctx, cfg, "late-protect", "plumb:protect")
	h.dispatch()
	a := h.action(p, findingOf(t, fs, "late-protect").Fingerprint)
	if a.State != enforce.StateBlocked || a.Guard != enforce.GuardProtectTag || !bucketExists(ctx, cfg, "late-protect") {
		t.Errorf("action %s by %s (%s); bucket exists %v", a.State, a.Guard, a.Reason, bucketExists(ctx, cfg, "late-protect"))
	}
}

func createBucket(t *testing.T, ctx context.Context, cfg aws.Config, name string) {
	t.Helper()
	_, err := s3c(cfg).CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(name)})
	must(t, err, "CreateBucket "+name)
}

func tagBucket(t *testing.T, ctx context.Context, cfg aws.Config, name, key string) {
	t.Helper()
	_, err := s3c(cfg).PutBucketTagging(ctx, &s3.PutBucketTaggingInput{Bucket: aws.String(name),
		Tagging: &s3types.Tagging{TagSet: []s3types.Tag{{Key: aws.String(key), Value: aws.String("yes")}}}})
	must(t, err, "PutBucketTagging")
}

func bucketExists(ctx context.Context, cfg aws.Config, name string) bool {
	_, err := s3c(cfg).HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(name)})
	return err == nil
}

func defaultSecurityGroup(t *testing.T, cfg aws.Config) string {
	t.Helper()
	out, err := ec2.NewFromConfig(cfg).DescribeSecurityGroups(context.Background(), &ec2.DescribeSecurityGroupsInput{
		Filters: []ec2types.Filter{{Name: aws.String("group-name"), Values: []string{"default"}}}})
	must(t, err, "DescribeSecurityGroups")
	for _, g := range out.SecurityGroups {
		vpcs, err := ec2.NewFromConfig(cfg).DescribeVpcs(context.Background(), &ec2.DescribeVpcsInput{VpcIds: []string{aws.ToString(g.VpcId)}})
		must(t, err, "DescribeVpcs")
		if len(vpcs.Vpcs) == 1 && aws.ToBool(vpcs.Vpcs[0].IsDefault) {
			return aws.ToString(g.GroupId)
		}
	}
	t.Fatal("moto has no default security group")
	return ""
}

// TestDependencyOrder deletes an instance, a volume attached to it and
// the security group it uses in one run: the instance goes first, then
// the volume (snapshot first), then the group, each as AWS requires.
func TestDependencyOrder(t *testing.T) {
	_, cfg := startMoto(t)
	ctx := context.Background()
	c := ec2.NewFromConfig(cfg)
	sg, err := c.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{GroupName: aws.String("by-hand-web"), Description: aws.String("x")})
	must(t, err, "CreateSecurityGroup")
	run, err := c.RunInstances(ctx, &ec2.RunInstancesInput{ImageId: aws.String(amiID(t, ctx, c)), InstanceType: ec2types.InstanceTypeT3Micro,
		MinCount: aws.Int32(1), MaxCount: aws.Int32(1), SecurityGroupIds: []string{aws.ToString(sg.GroupId)},
		Placement: &ec2types.Placement{AvailabilityZone: aws.String(region + "a")}})
	must(t, err, "RunInstances")
	inst := aws.ToString(run.Instances[0].InstanceId)
	vol, err := c.CreateVolume(ctx, &ec2.CreateVolumeInput{AvailabilityZone: aws.String(region + "a"), Size: aws.Int32(8)})
	must(t, err, "CreateVolume")
	_, err = c.AttachVolume(ctx, &ec2.AttachVolumeInput{VolumeId: vol.VolumeId, InstanceId: aws.String(inst), Device: aws.String("/dev/sdf")})
	must(t, err, "AttachVolume")

	h := newHarness(t, prodYAML, map[string]string{"prod.tfstate": emptyState})
	fs := h.scan("prod", []string{"aws_instance", "aws_ebs_volume", "aws_security_group"}, h.now.Add(-2*time.Hour), h.now.Add(-2*time.Hour))
	if len(fs) != 3 {
		t.Fatalf("scan found %d unmanaged resources, want the instance, the volume and the group: %+v", len(fs), fs)
	}
	p := h.plan("prod", true)
	var order []string
	for _, a := range p.Actions {
		order = append(order, a.Resource.Type)
	}
	if strings.Join(order, " ") != "aws_instance aws_ebs_volume aws_security_group" || len(p.Runnable()) != 3 {
		t.Fatalf("plan order %v, runnable %d:\n%s", order, len(p.Runnable()), describePlan(p))
	}
	h.dispatch()
	var writes []string
	var last time.Time
	for _, planned := range p.Actions {
		a := h.action(p, planned.Fingerprint)
		if a.State != enforce.StateSucceeded {
			t.Fatalf("%s %s: %s %s %s", a.Resource.Type, a.Resource.ID, a.State, a.Error, a.Reason)
		}
		for _, call := range a.Calls {
			if !call.Write {
				continue
			}
			if call.At.Before(last) {
				t.Errorf("%s ran before an earlier action's write", call.Operation)
			}
			last = call.At
			writes = append(writes, call.Operation)
		}
	}
	if got := strings.Join(writes, " "); got != "TerminateInstances CreateSnapshot DeleteVolume DeleteSecurityGroup" {
		t.Errorf("writes in order: %s", got)
	}
	out, err := c.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{inst}})
	must(t, err, "DescribeInstances")
	if st := out.Reservations[0].Instances[0].State.Name; st != ec2types.InstanceStateNameTerminated {
		t.Errorf("instance %s", st)
	}
	if _, err := c.DescribeVolumes(ctx, &ec2.DescribeVolumesInput{VolumeIds: []string{aws.ToString(vol.VolumeId)}}); apiCode(err) != "InvalidVolume.NotFound" {
		t.Errorf("volume still there: %v", err)
	}
	snaps, err := c.DescribeSnapshots(ctx, &ec2.DescribeSnapshotsInput{OwnerIds: []string{"self"},
		Filters: []ec2types.Filter{{Name: aws.String("volume-id"), Values: []string{aws.ToString(vol.VolumeId)}}}})
	must(t, err, "DescribeSnapshots")
	if len(snaps.Snapshots) != 1 {
		t.Errorf("snapshots of the volume: %d, want 1", len(snaps.Snapshots))
	}
	if _, err := c.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{GroupIds: []string{aws.ToString(sg.GroupId)}}); apiCode(err) != "InvalidGroup.NotFound" {
		t.Errorf("group still there: %v", err)
	}
}
