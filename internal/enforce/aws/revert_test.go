package aws_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"plumb/internal/enforce"
)

const revertYAML = `environments:
  - name: prod
    states: [prod.tfstate]
    regions: [us-east-1]
    accounts: ["123456789012"]
    enforcement:
      changed: revert
      grace: 1h
      max_fraction: 1
      dry_run: false
`

// estate is what the built-in revert tests create in moto and declare in
// a hand-written state: a VPC with tags, a security group with one
// ingress rule, and a log group with a retention and a tag.
type estate struct {
	vpc, sg, logGroup, logARN string
}

func createEstate(t *testing.T, ctx context.Context, cfg aws.Config) estate {
	t.Helper()
	c := ec2.NewFromConfig(cfg)
	v, err := c.CreateVpc(ctx, &ec2.CreateVpcInput{CidrBlock: aws.String("10.20.0.0/16")})
	must(t, err, "CreateVpc")
	e := estate{vpc: aws.ToString(v.Vpc.VpcId), logGroup: "/app/orders"}
	_, err = c.CreateTags(ctx, &ec2.CreateTagsInput{Resources: []string{e.vpc}, Tags: []ec2types.Tag{
		{Key: aws.String("Name"), Value: aws.String("orders")}, {Key: aws.String("env"), Value: aws.String("prod")}}})
	must(t, err, "CreateTags")
	g, err := c.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{GroupName: aws.String("orders-web"), Description: aws.String("web"), VpcId: v.Vpc.VpcId})
	must(t, err, "CreateSecurityGroup")
	e.sg = aws.ToString(g.GroupId)
	_, err = c.AuthorizeSecurityGroupIngress(ctx, &ec2.AuthorizeSecurityGroupIngressInput{GroupId: g.GroupId, IpPermissions: []ec2types.IpPermission{{
		IpProtocol: aws.String("tcp"), FromPort: aws.Int32(443), ToPort: aws.Int32(443), IpRanges: []ec2types.IpRange{{CidrIp: aws.String("10.20.0.0/16")}}}}})
	must(t, err, "AuthorizeSecurityGroupIngress")
	logs := cloudwatchlogs.NewFromConfig(cfg)
	_, err = logs.CreateLogGroup(ctx, &cloudwatchlogs.CreateLogGroupInput{LogGroupName: aws.String(e.logGroup), Tags: map[string]string{"team": "orders"}})
	must(t, err, "CreateLogGroup")
	_, err = logs.PutRetentionPolicy(ctx, &cloudwatchlogs.PutRetentionPolicyInput{LogGroupName: aws.String(e.logGroup), RetentionInDays: aws.Int32(30)})
	must(t, err, "PutRetentionPolicy")
	e.logARN = fmt.Sprintf("arn:aws:logs:%s:123456789012:log-group:%s", region, e.logGroup)
	return e
}

// state declares the estate as created: what the code says.
func (e estate) state() string {
	res := func(typ, name string, attrs map[string]any) map[string]any {
		return map[string]any{"mode": "managed", "type": typ, "name": name, "provider": `provider["registry.terraform.io/hashicorp/aws"]`,
			"instances": []any{map[string]any{"schema_version": 0, "attributes": attrs}}}
	}
	rule := func(proto string, from, to int, cidr string) map[string]any {
		return map[string]any{"from_port": from, "to_port": to, "protocol": proto, "cidr_blocks": []any{cidr},
			"ipv6_cidr_blocks": []any{}, "prefix_list_ids": []any{}, "security_groups": []any{}, "self": false, "description": ""}
	}
	doc := map[string]any{"version": 4, "terraform_version": "1.11.4", "serial": 3, "lineage": "5d0c2a1e-0000-4000-8000-0000000000aa", "outputs": map[string]any{},
		"resources": []any{
			res("aws_vpc", "main", map[string]any{"id": e.vpc, "cidr_block": "10.20.0.0/16",
				"arn":  "arn:aws:ec2:us-east-1:123456789012:vpc/" + e.vpc,
				"tags": map[string]any{"Name": "orders", "env": "prod"}, "tags_all": map[string]any{"Name": "orders", "env": "prod"}}),
			res("aws_security_group", "web", map[string]any{"id": e.sg, "name": "orders-web", "vpc_id": e.vpc,
				"arn":     "arn:aws:ec2:us-east-1:123456789012:security-group/" + e.sg,
				"ingress": []any{rule("tcp", 443, 443, "10.20.0.0/16")}, "egress": []any{rule("-1", 0, 0, "0.0.0.0/0")},
				"tags": map[string]any{}, "tags_all": map[string]any{}}),
			res("aws_cloudwatch_log_group", "orders", map[string]any{"id": e.logGroup, "name": e.logGroup, "arn": e.logARN,
				"retention_in_days": 30, "kms_key_id": "", "tags": map[string]any{"team": "orders"}, "tags_all": map[string]any{"team": "orders"}}),
		}}
	b, _ := json.Marshal(doc)
	return string(b)
}

