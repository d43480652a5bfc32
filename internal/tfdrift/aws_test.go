package tfdrift

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"plumb/internal/model"
	"plumb/internal/testenv"
)

// TestRunAWS applies testdata/aws with the real AWS provider against moto,
// changes three resources behind Terraform's back with the AWS SDK, and
// checks that Terraform's own refresh reports each change at the attribute
// level.
func TestRunAWS(t *testing.T) {
	m := testenv.StartMoto(t)
	tf := testenv.NewTerraform(t)
	ctx := context.Background()

	dir := t.TempDir()
	src, err := os.ReadFile(filepath.Join("testdata", "aws", "main.tf"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "main.tf"), src, 0o644); err != nil {
		t.Fatal(err)
	}
	tf.Env["TF_VAR_endpoint"] = m.Endpoint
	if _, err := tf.Run(ctx, dir, "init", "-input=false", "-no-color"); err != nil {
		t.Fatal(err)
	}
	apply(t, tf, dir)
	opts := Options{Bin: tf.Bin, Env: []string{
		"TF_CLI_CONFIG_FILE=" + tf.CLIConfig,
		"TF_VAR_endpoint=" + m.Endpoint,
		"CHECKPOINT_DISABLE=1",
	}}

	// Right after the apply Terraform records `tags: null -> {}` for the
	// security group and the log group (the provider reads unset tags
	// back as an empty map); that is not drift.
	res, err := Run(ctx, dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Drift) != 0 {
		t.Fatalf("drift after a clean apply: %+v", res.Drift)
	}

	cfg := m.Config(t, "us-east-1")
	ec2c := ec2.NewFromConfig(cfg)
	vpcs, err := ec2c.DescribeVpcs(ctx, &ec2.DescribeVpcsInput{Filters: []ec2types.Filter{{Name: aws.String("tag:Name"), Values: []string{"tfdrift"}}}})
	if err != nil || len(vpcs.Vpcs) != 1 {
		t.Fatalf("find VPC: %v (%d found)", err, len(vpcs.Vpcs))
	}
	vpcID := aws.ToString(vpcs.Vpcs[0].VpcId)
	if _, err := ec2c.CreateTags(ctx, &ec2.CreateTagsInput{
		Resources: []string{vpcID},
		Tags:      []ec2types.Tag{{Key: aws.String("env"), Value: aws.String("prod")}},
	}); err != nil {
		t.Fatal(err)
	}
	sgs, err := ec2c.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{Filters: []ec2types.Filter{{Name: aws.String("group-name"), Values: []string{"tfdrift-web"}}}})
	if err != nil || len(sgs.SecurityGroups) != 1 {
		t.Fatalf("find security group: %v", err)
	}
	sgID := aws.ToString(sgs.SecurityGroups[0].GroupId)
	if _, err := ec2c.AuthorizeSecurityGroupIngress(ctx, &ec2.AuthorizeSecurityGroupIngressInput{
		GroupId: aws.String(sgID),
		IpPermissions: []ec2types.IpPermission{{
			IpProtocol: aws.String("tcp"),
			FromPort:   aws.Int32(22),
			ToPort:     aws.Int32(22),
			IpRanges:   []ec2types.IpRange{{CidrIp: aws.String("10.0.0.0/8")}},
		}},
	}); err != nil {
		t.Fatal(err)
	}
	logs := cloudwatchlogs.NewFromConfig(cfg)
	if _, err := logs.PutRetentionPolicy(ctx, &cloudwatchlogs.PutRetentionPolicyInput{
		LogGroupName:    aws.String("/tfdrift/app"),
		RetentionInDays: aws.Int32(7),
	}); err != nil {
		t.Fatal(err)
	}

	res, err = Run(ctx, dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	checkDrift(t, res, awsDriftWant(sgID, vpcID))
}

// wantDrift is one expected drifted resource.
type wantDrift struct {
	address, typ, provider, id string
	missing                    bool
	changes                    []model.Change
}

// awsDriftWant is what Terraform reports for the out-of-band changes of
// TestRunAWS (and what testdata/aws-drift.json, captured from the same
// scenario, holds), in Terraform's order (by address):
//   - the log group: retention_in_days 30 -> 7 (its tags: null -> {} is
//     dropped as noise);
//   - the security group: ingress is a set, which the plan JSON writes as
//     a list in cty's set order; the hand-made SSH rule sorts after the
//     443 rule, so it appears as a new element ingress[1], one change per
//     attribute, with the empty lists the provider fills in
//     (ipv6_cidr_blocks, prefix_list_ids, security_groups) reported as []
//     against nothing;
//   - the VPC: the tag edit shows twice, in tags (the configuration's
//     tags) and in tags_all (tags merged with the provider's default_tags).
func awsDriftWant(sgID, vpcID string) []wantDrift {
	return []wantDrift{
		{"aws_cloudwatch_log_group.app", "aws_cloudwatch_log_group", "aws", "/tfdrift/app", false, []model.Change{
			{Path: "retention_in_days", Before: float64(30), After: float64(7)},
		}},
		{"aws_security_group.web", "aws_security_group", "aws", sgID, false, []model.Change{
			{Path: "ingress[1].cidr_blocks[0]", Before: nil, After: "10.0.0.0/8"},
			{Path: "ingress[1].description", Before: nil, After: ""},
			{Path: "ingress[1].from_port", Before: nil, After: float64(22)},
			{Path: "ingress[1].ipv6_cidr_blocks", Before: nil, After: []any{}},
			{Path: "ingress[1].prefix_list_ids", Before: nil, After: []any{}},
			{Path: "ingress[1].protocol", Before: nil, After: "tcp"},
			{Path: "ingress[1].security_groups", Before: nil, After: []any{}},
			{Path: "ingress[1].self", Before: nil, After: false},
			{Path: "ingress[1].to_port", Before: nil, After: float64(22)},
		}},
		{"aws_vpc.main", "aws_vpc", "aws", vpcID, false, []model.Change{
			{Path: "tags.env", Before: "test", After: "prod"},
			{Path: "tags_all.env", Before: "test", After: "prod"},
		}},
	}
}

// checkDrift compares a result with the expected drift, in order.
func checkDrift(t *testing.T, res *Result, want []wantDrift) {
	t.Helper()
	if len(res.Drift) != len(want) {
		t.Fatalf("got %d drifted resources, want %d: %+v", len(res.Drift), len(want), res.Drift)
	}
	for i, w := range want {
		d := res.Drift[i]
		got := wantDrift{d.Desired.Address, d.Desired.Type, d.Desired.Provider, d.Desired.ID, d.Missing, nil}
		if got.address != w.address || got.typ != w.typ || got.provider != w.provider || got.id != w.id || got.missing != w.missing {
			t.Errorf("drift[%d] = %+v, want %+v", i, got, wantDrift{w.address, w.typ, w.provider, w.id, w.missing, nil})
		}
		if d.Desired.Mode != "managed" || d.Desired.Source != res.Source {
			t.Errorf("%s: Mode %q, Source %q", d.Desired.Address, d.Desired.Mode, d.Desired.Source)
		}
		if len(d.Changes) != 0 || len(w.changes) != 0 {
			if !reflect.DeepEqual(d.Changes, w.changes) {
				t.Errorf("%s changes:\n got %#v\nwant %#v", w.address, d.Changes, w.changes)
			}
		}
	}
}
