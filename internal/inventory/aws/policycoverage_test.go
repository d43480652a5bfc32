package aws

import (
	"strings"
	"testing"

	"plumb/internal/inventory"
	"plumb/internal/model"
)

// TestPolicyCoverage: a related type is covered where its listing
// completed; S3 sub-resources where every bucket's detail call answered;
// Terraform-only types through the parent they fold into; anything the
// inventory does not list, nowhere.
func TestPolicyCoverage(t *testing.T) {
	inv := inventory.NewResult([]string{"us-east-1", "eu-west-1"})
	inv.Add("aws_vpc", "us-east-1", nil)
	inv.Add("aws_vpc", "eu-west-1", nil)
	inv.Add("aws_flow_log", "us-east-1", nil)
	inv.Add("aws_security_group", "us-east-1", nil)
	inv.Add("aws_security_group", "eu-west-1", nil)
	inv.Add("aws_s3_bucket", "us-east-1", []model.Resource{{Type: "aws_s3_bucket", ID: "ok", Region: "us-east-1"}})
	inv.Add("aws_s3_bucket", "eu-west-1", []model.Resource{{Type: "aws_s3_bucket", ID: "denied", Region: "eu-west-1",
		Attributes: map[string]any{policyUnread: []string{s3PublicAccessType}}}})
	inv.Add(s3AccountPublicAccessType, "", nil)
	cov := PolicyCoverage(inv)

	covered := []struct {
		typ, region string
		ok          bool
		why         string
	}{
		{"aws_flow_log", "us-east-1", true, ""},
		{"aws_flow_log", "eu-west-1", false, "not listed in eu-west-1"},
		{"aws_flow_log", "ap-south-1", false, "region ap-south-1 is not scanned"},
		{s3PublicAccessType, "us-east-1", true, ""},
		{s3PublicAccessType, "eu-west-1", false, "could not be read for 1 bucket(s) in eu-west-1"},
		{s3PolicyType, "eu-west-1", true, ""},
		{s3AccountPublicAccessType, "us-east-1", true, ""},
		{"aws_security_group_rule", "eu-west-1", true, ""},
		{"aws_cloudwatch_metric_alarm", "us-east-1", false, "not listed by the live inventory"},
	}
	for _, c := range covered {
		ok, why := cov.Covered(c.typ, c.region)
		if ok != c.ok || !strings.Contains(why, c.why) {
			t.Errorf("Covered(%s, %s) = %v %q, want %v %q", c.typ, c.region, ok, why, c.ok, c.why)
		}
	}
	listed := map[string]bool{
		"aws_vpc": true, "aws_flow_log": false, "aws_security_group_rule": true, s3PolicyType: true,
		s3PublicAccessType: false, s3AccountPublicAccessType: true, "aws_ebs_encryption_by_default": false,
	}
	for typ, want := range listed {
		if ok, why := cov.Listed(typ); ok != want || (!ok && why == "") {
			t.Errorf("Listed(%s) = %v %q, want %v", typ, ok, why, want)
		}
	}

	// Event time: only what was read with the resource is covered.
	read := ReadCoverage([]model.Resource{{Type: "aws_s3_bucket", ID: "b", Region: "us-east-1"}})
	if ok, _ := read.Covered(s3PublicAccessType, "us-east-1"); !ok {
		t.Error("a bucket read back covers its own public access block")
	}
	for _, typ := range []string{"aws_flow_log", s3AccountPublicAccessType} {
		if ok, why := read.Covered(typ, "us-east-1"); ok || why == "" {
			t.Errorf("event time covers %s: %v %q", typ, ok, why)
		}
	}
}