// driftEstate changes each resource by hand: the VPC's env tag edited and
// a tag added, an SSH rule opened and the HTTPS rule removed, the log
// retention shortened and its team tag removed.
func driftEstate(t *testing.T, ctx context.Context, cfg aws.Config, e estate) {
	t.Helper()
	c := ec2.NewFromConfig(cfg)
	_, err := c.CreateTags(ctx, &ec2.CreateTagsInput{Resources: []string{e.vpc}, Tags: []ec2types.Tag{
		{Key: aws.String("env"), Value: aws.String("staging")}, {Key: aws.String("owner"), Value: aws.String("eve")}}})
	must(t, err, "CreateTags")
	_, err = c.AuthorizeSecurityGroupIngress(ctx, &ec2.AuthorizeSecurityGroupIngressInput{GroupId: aws.String(e.sg), IpPermissions: []ec2types.IpPermission{{
		IpProtocol: aws.String("tcp"), FromPort: aws.Int32(22), ToPort: aws.Int32(22), IpRanges: []ec2types.IpRange{{CidrIp: aws.String("0.0.0.0/0")}}}}})
	must(t, err, "AuthorizeSecurityGroupIngress")
	_, err = c.RevokeSecurityGroupIngress(ctx, &ec2.RevokeSecurityGroupIngressInput{GroupId: aws.String(e.sg), IpPermissions: []ec2types.IpPermission{{
		IpProtocol: aws.String("tcp"), FromPort: aws.Int32(443), ToPort: aws.Int32(443), IpRanges: []ec2types.IpRange{{CidrIp: aws.String("10.20.0.0/16")}}}}})
	must(t, err, "RevokeSecurityGroupIngress")
	logs := cloudwatchlogs.NewFromConfig(cfg)
	_, err = logs.PutRetentionPolicy(ctx, &cloudwatchlogs.PutRetentionPolicyInput{LogGroupName: aws.String(e.logGroup), RetentionInDays: aws.Int32(7)})
	must(t, err, "PutRetentionPolicy")
	_, err = logs.UntagResource(ctx, &cloudwatchlogs.UntagResourceInput{ResourceArn: aws.String(e.logARN), TagKeys: []string{"team"}})
	must(t, err, "UntagResource")
}

var revertTypes = []string{"aws_vpc", "aws_security_group", "aws_cloudwatch_log_group"}

