package report

import (
	"bytes"
	"strings"
	"testing"

	"plumb/internal/inventory"
	"plumb/internal/model"
)

// TestMarkdownPlanCheck: the Markdown of plumb check is a policy check,
// not a drift report, and every violation names the file and line that
// declares the resource.
func TestMarkdownPlanCheck(t *testing.T) {
	addr := "module.storage.aws_ebs_volume.data"
	violation := model.Finding{Kind: model.KindPolicyViolation, Severity: model.SeverityHigh, Rule: "aws-ebs-volume-encrypted",
		Message: "EBS volume is not encrypted (data)", Address: &addr, File: "modules/storage/volumes.tf", Line: 3,
		Resource: model.Resource{Type: "aws_ebs_volume", ID: addr}}
	tests := []struct {
		name     string
		findings []model.Finding
		errors   []inventory.ScopeError
		want     []string
	}{
		{"clean", nil, nil, []string{"## plumb policy check: prod", "Checked 3 planned resources against 2 rules: 0 violations.", "No violations."}},
		{"violation with its location", []model.Finding{violation}, nil, []string{
			"Checked 3 planned resources against 2 rules: 1 violation.",
			"| Severity | Rule | Resource | Location | Message |",
			"| high | `aws-ebs-volume-encrypted` | `module.storage.aws_ebs_volume.data` | `modules/storage/volumes.tf:3` | EBS volume is not encrypted (data) |",
		}},
		{"rule that could not be evaluated", nil, []inventory.ScopeError{{Scope: "policy/r/aws_vpc.main", Message: "no such key"}}, []string{
			"No violations among the rules that could be evaluated",
			"### Not evaluated (1)",
			"- `policy/r/aws_vpc.main`: no such key",
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := &Report{Version: Version, Environment: "prod", PlanCheck: true, Summary: model.Summary{Managed: 3, Coverage: 1},
				Findings: tc.findings, Errors: tc.errors, Rules: []RuleInfo{{ID: "a"}, {ID: "b"}}}
			var buf bytes.Buffer
			if err := Render(&buf, FormatMarkdown, r); err != nil {
				t.Fatal(err)
			}
			out := buf.String()
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("markdown lacks %q:\n%s", w, out)
				}
			}
			for _, bad := range []string{"drift", "In sync", "Unmanaged", "Coverage"} {
				if strings.Contains(out, bad) {
					t.Errorf("plan check markdown speaks of %q:\n%s", bad, out)
				}
			}
		})
	}
}
