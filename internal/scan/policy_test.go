package scan

import (
	"context"
	"reflect"
	"strings"
	"testing"

	"plumb/internal/inventory"
	"plumb/internal/model"
	"plumb/internal/policy"
)

func TestRuleAttributes(t *testing.T) {
	tests := []struct {
		deny string
		want []string
	}{
		{`!has(resource.encrypted) || resource.encrypted != true`, []string{"encrypted"}},
		{`has(resource.ingress) && resource.ingress.exists(r, r.from_port <= 22)`, []string{"ingress"}},
		{`resource["storage_encrypted"] == false && "kms_key_id" in resource`, []string{"storage_encrypted", "kms_key_id"}},
		{`has(resource.tags) || has(resource.tags_all)`, []string{"tags", "tags_all"}},
		{`true`, nil},
	}
	for _, tt := range tests {
		if got := ruleAttributes(tt.deny); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ruleAttributes(%q) = %v, want %v", tt.deny, got, tt.want)
		}
	}
}

// TestEvaluateLive covers what live evaluation must not do: call a volume
// unencrypted because the inventory did not read the flag, report a
// missing key as an error, or check a resource AWS created by itself.
func TestEvaluateLive(t *testing.T) {
	set, err := policy.Compile([]*policy.Rule{
		{ID: "enc", Resources: []string{"aws_ebs_volume"}, Deny: `!has(resource.encrypted) || resource.encrypted != true`, Severity: model.Severity("high"), Controls: map[string][]string{"x": {"1"}}},
		{ID: "nested", Resources: []string{"aws_ebs_volume"}, Deny: `resource.size > 0 && resource.missing_thing == 1`, Severity: model.Severity("low")},
		{ID: "broken", Resources: []string{"aws_ebs_volume"}, Deny: `resource.size / 0 == 1`, Severity: model.Severity("low")},
	})
	if err != nil {
		t.Fatal(err)
	}
	vol := func(id string, attrs map[string]any, def string) model.Resource {
		return model.Resource{Provider: "aws", Type: "aws_ebs_volume", ID: id, Region: "us-east-1", Tags: map[string]string{}, Attributes: attrs, Default: def}
	}
	inv := inventory.NewResult([]string{"us-east-1"})
	inv.Add("aws_ebs_volume", "us-east-1", []model.Resource{
		vol("vol-plain", map[string]any{"size": int64(8), "encrypted": false}, ""),
		vol("vol-enc", map[string]any{"size": int64(8), "encrypted": true}, ""),
		vol("vol-unread", map[string]any{"size": int64(8)}, ""),
		vol("vol-root", map[string]any{"size": int64(8), "encrypted": false}, "volume of instance i-1"),
	})
	declared := map[string]string{"vol-plain": "module.data.aws_ebs_volume.plain"}
	address := func(typ, id string) string { return declared[id] }
	ev, err := evaluateLive(context.Background(), set, inv, address, "prod")
	if err != nil {
		t.Fatal(err)
	}
	if len(ev.findings) != 1 || ev.findings[0].Resource.ID != "vol-plain" || ev.findings[0].Rule != "enc" || ev.findings[0].Kind != model.KindPolicyViolation {
		t.Errorf("findings = %+v", ev.findings)
	}
	// The finding of a declared resource points back at the code; its
	// fingerprint is still the live resource's.
	if f := ev.findings[0]; f.Address == nil || *f.Address != "module.data.aws_ebs_volume.plain" ||
		f.Fingerprint != model.Fingerprint(model.KindPolicyViolation, "prod", "aws", "aws_ebs_volume", "us-east-1", "vol-plain", "enc") {
		t.Errorf("finding address/fingerprint = %v / %s", f.Address, f.Fingerprint)
	}
	// Skipped: enc on vol-unread, nested (missing key) on all three.
	if ev.skipped != 4 {
		t.Errorf("skipped = %d, want 4", ev.skipped)
	}
	if len(ev.errors) != 3 {
		t.Fatalf("errors = %+v, want broken on each of the three volumes", ev.errors)
	}
	for _, e := range ev.errors {
		if !strings.HasPrefix(e.Scope, "policy/broken/vol-") {
			t.Errorf("error scope %q", e.Scope)
		}
	}
	if !strings.Contains(noteSkipped(4), "4 rule evaluations skipped") {
		t.Error(noteSkipped(4))
	}
}
