package aws

import (
	"context"
	"reflect"
	"testing"

	"plumb/internal/model"
	"plumb/internal/policy"
)

func sgObj(proto string, from, to float64, set func(map[string]any)) map[string]any {
	o := map[string]any{
		"protocol": proto, "from_port": from, "to_port": to,
		"cidr_blocks": []any{}, "ipv6_cidr_blocks": []any{}, "prefix_list_ids": []any{},
		"security_groups": []any{}, "self": false, "description": "",
	}
	set(o)
	return o
}

func TestPolicySubjectsSecurityGroupRules(t *testing.T) {
	tests := []struct {
		name  string
		rules any
		want  []any
	}{
		{"ipv4", []string{"tcp 22:22 0.0.0.0/0"}, []any{sgObj("tcp", 22, 22, func(o map[string]any) { o["cidr_blocks"] = []any{"0.0.0.0/0"} })}},
		{"ipv6", []string{"tcp 443:443 ::/0"}, []any{sgObj("tcp", 443, 443, func(o map[string]any) { o["ipv6_cidr_blocks"] = []any{"::/0"} })}},
		{"all traffic", []string{"-1 0:0 10.0.0.0/8"}, []any{sgObj("-1", 0, 0, func(o map[string]any) { o["cidr_blocks"] = []any{"10.0.0.0/8"} })}},
		{"icmp any", []string{"icmp -1:-1 10.0.0.0/8"}, []any{sgObj("icmp", -1, -1, func(o map[string]any) { o["cidr_blocks"] = []any{"10.0.0.0/8"} })}},
		{"prefix list", []string{"tcp 443:443 pl-0abc"}, []any{sgObj("tcp", 443, 443, func(o map[string]any) { o["prefix_list_ids"] = []any{"pl-0abc"} })}},
		{"other group", []string{"tcp 5432:5432 sg-other"}, []any{sgObj("tcp", 5432, 5432, func(o map[string]any) { o["security_groups"] = []any{"sg-other"} })}},
		{"self", []string{"-1 0:0 sg-self"}, []any{sgObj("-1", 0, 0, func(o map[string]any) { o["self"] = true })}},
		{"one object per string", []string{"tcp 80:80 0.0.0.0/0", "tcp 80:80 ::/0"}, []any{
			sgObj("tcp", 80, 80, func(o map[string]any) { o["cidr_blocks"] = []any{"0.0.0.0/0"} }),
			sgObj("tcp", 80, 80, func(o map[string]any) { o["ipv6_cidr_blocks"] = []any{"::/0"} }),
		}},
		{"after a JSON round trip", []any{"udp 53:53 10.0.0.0/8"}, []any{sgObj("udp", 53, 53, func(o map[string]any) { o["cidr_blocks"] = []any{"10.0.0.0/8"} })}},
		{"malformed strings are dropped", []string{"tcp 22 0.0.0.0/0", "garbage", "tcp a:b 0.0.0.0/0"}, []any{}},
		{"no rules", []string{}, []any{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			live := model.Resource{Provider: "aws", Type: "aws_security_group", ID: "sg-self",
				Tags: map[string]string{}, Attributes: map[string]any{"ingress": tt.rules, "egress": []string{}}}
			subs := PolicySubjects([]model.Resource{live})
			if len(subs) != 1 {
				t.Fatalf("%d subjects", len(subs))
			}
			if got := subs[0].Attributes["ingress"]; !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ingress = %#v\nwant %#v", got, tt.want)
			}
			if got := subs[0].Attributes["egress"]; !reflect.DeepEqual(got, []any{}) {
				t.Errorf("egress = %#v, want empty list", got)
			}
			if !reflect.DeepEqual(live.Attributes["ingress"], tt.rules) {
				t.Errorf("the live resource's attributes were modified: %#v", live.Attributes["ingress"])
			}
		})
	}
}

func TestPolicySubjectsTagsAndFields(t *testing.T) {
	subs := PolicySubjects([]model.Resource{
		{Provider: "aws", Type: "aws_ebs_volume", ID: "vol-1", ARN: "arn:aws:ec2:us-east-1:1:volume/vol-1", Region: "us-east-1", Name: "data",
			Tags: map[string]string{"owner": "x"}, Attributes: map[string]any{"encrypted": false, "size": int64(8)}},
		{Provider: "aws", Type: "aws_cloudwatch_log_group", ID: "/app", Attributes: map[string]any{"retention_in_days": float64(30)}},
	})
	vol := subs[0]
	if vol.ID != "vol-1" || vol.Region != "us-east-1" || vol.Name != "data" || vol.Type != "aws_ebs_volume" || vol.Provider != "aws" {
		t.Errorf("subject = %+v", vol)
	}
	wantTags := map[string]any{"owner": "x"}
	if !reflect.DeepEqual(vol.Attributes["tags"], wantTags) || !reflect.DeepEqual(vol.Attributes["tags_all"], wantTags) {
		t.Errorf("tags = %#v / %#v", vol.Attributes["tags"], vol.Attributes["tags_all"])
	}
	if vol.Attributes["id"] != "vol-1" || vol.Attributes["arn"] != "arn:aws:ec2:us-east-1:1:volume/vol-1" || vol.Attributes["encrypted"] != false {
		t.Errorf("attributes = %#v", vol.Attributes)
	}
	if _, ok := subs[1].Attributes["tags"]; ok {
		t.Errorf("unread tags (nil) became a tags attribute: %#v", subs[1].Attributes)
	}
}

