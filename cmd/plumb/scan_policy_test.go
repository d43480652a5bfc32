package main

import (
	"bytes"
	"context"
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
