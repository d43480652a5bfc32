package report

import (
	"bytes"
	"strings"
	"testing"

	"plumb/internal/model"
)

func TestTablePlanCheckWording(t *testing.T) {
	tests := []struct {
		name     string
		findings []model.Finding
		want     []string
	}{
		{"clean", nil, []string{"Checked 3 planned resources against 2 rules: 0 violations", "No violations: 3 planned resources checked."}},
		{"violations", []model.Finding{{Kind: model.KindPolicyViolation, Severity: model.SeverityHigh, Message: "EBS volume is not encrypted (data)", Resource: model.Resource{Type: "aws_ebs_volume", ID: "module.storage.aws_ebs_volume.data"}}},
			[]string{"against 2 rules: 1 violation", "EBS volume is not encrypted (data)"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := &Report{Version: Version, PlanCheck: true, Summary: model.Summary{Managed: 3, Coverage: 1}, Findings: tc.findings, Rules: []RuleInfo{{ID: "a"}, {ID: "b"}}}
			var buf bytes.Buffer
			if err := Render(&buf, FormatTable, r); err != nil {
				t.Fatal(err)
			}
			for _, w := range tc.want {
				if !strings.Contains(buf.String(), w) {
					t.Errorf("table lacks %q:\n%s", w, buf.String())
				}
			}
			if strings.Contains(buf.String(), "drift") || strings.Contains(buf.String(), "in sync") {
				t.Errorf("plan check table speaks of drift:\n%s", buf.String())
			}
		})
	}
}
