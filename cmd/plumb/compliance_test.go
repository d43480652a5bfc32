package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"plumb/internal/testenv"
)

func TestReportCompliance(t *testing.T) {
	plan := filepath.Join("..", "..", "internal", "tfplan", "testdata", "create", "plan.json")
	out := filepath.Join(t.TempDir(), "pci.html")
	var stdout, stderr bytes.Buffer
	code := run([]string{"report", "compliance", "--pack", "pci-dss-4.0", "--plan", plan, "-o", "html=" + out, "-o", "markdown"}, &stdout, &stderr)
	if code != exitFindings {
		t.Fatalf("exit code %d, want 2 (failing controls); stderr %s", code, stderr.String())
	}
	html, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"<html", "pci-dss-4.0", "3.5.1", "module.storage.aws_ebs_volume.data", "aws-ebs-volume-encrypted"} {
		if !strings.Contains(string(html), want) {
			t.Errorf("html lacks %q", want)
		}
	}
	md := stdout.String()
	if !strings.Contains(md, "| `3.5.1` | Fail |") || !strings.Contains(md, "Not evaluated") {
		t.Errorf("markdown:\n%s", md)
	}
}

func TestReportComplianceUsage(t *testing.T) {
	plan := filepath.Join("..", "..", "internal", "tfplan", "testdata", "create", "plan.json")
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no pack", []string{"report", "compliance", "--plan", plan}, "--pack"},
		{"unknown pack", []string{"report", "compliance", "--pack", "sox", "--plan", plan}, "choose one of"},
		{"no plan", []string{"report", "compliance", "--pack", "pci-dss-4.0"}, "--plan is required"},
		{"plan and state", []string{"report", "compliance", "--pack", "pci-dss-4.0", "--plan", plan, "--state", "x.tfstate"}, "not both"},
		{"region without state", []string{"report", "compliance", "--pack", "pci-dss-4.0", "--plan", plan, "--region", "us-east-1"}, "pass --state too"},
		{"bad cloud", []string{"report", "compliance", "--pack", "pci-dss-4.0", "--state", "x.tfstate", "--cloud", "gcp"}, "want aws, azure or none"},
		{"missing state", []string{"report", "compliance", "--pack", "pci-dss-4.0", "--state", "nope.tfstate", "--cloud", "none"}, "nope.tfstate"},
		{"bad format", []string{"report", "compliance", "--pack", "pci-dss-4.0", "--plan", plan, "-o", "pdf"}, "markdown or html"},
		{"missing plan", []string{"report", "compliance", "--pack", "pci-dss-4.0", "--plan", "nope.json"}, "nope.json"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if code := run(tc.args, &stdout, &stderr); code != exitError {
				t.Fatalf("exit code %d, want 1", code)
			}
			if !strings.Contains(stderr.String(), tc.want) {
				t.Errorf("stderr %q lacks %q", stderr.String(), tc.want)
			}
		})
	}
}

