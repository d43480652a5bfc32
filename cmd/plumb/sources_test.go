package main

import (
	"bytes"
	"context"
	"encoding/json"
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

	"plumb/internal/demo"
	"plumb/internal/report"
	"plumb/internal/testenv"
)

// localConfig is a Terraform configuration with the small providers built
// from source: two files and a password that must never be printed.
const localConfig = `
terraform {
  required_providers {
    local  = { source = "hashicorp/local" }
    random = { source = "hashicorp/random" }
  }
}

resource "random_password" "db" {
  length  = 24
  special = true
}

resource "local_file" "a" {
  filename = "${path.module}/a.txt"
  content  = "alpha\n"
}

resource "local_file" "b" {
  filename = "${path.module}/b.txt"
  content  = "bravo\n"
}
`

// TestTerraformDirLocalProviders: a file deleted outside Terraform is the
// one finding, Terraform-only types count as managed, and the generated
// password appears in no output format.
func TestTerraformDirLocalProviders(t *testing.T) {
	tf := testenv.NewSmallProvidersTerraform(t)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "main.tf"), []byte(localConfig), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := tf.Run(ctx, dir, "apply", "-auto-approve", "-input=false", "-no-color"); err != nil {
		t.Fatal(err)
	}
	password := passwordFromState(t, filepath.Join(dir, "terraform.tfstate"))
	t.Setenv("TF_CLI_CONFIG_FILE", tf.CLIConfig)

	clean := scanJSON(t, 0, "scan", "--terraform-dir", dir)
	if clean.Summary.Managed != 3 || clean.Summary.InSync != 3 {
		t.Fatalf("clean apply summary = %+v, want 3 managed, 3 in sync", clean.Summary)
	}

	if err := os.Remove(filepath.Join(dir, "b.txt")); err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	var table, stderr bytes.Buffer
	code := run([]string{"scan", "--terraform-dir", dir, "-o", "table", "-o", "json=" + filepath.Join(out, "r.json"), "-o", "markdown=" + filepath.Join(out, "r.md")}, &table, &stderr)
	if code != exitFindings {
		t.Fatalf("exit code %d, stderr %s", code, stderr.String())
	}
	raw, err := os.ReadFile(filepath.Join(out, "r.json"))
	if err != nil {
		t.Fatal(err)
	}
	var rep report.Report
	if err := json.Unmarshal(raw, &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.Findings) != 1 || rep.Findings[0].Kind != "drift.missing" || rep.Findings[0].Address == nil || *rep.Findings[0].Address != "local_file.b" {
		t.Fatalf("findings: %s", describe(&rep))
	}
	if rep.Summary.Managed != 3 || rep.Summary.InSync != 2 || rep.Summary.Missing != 1 {
		t.Errorf("summary = %+v", rep.Summary)
	}
	if !strings.Contains(strings.Join(rep.Notes, " "), "refresh-only") {
		t.Errorf("notes lack the refresh-only caveat: %q", rep.Notes)
	}
	md, err := os.ReadFile(filepath.Join(out, "r.md"))
	if err != nil {
		t.Fatal(err)
	}
	for name, text := range map[string]string{"json": string(raw), "table": table.String(), "markdown": string(md), "stderr": stderr.String()} {
		if strings.Contains(text, password) || strings.Contains(text, jsonEscaped(password)) {
			t.Errorf("the password appears in the %s output", name)
		}
	}
}

func passwordFromState(t *testing.T, path string) string {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var st struct {
		Resources []struct {
			Type      string `json:"type"`
			Instances []struct {
				Attributes map[string]any `json:"attributes"`
			} `json:"instances"`
		} `json:"resources"`
	}
	if err := json.Unmarshal(raw, &st); err != nil {
		t.Fatal(err)
	}
	for _, r := range st.Resources {
		if r.Type == "random_password" {
			if p, ok := r.Instances[0].Attributes["result"].(string); ok && len(p) == 24 {
				return p
			}
		}
	}
	t.Fatal("no random_password result in state")
	return ""
}

func jsonEscaped(s string) string {
	b, _ := json.Marshal(s)
	return strings.Trim(string(b), `"`)
}

