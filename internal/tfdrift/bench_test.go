package tfdrift

import (
	"encoding/json"
	"fmt"
	"testing"
)

// syntheticPlan builds a plan of about size bytes whose resource_drift
// holds security-group-like resources: nested ingress lists, tag maps,
// sensitive members, with a retagged resource, a new rule and a deleted
// resource in turn, so every path of the conversion is exercised.
func syntheticPlan(tb testing.TB, size int) []byte {
	tb.Helper()
	var drift []map[string]any
	rule := func(port int, cidr string) map[string]any {
		return map[string]any{
			"cidr_blocks": []any{cidr, "192.168.0.0/16"}, "description": fmt.Sprintf("rule %d", port),
			"from_port": port, "to_port": port, "protocol": "tcp", "self": false,
			"ipv6_cidr_blocks": []any{}, "prefix_list_ids": []any{}, "security_groups": []any{},
		}
	}
	object := func(i int, env string, rules int) map[string]any {
		ingress := make([]any, rules)
		for r := range ingress {
			ingress[r] = rule(1000+r, fmt.Sprintf("10.%d.%d.0/24", i%250, r))
		}
		return map[string]any{
			"id": fmt.Sprintf("sg-%017x", i), "arn": fmt.Sprintf("arn:aws:ec2:us-east-1:123456789012:security-group/sg-%017x", i),
			"name": fmt.Sprintf("web-%d", i), "description": "web tier", "vpc_id": "vpc-0123456789abcdef0",
			"ingress": ingress, "egress": []any{rule(0, "0.0.0.0/0")},
			"tags":     map[string]any{"Name": fmt.Sprintf("web-%d", i), "env": env, "team": "core"},
			"tags_all": map[string]any{"Name": fmt.Sprintf("web-%d", i), "env": env, "team": "core", "managed-by": "terraform"},
			"owner_id": "123456789012", "revoke_rules_on_delete": false, "timeouts": nil, "token": "secret",
		}
	}
	total := 0
	for i := 0; total < size; i++ {
		change := map[string]any{"actions": []any{"update"}, "before": object(i, "test", 6)}
		switch i % 3 {
		case 0:
			change["after"] = object(i, "prod", 6)
		case 1:
			change["after"] = object(i, "test", 7)
		case 2:
			change["actions"] = []any{"delete"}
			change["after"] = nil
		}
		change["before_sensitive"] = map[string]any{"token": true, "tags": map[string]any{}}
		change["after_sensitive"] = map[string]any{"token": true}
		rc := map[string]any{
			"address": fmt.Sprintf("module.m%d.aws_security_group.web[%d]", i%10, i), "mode": "managed",
			"type": "aws_security_group", "name": "web", "index": i,
			"provider_name": "registry.terraform.io/hashicorp/aws", "change": change,
		}
		b, err := json.Marshal(rc)
		if err != nil {
			tb.Fatal(err)
		}
		total += len(b) + 1
		drift = append(drift, rc)
	}
	data, err := json.Marshal(map[string]any{
		"format_version": "1.2", "terraform_version": "1.11.4",
		"planned_values": map[string]any{"root_module": map[string]any{}},
		"resource_drift": drift,
	})
	if err != nil {
		tb.Fatal(err)
	}
	return data
}

// BenchmarkReadPlan50MB measures ReadPlan on a 50 MB plan; b.SetBytes makes
// the result read in MB/s.
func BenchmarkReadPlan50MB(b *testing.B) {
	data := syntheticPlan(b, 50<<20)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	var n int
	for b.Loop() {
		res, err := ReadPlan("synthetic.json", data)
		if err != nil {
			b.Fatal(err)
		}
		n = len(res.Drift)
	}
	b.ReportMetric(float64(n), "drifted")
}

func TestSyntheticPlan(t *testing.T) {
	data := syntheticPlan(t, 200<<10)
	res, err := ReadPlan("synthetic.json", data)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Drift) < 30 {
		t.Fatalf("only %d drifted resources", len(res.Drift))
	}
	for i, d := range res.Drift[:3] {
		switch i {
		case 0:
			if len(d.Changes) != 2 || d.Changes[0].Path != "tags.env" || d.Changes[1].Path != "tags_all.env" {
				t.Errorf("retagged: %+v", d.Changes)
			}
		case 1:
			if len(d.Changes) != 10 || d.Changes[0].Path != "ingress[6].cidr_blocks[0]" {
				t.Errorf("new rule: %+v", d.Changes)
			}
		case 2:
			if !d.Missing {
				t.Errorf("deleted: %+v", d)
			}
		}
		if d.Desired.Raw["token"] != Redacted {
			t.Errorf("token not redacted: %v", d.Desired.Raw["token"])
		}
	}
}