// TestBuiltinRevert: tags, security group rules and log retention changed
// by hand are put back by plumb's own writes (no Terraform), through the
// whole chain: scan, plan, queue, execution; the findings resolve and a
// scan afterwards finds nothing changed. A dry run plans the same writes
// and makes none.
func TestBuiltinRevert(t *testing.T) {
	_, cfg := startMoto(t)
	ctx := context.Background()
	e := createEstate(t, ctx, cfg)
	h := newHarness(t, revertYAML, map[string]string{"prod.tfstate": e.state()})
	if fs := h.scan("prod", revertTypes, h.now.Add(-3*time.Hour), time.Time{}); len(fs) != 0 {
		t.Fatalf("estate not in sync before the drift: %+v", fs)
	}
	driftEstate(t, ctx, cfg, e)
	fs := h.scan("prod", revertTypes, h.now.Add(-2*time.Hour), h.now.Add(-2*time.Hour))
	if len(fs) != 3 {
		t.Fatalf("want 3 changed findings, got %d: %+v", len(fs), fs)
	}

	_, writesBefore := h.ex.Calls()
	dry := h.plan("prod", false)
	if _, writes := h.ex.Calls(); writes != writesBefore {
		t.Fatalf("the dry run wrote %d time(s)", writes-writesBefore)
	}
	for _, a := range dry.Actions {
		if a.Verb != enforce.VerbRevert || a.Guard != enforce.GuardDryRun || a.Revert == nil || a.Revert.Method != enforce.MethodBuiltin || a.Revert.Hash == "" {
			t.Fatalf("dry run action: %s", describePlan(dry))
		}
	}
	vpcPlan := planFor(t, dry, e.vpc).Revert
	if !strings.Contains(vpcPlan.Summary, `tags.env: "staging" -> "prod"`) || !strings.Contains(vpcPlan.Summary, `tags.owner: "eve" -> (absent)`) {
		t.Errorf("VPC plan summary:\n%s", vpcPlan.Summary)
	}

	p := h.plan("prod", true)
	if n := len(p.Runnable()); n != 3 {
		t.Fatalf("want 3 runnable reverts: %s", describePlan(p))
	}
	h.dispatch()
	for _, id := range []string{e.vpc, e.sg, e.logGroup} {
		a := h.action(p, findingOf(t, fs, id).Fingerprint)
		if a.State != enforce.StateSucceeded || !strings.HasPrefix(a.Result, "reverted: ") {
			t.Errorf("%s: %s %s %s", id, a.State, a.Result, a.Error)
		}
		if len(a.Before) == 0 {
			t.Errorf("%s: no before-state saved", id)
		}
		rec, err := h.findings.Get(ctx, a.Fingerprint)
		must(t, err, "finding")
		if rec.Status != "resolved" || rec.Finding.Enforcement == nil || rec.Finding.Enforcement.Verb != "revert" {
			t.Errorf("%s: finding %s, enforcement %+v", id, rec.Status, rec.Finding.Enforcement)
		}
	}
	vpc := listed(t, "aws_vpc", byID(e.vpc))
	if vpc.Tags["env"] != "prod" || vpc.Tags["Name"] != "orders" {
		t.Errorf("VPC tags after revert: %v", vpc.Tags)
	}
	if _, ok := vpc.Tags["owner"]; ok {
		t.Errorf("the added tag stayed: %v", vpc.Tags)
	}
	sg := listed(t, "aws_security_group", byID(e.sg))
	if got := fmt.Sprint(sg.Attributes["ingress"]); got != "[tcp 443:443 10.20.0.0/16]" {
		t.Errorf("ingress after revert = %s", got)
	}
	lg := listed(t, "aws_cloudwatch_log_group", byID(e.logGroup))
	if lg.Attributes["retention_in_days"] != float64(30) || lg.Tags["team"] != "orders" {
		t.Errorf("log group after revert: %v %v", lg.Attributes, lg.Tags)
	}
	if after := h.scan("prod", revertTypes, h.now, time.Time{}); len(after) != 0 {
		t.Errorf("a scan after the revert still finds: %+v", after)
	}
}