// TestTerraformDirWithInventory applies the demo estate to moto, then
// changes a tag, adds a security group rule and shortens a log group's
// retention out of band. Terraform's refresh and plumb's inventory both
// see some of it; each resource must appear once, with its attribute
// paths, and nothing else may be reported.
func TestTerraformDirWithInventory(t *testing.T) {
	moto := testenv.StartMoto(t)
	tf := testenv.NewTerraform(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	dir := t.TempDir()
	if _, err := demo.Apply(ctx, tf, dir, moto.Endpoint); err != nil {
		t.Fatal(err)
	}
	t.Setenv("TF_CLI_CONFIG_FILE", tf.CLIConfig)
	t.Setenv("TF_VAR_endpoint", moto.Endpoint)
	t.Chdir(dir)

	clean := scanJSON(t, 0, "scan", "--terraform-dir", dir)
	if len(clean.Findings) != 0 {
		t.Fatalf("clean estate: %s", describe(clean))
	}

	cfg := moto.Config(t, "us-east-1")
	ec2c := ec2.NewFromConfig(cfg)
	vpcs, err := ec2c.DescribeVpcs(ctx, &ec2.DescribeVpcsInput{Filters: []ec2types.Filter{{Name: aws.String("tag:Name"), Values: []string{"plumb-demo"}}}})
	if err != nil || len(vpcs.Vpcs) != 1 {
		t.Fatalf("find vpc: %v", err)
	}
	if _, err := ec2c.CreateTags(ctx, &ec2.CreateTagsInput{Resources: []string{*vpcs.Vpcs[0].VpcId}, Tags: []ec2types.Tag{{Key: aws.String("env"), Value: aws.String("prod")}}}); err != nil {
		t.Fatal(err)
	}
	driftDemoWebAndLogs(t, ctx, cfg)

	rep := scanJSON(t, 2, "scan", "--terraform-dir", dir)
	got := map[string][]string{}
	var order []string
	for _, f := range rep.Findings {
		if f.Kind != "drift.changed" {
			t.Errorf("unexpected %s finding for %s %s", f.Kind, f.Resource.Type, f.Resource.ID)
			continue
		}
		if _, dup := got[f.Resource.Type]; dup {
			t.Errorf("%s reported twice", f.Resource.Type)
		}
		var paths []string
		for _, c := range f.Changes {
			paths = append(paths, c.Path)
		}
		got[f.Resource.Type] = paths
		order = append(order, f.Resource.Type)
	}
	sort.Strings(order)
	if strings.Join(order, ",") != "aws_cloudwatch_log_group,aws_security_group,aws_vpc" {
		t.Fatalf("changed resources = %v: %s", order, describe(rep))
	}
	if p := got["aws_vpc"]; len(p) != 1 || p[0] != "tags.env" {
		t.Errorf("vpc changes = %v, want [tags.env] (tags_all.env folded in)", p)
	}
	if p := got["aws_cloudwatch_log_group"]; len(p) != 1 || p[0] != "retention_in_days" {
		t.Errorf("log group changes = %v, want [retention_in_days] once", p)
	}
	// The group's rules are judged by plumb, which knows the rule declared
	// as a separate aws_security_group_rule belongs to the group; Terraform's
	// refresh of the group alone would report that rule as drift too.
	if p := got["aws_security_group"]; len(p) != 1 || p[0] != "ingress" {
		t.Errorf("security group changes = %v, want [ingress]", p)
	}
	for _, f := range rep.Findings {
		if f.Resource.Type == "aws_security_group" {
			after, _ := json.Marshal(f.Changes[0].After)
			if !strings.Contains(string(after), "tcp 3389:3389 0.0.0.0/0") || strings.Count(string(after), "tcp") != 3 {
				t.Errorf("ingress after = %s, want the two declared rules and the added one", after)
			}
		}
	}
	if rep.Summary.Changed != 3 || rep.Summary.Missing != 0 || rep.Summary.Unmanaged != 0 {
		t.Errorf("summary = %+v", rep.Summary)
	}
}

// TestWhatIfSource reads an az CLI what-if document: Create, Delete and
// Modify become findings, the latter with low confidence; Ignore and
// Unsupported are listed as not evaluated, so the scan is partial.
func TestWhatIfSource(t *testing.T) {
	path, err := filepath.Abs("../../internal/whatif/testdata/cli.json")
	if err != nil {
		t.Fatal(err)
	}
	scanJSON(t, 1, "scan", "--whatif", path)
	rep := scanJSON(t, 2, "scan", "--whatif", path, "--allow-partial")
	kinds := map[string]int{}
	for _, f := range rep.Findings {
		kinds[string(f.Kind)]++
		if f.Resource.Provider != "azure" {
			t.Errorf("provider = %q", f.Resource.Provider)
		}
		if f.Kind == "drift.changed" && f.Confidence != "low" {
			t.Errorf("what-if change without low confidence: %+v", f)
		}
	}
	if kinds["drift.missing"] == 0 || kinds["drift.unmanaged"] == 0 || kinds["drift.changed"] == 0 {
		t.Errorf("finding kinds = %v", kinds)
	}
	if len(rep.Errors) == 0 {
		t.Error("Ignore/Unsupported entries are not listed as not evaluated")
	}
	if !strings.Contains(strings.Join(rep.Notes, " "), "what-if") {
		t.Errorf("notes = %q", rep.Notes)
	}
}

// driftDemoWebAndLogs changes two of the demo's declared resources out of
// band: an RDP rule open to the world on the web security group, and the
// log group's retention shortened to 7 days.
func driftDemoWebAndLogs(t *testing.T, ctx context.Context, cfg aws.Config) {
	t.Helper()
	ec2c := ec2.NewFromConfig(cfg)
	sgs, err := ec2c.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{Filters: []ec2types.Filter{{Name: aws.String("group-name"), Values: []string{"plumb-demo-web"}}}})
	if err != nil || len(sgs.SecurityGroups) != 1 {
		t.Fatalf("find security group: %v", err)
	}
	if _, err := ec2c.AuthorizeSecurityGroupIngress(ctx, &ec2.AuthorizeSecurityGroupIngressInput{
		GroupId: sgs.SecurityGroups[0].GroupId,
		IpPermissions: []ec2types.IpPermission{{IpProtocol: aws.String("tcp"), FromPort: aws.Int32(3389), ToPort: aws.Int32(3389),
			IpRanges: []ec2types.IpRange{{CidrIp: aws.String("0.0.0.0/0")}}}},
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := cloudwatchlogs.NewFromConfig(cfg).PutRetentionPolicy(ctx, &cloudwatchlogs.PutRetentionPolicyInput{LogGroupName: aws.String("/plumb/demo"), RetentionInDays: aws.Int32(7)}); err != nil {
		t.Fatal(err)
	}
}