// TestPolicySubjectsMeetPackRules runs the built-in security group rules
// on converted live groups: the shape must be what the rules expect.
func TestPolicySubjectsMeetPackRules(t *testing.T) {
	set, err := policy.LoadPacks([]string{"cis-aws-3.0"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	subs := PolicySubjects([]model.Resource{
		{Provider: "aws", Type: "aws_security_group", ID: "sg-open", Attributes: map[string]any{
			"ingress": []string{"tcp 22:22 0.0.0.0/0"}, "egress": []string{"-1 0:0 0.0.0.0/0"}}},
		{Provider: "aws", Type: "aws_security_group", ID: "sg-ok", Attributes: map[string]any{
			"ingress": []string{"tcp 22:22 10.0.0.0/8", "tcp 443:443 0.0.0.0/0", "-1 0:0 sg-ok"}, "egress": []string{}}},
	})
	outs, err := set.Evaluate(context.Background(), subs)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, o := range outs {
		if o.Err != nil {
			t.Errorf("%s on %s: %v", o.Rule.ID, o.Subject.ID, o.Err)
		}
		if o.Violated {
			got = append(got, o.Rule.ID+" "+o.Subject.ID)
		}
	}
	want := []string{"aws-sg-ssh-open-ipv4 sg-open"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("violations = %v, want %v", got, want)
	}
}

// TestPolicySubjectsS3Children: the sub-resources the bucket lister files
// in a bucket's attributes become subjects of their own Terraform types,
// with the bucket name as id, and leave the bucket's subject.
func TestPolicySubjectsS3Children(t *testing.T) {
	pab := map[string]any{"bucket": "data", "block_public_acls": true}
	tests := []struct {
		name  string
		attrs map[string]any
		want  []policy.Subject
	}{
		{"none", map[string]any{}, nil},
		{"public access block", map[string]any{s3PublicAccessType: pab}, []policy.Subject{{
			Provider: "aws", Type: s3PublicAccessType, ID: "data", Name: "data", Region: "eu-west-1",
			Attributes: map[string]any{"id": "data", "bucket": "data", "block_public_acls": true},
		}}},
		{"policy and encryption, in type order", map[string]any{
			s3PolicyType:     map[string]any{"bucket": "data", "policy": "{}"},
			s3EncryptionType: map[string]any{"bucket": "data", "rule": []any{}},
		}, []policy.Subject{
			{Provider: "aws", Type: s3EncryptionType, ID: "data", Name: "data", Region: "eu-west-1", Attributes: map[string]any{"id": "data", "bucket": "data", "rule": []any{}}},
			{Provider: "aws", Type: s3PolicyType, ID: "data", Name: "data", Region: "eu-west-1", Attributes: map[string]any{"id": "data", "bucket": "data", "policy": "{}"}},
		}},
		{"not an object", map[string]any{s3PolicyType: "garbage"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			attrs := map[string]any{"server_side_encryption_configuration": []any{}}
			for k, v := range tt.attrs {
				attrs[k] = v
			}
			live := model.Resource{Provider: "aws", Type: "aws_s3_bucket", ID: "data", Name: "data", Region: "eu-west-1",
				Tags: map[string]string{}, Attributes: attrs}
			subs := PolicySubjects([]model.Resource{live})
			if len(subs) == 0 || subs[0].Type != "aws_s3_bucket" {
				t.Fatalf("first subject is not the bucket: %+v", subs)
			}
			for _, typ := range s3Children {
				if _, ok := subs[0].Attributes[typ]; ok {
					t.Errorf("bucket subject keeps %s", typ)
				}
			}
			if _, ok := subs[0].Attributes["server_side_encryption_configuration"]; !ok {
				t.Error("bucket subject lost its own attribute")
			}
			if got := subs[1:]; !reflect.DeepEqual(got, tt.want) && (len(got) != 0 || len(tt.want) != 0) {
				t.Errorf("children = %#v\nwant %#v", got, tt.want)
			}
			for k := range tt.attrs {
				if _, ok := live.Attributes[k]; !ok {
					t.Errorf("%s removed from the live resource's attributes", k)
				}
			}
			if len(pab) != 2 {
				t.Errorf("the filed sub-resource was modified: %v", pab)
			}
		})
	}
}