// TestBuiltinRevertLostUpdate: a value changed again between the scan and
// the revert is not overwritten: no write call, the action stops with the
// reason, and the finding shows the value live now.
func TestBuiltinRevertLostUpdate(t *testing.T) {
	tests := []struct {
		name string
		// again changes the resource once more after the scan.
		again func(t *testing.T, ctx context.Context, cfg aws.Config, e estate)
		id    func(e estate) string
		path  string
		want  any
	}{
		{"tag edited again", func(t *testing.T, ctx context.Context, cfg aws.Config, e estate) {
			_, err := ec2.NewFromConfig(cfg).CreateTags(ctx, &ec2.CreateTagsInput{Resources: []string{e.vpc},
				Tags: []ec2types.Tag{{Key: aws.String("env"), Value: aws.String("qa")}}})
			must(t, err, "CreateTags")
		}, func(e estate) string { return e.vpc }, "tags.env", "qa"},
		{"another rule opened", func(t *testing.T, ctx context.Context, cfg aws.Config, e estate) {
			_, err := ec2.NewFromConfig(cfg).AuthorizeSecurityGroupIngress(ctx, &ec2.AuthorizeSecurityGroupIngressInput{GroupId: aws.String(e.sg),
				IpPermissions: []ec2types.IpPermission{{IpProtocol: aws.String("tcp"), FromPort: aws.Int32(3389), ToPort: aws.Int32(3389),
					IpRanges: []ec2types.IpRange{{CidrIp: aws.String("0.0.0.0/0")}}}}})
			must(t, err, "AuthorizeSecurityGroupIngress")
		}, func(e estate) string { return e.sg }, "ingress", []any{"tcp 22:22 0.0.0.0/0", "tcp 3389:3389 0.0.0.0/0"}},
		{"retention changed again", func(t *testing.T, ctx context.Context, cfg aws.Config, e estate) {
			_, err := cloudwatchlogs.NewFromConfig(cfg).PutRetentionPolicy(ctx, &cloudwatchlogs.PutRetentionPolicyInput{
				LogGroupName: aws.String(e.logGroup), RetentionInDays: aws.Int32(14)})
			must(t, err, "PutRetentionPolicy")
		}, func(e estate) string { return e.logGroup }, "retention_in_days", float64(14)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, cfg := startMoto(t)
			ctx := context.Background()
			e := createEstate(t, ctx, cfg)
			h := newHarness(t, revertYAML, map[string]string{"prod.tfstate": e.state()})
			driftEstate(t, ctx, cfg, e)
			fs := h.scan("prod", revertTypes, h.now.Add(-2*time.Hour), h.now.Add(-2*time.Hour))
			fp := findingOf(t, fs, tc.id(e)).Fingerprint
			p := h.plan("prod", true)
			tc.again(t, ctx, cfg, e)
			h.dispatch()
			a := h.action(p, fp)
			if a.State != enforce.StateBlocked || a.Guard != enforce.GuardRevertPlan || !strings.Contains(a.Reason, "changed again since the scan") {
				t.Fatalf("action %s/%s: %s (%s)", a.State, a.Guard, a.Reason, a.Error)
			}
			for _, c := range a.Calls {
				if c.Write {
					t.Errorf("a stale revert wrote: %s %s", c.Service, c.Operation)
				}
			}
			rec, err := h.findings.Get(ctx, fp)
			must(t, err, "finding")
			if rec.Status != "open" {
				t.Errorf("finding %s, want open", rec.Status)
			}
			var now any
			for _, c := range rec.Finding.Changes {
				if c.Path == tc.path {
					now = c.After
				}
			}
			if !sameJSON(now, tc.want) {
				t.Errorf("finding's %s = %v, want the live %v", tc.path, now, tc.want)
			}
			// The other two reverts were not stale and ran.
			for _, other := range []string{e.vpc, e.sg, e.logGroup} {
				if other == tc.id(e) {
					continue
				}
				if o := h.action(p, findingOf(t, fs, other).Fingerprint); o.State != enforce.StateSucceeded {
					t.Errorf("%s: %s %s", other, o.State, o.Reason)
				}
			}
		})
	}
}

// TestBuiltinRevertRefusals: a change plumb cannot write itself refuses
// the revert (with the pointer to terraform_dir), and nothing is written.
func TestBuiltinRevertRefusals(t *testing.T) {
	_, cfg := startMoto(t)
	ctx := context.Background()
	e := createEstate(t, ctx, cfg)
	h := newHarness(t, revertYAML, map[string]string{"prod.tfstate": strings.Replace(e.state(), `"cidr_block":"10.20.0.0/16"`, `"cidr_block":"10.99.0.0/16"`, 1)})
	fs := h.scan("prod", []string{"aws_vpc"}, h.now.Add(-2*time.Hour), h.now.Add(-2*time.Hour))
	if len(fs) != 1 {
		t.Fatalf("want the VPC's cidr_block drift: %+v", fs)
	}
	_, before := h.ex.Calls()
	p := h.plan("prod", true)
	a := p.Actions[0]
	if a.State != enforce.StateBlocked || a.Guard != enforce.GuardRevertPlan || !strings.Contains(a.Reason, "plumb cannot write cidr_block of aws_vpc itself") ||
		!strings.Contains(a.Reason, "terraform_dir") {
		t.Fatalf("plan: %s", describePlan(p))
	}
	if _, after := h.ex.Calls(); after != before {
		t.Errorf("a refused revert wrote")
	}
}

func planFor(t *testing.T, p *enforce.Plan, id string) *enforce.Action {
	t.Helper()
	for _, a := range p.Actions {
		if a.Resource.ID == id {
			return a
		}
	}
	t.Fatalf("no action on %s: %s", id, describePlan(p))
	return nil
}

func sameJSON(a, b any) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return string(ja) == string(jb)
}
