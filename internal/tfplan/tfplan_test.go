package tfplan

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	tfjson "github.com/hashicorp/terraform-json"

	"plumb/internal/policy"
)

// The fixtures are real plans: terraform 1.11 with the AWS provider
// 5.100.0 against moto. testdata/create is a first plan of three new
// resources (one in a local module); testdata/change is the next plan
// after applying it and editing the code: the security group deleted, the
// VPC replaced (new CIDR), the volume updated in place and a subnet added
// whose tags hold a sensitive variable.

func readFixture(t *testing.T, dir string) []policy.Subject {
	t.Helper()
	name := filepath.Join("testdata", dir, "plan.json")
	data, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	subjects, err := Read(name, data, "")
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	return subjects
}

func byAddress(subjects []policy.Subject) map[string]policy.Subject {
	out := map[string]policy.Subject{}
	for _, s := range subjects {
		out[s.Address] = s
	}
	return out
}

func TestPlanCreate(t *testing.T) {
	subs := byAddress(readFixture(t, "create"))
	if len(subs) != 3 {
		t.Fatalf("subjects = %v, want 3", subs)
	}
	sg, ok := subs["aws_security_group.ssh"]
	if !ok {
		t.Fatal("aws_security_group.ssh missing")
	}
	if sg.Provider != "aws" || sg.Type != "aws_security_group" || sg.Name != "ssh" || sg.Region != "us-east-1" {
		t.Errorf("sg = %+v", sg)
	}
	if sg.ID != "" {
		t.Errorf("a resource to create has no id yet, got %q", sg.ID)
	}
	if sg.File != "main.tf" || sg.Line != 36 {
		t.Errorf("sg location = %s:%d, want main.tf:36", sg.File, sg.Line)
	}
	// Known only after apply: a marker, computed by the provider (id,
	// arn, owner_id: computed from the group itself) or set by the
	// configuration (vpc_id = aws_vpc.main.id).
	for _, k := range []string{"id", "arn", "owner_id"} {
		u, ok := sg.Attributes[k].(*policy.Unknown)
		if !ok || u.Configured || len(u.Refs) != 0 || u.Untraced {
			t.Errorf("computed attribute %s = %#v, want an unconfigured Unknown", k, sg.Attributes[k])
		}
	}
	if u, ok := sg.Attributes["vpc_id"].(*policy.Unknown); !ok || !u.Configured || len(u.Refs) != 1 || u.Refs[0] != "aws_vpc.main" || u.Untraced {
		t.Errorf("vpc_id = %#v, want a configured Unknown referring to aws_vpc.main", sg.Attributes["vpc_id"])
	}
	if got := sg.Refs["vpc_id"]; len(got) != 1 || got[0] != "aws_vpc.main" {
		t.Errorf("Refs[vpc_id] = %v, want [aws_vpc.main]", got)
	}
	ingress, _ := sg.Attributes["ingress"].([]any)
	if len(ingress) != 1 {
		t.Fatalf("ingress = %v", sg.Attributes["ingress"])
	}
	rule := ingress[0].(map[string]any)
	if rule["from_port"] != float64(22) || rule["cidr_blocks"].([]any)[0] != "0.0.0.0/0" {
		t.Errorf("ingress rule = %v", rule)
	}
	// tags_all is unknown in the plan, but with tags null and a provider
	// without default_tags it can only be empty.
	if sg.Tags == nil || len(sg.Tags) != 0 {
		t.Errorf("tags = %v, want known and empty", sg.Tags)
	}
	if all, ok := sg.Attributes["tags_all"].(map[string]any); !ok || len(all) != 0 {
		t.Errorf("tags_all = %#v, want {}", sg.Attributes["tags_all"])
	}

	vol, ok := subs["module.storage.aws_ebs_volume.data"]
	if !ok {
		t.Fatal("module volume missing")
	}
	if vol.File != "modules/storage/volumes.tf" || vol.Line != 3 {
		t.Errorf("module volume location = %s:%d, want modules/storage/volumes.tf:3", vol.File, vol.Line)
	}
	if vol.Attributes["encrypted"] != false || vol.Attributes["size"] != float64(8) {
		t.Errorf("volume attributes = %v", vol.Attributes)
	}
}

