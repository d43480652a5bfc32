package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"plumb/internal/testenv"
)

// TestScanEvaluatesPoliciesOnLiveResources creates compliant and
// non-compliant resources out of band and checks that `plumb scan --pack`
// reports exactly the non-compliant ones as policy violations, with their
// controls, next to the drift findings.
func TestScanEvaluatesPoliciesOnLiveResources(t *testing.T) {
	moto := testenv.StartMoto(t)
	ctx := context.Background()
	client := ec2.NewFromConfig(moto.Config(t, "us-east-1"))

	// Every resource carries the tags the PCI DSS pack requires, so only
	// the rules under test can fire.
	tags := func(rt ec2types.ResourceType, name string) []ec2types.TagSpecification {
		return []ec2types.TagSpecification{{ResourceType: rt, Tags: []ec2types.Tag{
			{Key: aws.String("Name"), Value: aws.String(name)},
			{Key: aws.String("owner"), Value: aws.String("payments")},
			{Key: aws.String("environment"), Value: aws.String("test")},
			{Key: aws.String("data-classification"), Value: aws.String("internal")},
		}}}
	}
	group := func(name, cidr string) string {
		out, err := client.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{
			GroupName: aws.String(name), Description: aws.String(name),
			TagSpecifications: tags(ec2types.ResourceTypeSecurityGroup, name),
		})
		if err != nil {
			t.Fatal(err)
		}
		_, err = client.AuthorizeSecurityGroupIngress(ctx, &ec2.AuthorizeSecurityGroupIngressInput{
			GroupId: out.GroupId,
			IpPermissions: []ec2types.IpPermission{{
				IpProtocol: aws.String("tcp"), FromPort: aws.Int32(22), ToPort: aws.Int32(22),
				IpRanges: []ec2types.IpRange{{CidrIp: aws.String(cidr)}},
			}},
		})
		if err != nil {
			t.Fatal(err)
		}
		return aws.ToString(out.GroupId)
	}
	volume := func(name string, encrypted bool) string {
		out, err := client.CreateVolume(ctx, &ec2.CreateVolumeInput{
			AvailabilityZone: aws.String("us-east-1a"), Size: aws.Int32(8), Encrypted: aws.Bool(encrypted),
			TagSpecifications: tags(ec2types.ResourceTypeVolume, name),
		})
		if err != nil {
			t.Fatal(err)
		}
		return aws.ToString(out.VolumeId)
	}
	openSG := group("ssh-open", "0.0.0.0/0")
	group("ssh-internal", "10.0.0.0/8")
	plainVol := volume("plain", false)
	volume("sealed", true)

	dir := t.TempDir()
	empty := writeFile(t, dir, "empty.tfstate", `{"version": 4, "terraform_version": "1.11.4", "serial": 1, "lineage": "x", "outputs": {}, "resources": []}`)
	rep := scanJSON(t, exitFindings, "scan", "--state", empty, "--allow-empty-state",
		"--type", "aws_security_group", "--type", "aws_ebs_volume",
		"--pack", "cis-aws-3.0", "--pack", "pci-dss-4.0")

	var got []string
	controls := map[string]map[string][]string{}
	for _, f := range rep.Findings {
		if f.Kind != "policy.violation" {
			continue
		}
		got = append(got, f.Rule+" "+f.Resource.ID)
		controls[f.Rule] = f.Controls
	}
	sort.Strings(got)
	want := []string{"aws-ebs-volume-encrypted " + plainVol, "aws-sg-ssh-open-ipv4 " + openSG}
	sort.Strings(want)
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("violations = %v, want %v\n%s", got, want, describe(rep))
	}
	if c := controls["aws-sg-ssh-open-ipv4"]; !reflect.DeepEqual(c["cis-aws-3.0"], []string{"5.2"}) || len(c["pci-dss-4.0"]) == 0 {
		t.Errorf("ssh rule controls = %v", c)
	}
	if c := controls["aws-ebs-volume-encrypted"]; !reflect.DeepEqual(c["pci-dss-4.0"], []string{"3.5.1"}) || len(c["cis-aws-3.0"]) == 0 {
		t.Errorf("ebs rule controls = %v", c)
	}
	if len(rep.Errors) != 0 {
		t.Errorf("errors = %+v", rep.Errors)
	}

	// Without --pack the same scan has no policy findings at all.
	plain := scanJSON(t, exitFindings, "scan", "--state", empty, "--allow-empty-state",
		"--type", "aws_security_group", "--type", "aws_ebs_volume")
	for _, f := range plain.Findings {
		if f.Kind == "policy.violation" {
			t.Errorf("policy finding without --pack: %+v", f)
		}
	}

	// An unknown pack is a usage error naming the built-in ones.
	var stdout, stderr bytes.Buffer
	if code := run([]string{"scan", "--state", empty, "--allow-empty-state", "--pack", "sox"}, &stdout, &stderr); code != exitError {
		t.Fatalf("unknown pack: exit code %d", code)
	}
	if !strings.Contains(stderr.String(), `"sox"`) || !strings.Contains(stderr.String(), "cis-aws-3.0") {
		t.Errorf("unknown pack message: %s", stderr.String())
	}
}