// TestReportComplianceLive reports on the live estate: the scan engine
// lists moto's security groups and volumes and the pack is evaluated per
// control. An open and a closed group make control 5.2 fail on the open
// one only while 5.3 passes on both; a rule the inventory cannot decide
// turns a passing control into "not evaluated", never "pass".
func TestReportComplianceLive(t *testing.T) {
	moto := testenv.StartMoto(t)
	ctx := context.Background()
	client := ec2.NewFromConfig(moto.Config(t, "us-east-1"))
	group := func(name, cidr string) string {
		out, err := client.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{GroupName: aws.String(name), Description: aws.String(name)})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := client.AuthorizeSecurityGroupIngress(ctx, &ec2.AuthorizeSecurityGroupIngressInput{
			GroupId: out.GroupId,
			IpPermissions: []ec2types.IpPermission{{IpProtocol: aws.String("tcp"), FromPort: aws.Int32(22), ToPort: aws.Int32(22),
				IpRanges: []ec2types.IpRange{{CidrIp: aws.String(cidr)}}}},
		}); err != nil {
			t.Fatal(err)
		}
		return aws.ToString(out.GroupId)
	}
	open := group("ssh-open", "0.0.0.0/0")
	closed := group("ssh-internal", "10.0.0.0/8")
	vol, err := client.CreateVolume(ctx, &ec2.CreateVolumeInput{AvailabilityZone: aws.String("us-east-1a"), Size: aws.Int32(8), Encrypted: aws.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}

	dir := t.TempDir()
	empty := writeFile(t, dir, "empty.tfstate", `{"version": 4, "terraform_version": "1.11.4", "serial": 1, "lineage": "x", "outputs": {}, "resources": []}`)
	// revoke_rules_on_delete is a Terraform-only setting no inventory reads.
	unread := writeFile(t, dir, "unread.yaml", `rules:
  - id: x-sg-revoke-on-delete
    title: Groups revoke their rules on delete
    resource: aws_security_group
    deny: 'resource.revoke_rules_on_delete != true'
    severity: low
    controls: {cis-aws-3.0: ["5.3"]}
`)
	base := []string{"report", "compliance", "--pack", "cis-aws-3.0", "--state", empty, "--allow-empty-state", "--region", "us-east-1"}
	sgOnly := append(append([]string{}, base...), "--type", "aws_security_group")
	tests := []struct {
		name     string
		args     []string
		wantCode int
		want     []string // substrings of the markdown
		notWant  []string
	}{
		{
			name: "one open group", args: sgOnly, wantCode: exitFindings,
			want: []string{
				"| Control | Status | Rules | Failing | Errors | Passing | Not evaluated |",
				// The failing cell holds the open group alone, then an
				// empty errors cell.
				"| `" + open + "` (`aws-sg-ssh-open-ipv4`) | – | ",
				"| `5.2` | Fail |",
				"| `5.3` | Pass |",
				"`" + closed + "` (`aws-sg-ssh-open-ipv4`)",
				"| `2.2.1` | Not evaluated |",
			},
			notWant: []string{"| `5.3` | Not evaluated |", "`" + closed + "` (`aws-sg-ssh-open-ipv4`) | – | "},
		},
		{
			name: "a rule the inventory cannot decide", args: append(append([]string{}, sgOnly...), "--policy", unread), wantCode: exitFindings,
			want: []string{
				"| `5.2` | Fail |",
				"| `5.3` | Not evaluated |",
				"`" + open + "` (`x-sg-revoke-on-delete`): revoke\\_rules\\_on\\_delete is not read by the live inventory",
			},
			notWant: []string{"| `5.3` | Pass |"},
		},
		{
			// 2.2.1 also has a rule on EBS encryption by default, an
			// account setting the inventory does not read: however
			// encrypted the volumes, the control is not evaluated (the
			// first case shows a live Pass: 5.3, whose rules are all on
			// security groups).
			name: "only compliant resources", args: append(append([]string{}, base...), "--type", "aws_ebs_volume"), wantCode: exitOK,
			want: []string{
				"| `2.2.1` | Not evaluated |",
				"`" + aws.ToString(vol.VolumeId) + "` (`aws-ebs-volume-encrypted`)",
				"every `aws_ebs_encryption_by_default` (`aws-ebs-encryption-by-default`): not listed by the live inventory",
				"| `5.2` | Not evaluated |",
			},
			notWant: []string{"| `2.2.1` | Pass |"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if code := run(tt.args, &stdout, &stderr); code != tt.wantCode {
				t.Fatalf("exit code %d, want %d; stderr %s\n%s", code, tt.wantCode, stderr.String(), stdout.String())
			}
			md := stdout.String()
			for _, w := range tt.want {
				if !strings.Contains(md, w) {
					t.Errorf("markdown lacks %q", w)
				}
			}
			for _, w := range tt.notWant {
				if strings.Contains(md, w) {
					t.Errorf("markdown has %q", w)
				}
			}
			if t.Failed() {
				t.Logf("markdown:\n%s", md)
			}
		})
	}
}