func TestPlanChange(t *testing.T) {
	subs := byAddress(readFixture(t, "change"))
	if _, ok := subs["aws_security_group.ssh"]; ok {
		t.Error("a resource the plan deletes must not be checked")
	}
	vpc, ok := subs["aws_vpc.main"]
	if !ok {
		t.Fatal("replaced VPC missing: it exists after the apply")
	}
	if vpc.Attributes["cidr_block"] != "10.51.0.0/16" {
		t.Errorf("replaced VPC should show the new value, got %v", vpc.Attributes["cidr_block"])
	}
	if vpc.ID != "" {
		t.Errorf("replaced VPC gets a new id, got %q", vpc.ID)
	}
	vol, ok := subs["module.storage.aws_ebs_volume.data"]
	if !ok {
		t.Fatal("updated volume missing")
	}
	if !strings.HasPrefix(vol.ID, "vol-") {
		t.Errorf("an updated resource keeps its known id, got %q", vol.ID)
	}
	if vol.Region != "us-east-1" || vol.Attributes["size"] != float64(16) {
		t.Errorf("volume = %+v", vol)
	}
	if vol.File != "modules/storage/volumes.tf" || vol.Line != 3 {
		t.Errorf("volume location = %s:%d", vol.File, vol.Line)
	}
	sub, ok := subs["aws_subnet.a"]
	if !ok {
		t.Fatal("new subnet missing")
	}
	tags := sub.Attributes["tags"].(map[string]any)
	if tags["secret"] != Sensitive || tags["Name"] != "a" {
		t.Errorf("subnet tags = %v, want the secret redacted", tags)
	}
	// Terraform does not mark tags_all sensitive even when the tag is.
	if all := sub.Attributes["tags_all"].(map[string]any); all["secret"] != Sensitive {
		t.Errorf("tags_all = %v, want the secret redacted", all)
	}
	if sub.Tags["secret"] != Sensitive {
		t.Errorf("Tags = %v, want the secret redacted", sub.Tags)
	}
	if strings.Contains(strings.Join(mapValues(sub.Tags), ","), "hunter2") {
		t.Error("sensitive value leaked into Tags")
	}
	if sub.File != "main.tf" || sub.Line != 44 {
		t.Errorf("subnet location = %s:%d, want main.tf:44", sub.File, sub.Line)
	}
}

func mapValues(m map[string]string) []string {
	var out []string
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

// A plan read from elsewhere with no .tf files next to it is still
// checked; only the locations are missing.
func TestPlanWithoutConfig(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "create", "plan.json"))
	if err != nil {
		t.Fatal(err)
	}
	subjects, err := Read("plan.json", data, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if len(subjects) != 3 {
		t.Fatalf("subjects = %d", len(subjects))
	}
	for _, s := range subjects {
		if s.File != "" || s.Line != 0 {
			t.Errorf("%s: location %s:%d without config", s.Address, s.File, s.Line)
		}
	}
}

func TestPlanErrors(t *testing.T) {
	cases := []struct {
		name, data, want string
	}{
		{"empty", "  \n", "plan.json: empty file"},
		{"syntax", "{\n  \"format_version\": \"1.2\",\n  \"planned_values\": {,}\n}", "plan.json:3:22: malformed JSON"},
		{"truncated", "{\"format_version\": \"1.2\",", "plan.json:1:26: malformed JSON"},
		{"array", "[1, 2]", "not a Terraform plan: the document is a JSON array"},
		{"state file", `{"version": 4, "lineage": "x", "resources": []}`, "Terraform state file, not a plan"},
		{"state json", `{"format_version": "1.0", "values": {}}`, "state JSON"},
		{"other json", `{"hello": "world"}`, "no format_version"},
		{"binary", "PK\x03\x04rest", "binary plan file"},
		{"bad version", `{"format_version": "9.0", "planned_values": {}}`, "unsupported plan format version"},
		{"wrong type", `{"format_version": "1.2", "planned_values": {}, "resource_changes": {}}`, "resource_changes"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Read("plan.json", []byte(c.data), t.TempDir())
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("err = %v, want it to contain %q", err, c.want)
			}
		})
	}
}