// addressConfig is applied with the real terraform against moto: a bucket
// per module instance (no public access block: the companion rule fires),
// a bucket whose block allows public policies, and a group open to SSH.
const addressConfig = `
module "store" {
  source   = "./store"
  for_each = toset(["a", "b"])
  name     = "plumb-addr-${each.key}"
}

resource "aws_s3_bucket" "blocked" {
  bucket = "plumb-addr-blocked"
}

resource "aws_s3_bucket_public_access_block" "blocked" {
  bucket                  = aws_s3_bucket.blocked.id
  block_public_acls       = true
  block_public_policy     = false
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_security_group" "open" {
  name        = "plumb-addr-open"
  description = "open"
  ingress {
    from_port   = 22
    to_port     = 22
    protocol    = "tcp"
    cidr_blocks = ["0.0.0.0/0"]
  }
}
`

const addressModule = `
variable "name" { type = string }
resource "aws_s3_bucket" "this" {
  bucket = var.name
}
`

// TestScanPolicyFindingsCarryAddress: live policy findings on resources a
// state declares carry the Terraform address (modules and for_each
// instances included, and the S3 sub-resources), as the JSON contract
// promises; a resource no code declares has address null.
func TestScanPolicyFindingsCarryAddress(t *testing.T) {
	moto := testenv.StartMoto(t)
	tf := testenv.NewTerraform(t)
	ctx := context.Background()
	dir := t.TempDir()
	writeFile(t, dir, "main.tf", testenv.MotoProvider(moto.Endpoint)+addressConfig)
	if err := os.MkdirAll(filepath.Join(dir, "store"), 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "store"), "main.tf", addressModule)
	if _, err := tf.Run(ctx, dir, "init", "-no-color", "-input=false"); err != nil {
		t.Fatal(err)
	}
	if _, err := tf.Run(ctx, dir, "apply", "-auto-approve", "-no-color", "-input=false"); err != nil {
		t.Fatal(err)
	}
	// An undeclared group, open too.
	client := ec2.NewFromConfig(moto.Config(t, "us-east-1"))
	out, err := client.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{GroupName: aws.String("plumb-addr-hand"), Description: aws.String("by hand")})
	if err != nil {
		t.Fatal(err)
	}
	_, err = client.AuthorizeSecurityGroupIngress(ctx, &ec2.AuthorizeSecurityGroupIngressInput{
		GroupId: out.GroupId,
		IpPermissions: []ec2types.IpPermission{{
			IpProtocol: aws.String("tcp"), FromPort: aws.Int32(22), ToPort: aws.Int32(22),
			IpRanges: []ec2types.IpRange{{CidrIp: aws.String("0.0.0.0/0")}},
		}},
	})
	if err != nil {
		t.Fatal(err)
	}

	rep := scanJSON(t, exitFindings, "scan", "--state", filepath.Join(dir, "terraform.tfstate"), "--region", "us-east-1",
		"--type", "aws_s3_bucket", "--type", "aws_security_group", "--type", "aws_s3_account_public_access_block",
		"--pack", "cis-aws-3.0")
	got := map[string]string{}
	for _, f := range rep.Findings {
		if f.Kind != "policy.violation" {
			continue
		}
		addr := "null"
		if f.Address != nil {
			addr = *f.Address
		}
		got[f.Rule+" "+f.Resource.ID] = addr
	}
	want := map[string]string{
		"aws-s3-bucket-has-public-access-block plumb-addr-a":                                                        `module.store["a"].aws_s3_bucket.this`,
		"aws-s3-bucket-has-public-access-block plumb-addr-b":                                                        `module.store["b"].aws_s3_bucket.this`,
		"aws-s3-public-access-block plumb-addr-blocked":                                                             "aws_s3_bucket_public_access_block.blocked",
		"aws-sg-ssh-open-ipv4 " + aws.ToString(out.GroupId):                                                         "null",
		"aws-sg-ssh-open-ipv4 " + stateID(t, filepath.Join(dir, "terraform.tfstate"), "aws_security_group", "open"): "aws_security_group.open",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("policy findings (rule id -> address):\n got %v\nwant %v\n%s", got, want, describe(rep))
	}
}

// stateID reads the id of a root-module resource from a state file.
func stateID(t *testing.T, statePath, typ, name string) string {
	t.Helper()
	data, err := os.ReadFile(statePath)
	if err != nil {
		t.Fatal(err)
	}
	var st struct {
		Resources []struct {
			Module    string `json:"module"`
			Type      string `json:"type"`
			Name      string `json:"name"`
			Instances []struct {
				Attributes map[string]any `json:"attributes"`
			} `json:"instances"`
		} `json:"resources"`
	}
	if err := json.Unmarshal(data, &st); err != nil {
		t.Fatal(err)
	}
	for _, r := range st.Resources {
		if r.Module == "" && r.Type == typ && r.Name == name && len(r.Instances) == 1 {
			if id, ok := r.Instances[0].Attributes["id"].(string); ok {
				return id
			}
		}
	}
	t.Fatalf("%s.%s not in %s", typ, name, statePath)
	return ""
}