func TestPlanUnknownAndSensitive(t *testing.T) {
	after := map[string]any{
		"a": "x", "b": nil, "list": []any{"p", nil},
		"nested": map[string]any{"keep": 1.0, "gone": nil, "secret": "s"},
		"whole":  map[string]any{"k": "v"},
	}
	unknown := map[string]any{"b": true, "list": []any{false, true}, "nested": map[string]any{"gone": true}}
	sens := map[string]any{"nested": map[string]any{"secret": true}, "whole": true}
	// b is set by the configuration; the rest is computed.
	cfg := map[string]*tfjson.Expression{"b": {ExpressionData: &tfjson.ExpressionData{References: []string{"var.x"}}}}
	m := marker{refs: &refIndex{instances: map[string][]instance{}}}
	got := redact(m.value(after, unknown, exprNode{body: cfg}), sens).(map[string]any)
	if u, ok := got["b"].(*policy.Unknown); !ok || !u.Configured {
		t.Errorf("b = %#v, want a configured Unknown", got["b"])
	}
	if l := got["list"].([]any); len(l) != 2 || l[0] != "p" {
		t.Errorf("list = %v", l)
	} else if u, ok := l[1].(*policy.Unknown); !ok || u.Configured {
		t.Errorf("list[1] = %#v, want a computed Unknown", l[1])
	}
	n := got["nested"].(map[string]any)
	if _, ok := n["gone"].(*policy.Unknown); !ok || n["keep"] != 1.0 || n["secret"] != Sensitive {
		t.Errorf("nested = %v", n)
	}
	if got["whole"] != Sensitive {
		t.Errorf("whole = %v", got["whole"])
	}
}

func TestPlanModulePath(t *testing.T) {
	for in, want := range map[string]string{
		"":                                 "",
		"module.net":                       "net",
		`module.net["a.b]"].module.sub[0]`: "net.sub",
		"module.a[1].module.b.module.c":    "a.b.c",
		`module.x["q\"]"]`:                 "x",
	} {
		if got := modulePath(in); got != want {
			t.Errorf("modulePath(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestPlanSkipsDataAndDeposed(t *testing.T) {
	plan := `{"format_version":"1.2","planned_values":{},"resource_changes":[
	 {"address":"data.aws_region.r","mode":"data","type":"aws_region","name":"r","provider_name":"registry.terraform.io/hashicorp/aws","change":{"actions":["read"],"after":{"name":"x"}}},
	 {"address":"aws_vpc.old","mode":"managed","type":"aws_vpc","name":"old","deposed":"abcd","provider_name":"registry.terraform.io/hashicorp/aws","change":{"actions":["delete"],"before":{"id":"vpc-1"},"after":null}},
	 {"address":"aws_vpc.gone","mode":"managed","type":"aws_vpc","name":"gone","provider_name":"registry.terraform.io/hashicorp/aws","change":{"actions":["forget"],"before":{"id":"vpc-2"},"after":null}},
	 {"address":"aws_vpc.keep","mode":"managed","type":"aws_vpc","name":"keep","provider_name":"registry.terraform.io/hashicorp/aws","change":{"actions":["no-op"],"before":{"id":"vpc-3"},"after":{"id":"vpc-3","arn":"arn:aws:ec2:eu-west-1:123456789012:vpc/vpc-3","tags_all":{"env":"prod"}}}}
	]}`
	subs, err := Read("plan.json", []byte(plan), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if len(subs) != 1 || subs[0].Address != "aws_vpc.keep" {
		t.Fatalf("subjects = %+v, want only aws_vpc.keep", subs)
	}
	if s := subs[0]; s.ID != "vpc-3" || s.Region != "eu-west-1" || s.Tags["env"] != "prod" {
		t.Errorf("keep = %+v (region from the ARN, tags from tags_all)", s)
	}
}
