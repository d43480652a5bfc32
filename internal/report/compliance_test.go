package report

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"plumb/internal/policy"
)

// complianceFixture evaluates real rules on a small estate, hostile names
// included, so the golden files show what an auditor would get.
func complianceFixture(t *testing.T) *policy.Compliance {
	t.Helper()
	set, err := policy.Compile([]*policy.Rule{
		{ID: "ebs-encrypted", Resources: []string{"aws_ebs_volume"}, Deny: `resource.encrypted != true`, Severity: "high",
			Controls: map[string][]string{"pci-dss-4.0": {"3.5.1"}}},
		{ID: "sg-ssh", Resources: []string{"aws_security_group"}, Deny: `resource.ingress.exists(r, r.from_port <= 22 && r.to_port >= 22)`, Severity: "high",
			Controls: map[string][]string{"pci-dss-4.0": {"1.3.1", "1.3.2"}}},
		{ID: "trail-multi-region", Resources: []string{"aws_cloudtrail"}, Deny: `resource.is_multi_region_trail != true`, Severity: "high",
			Controls: map[string][]string{"pci-dss-4.0": {"10.2.1"}}},
		{ID: "kms-rotation", Resources: []string{"aws_kms_key"}, Deny: `resource.enable_key_rotation != true`, Severity: "medium",
			Controls: map[string][]string{"pci-dss-4.0": {"3.6.1"}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	subjects := []policy.Subject{
		{Type: "aws_ebs_volume", Address: "aws_ebs_volume.data", Attributes: map[string]any{"encrypted": true}},
		{Type: "aws_ebs_volume", ID: "vol-<script>alert(1)</script>|x", Attributes: map[string]any{"encrypted": false}},
		{Type: "aws_security_group", Address: `aws_security_group.web["a|b"]`, Attributes: map[string]any{"ingress": []any{
			map[string]any{"from_port": 443.0, "to_port": 443.0}}}},
		{Type: "aws_kms_key", Address: "aws_kms_key.app", Attributes: map[string]any{}},
		// Known only after apply: 10.2.1 cannot pass on it.
		{Type: "aws_cloudtrail", Address: "aws_cloudtrail.main", Attributes: map[string]any{"is_multi_region_trail": &policy.Unknown{}}},
	}
	out, err := set.Evaluate(context.Background(), subjects)
	if err != nil {
		t.Fatal(err)
	}
	return policy.Summarize("pci-dss-4.0", set, out)
}

func TestComplianceGolden(t *testing.T) {
	cases := map[string]func(t *testing.T) *policy.Compliance{
		"compliance": complianceFixture,
		"compliance-empty": func(*testing.T) *policy.Compliance {
			return &policy.Compliance{Pack: "cis-aws-3.0"}
		},
	}
	for name, mk := range cases {
		for _, format := range []string{ComplianceMarkdown, ComplianceHTML} {
			t.Run(name+"/"+format, func(t *testing.T) {
				var buf bytes.Buffer
				if err := RenderCompliance(&buf, format, mk(t)); err != nil {
					t.Fatal(err)
				}
				path := filepath.Join("testdata", "golden", name+"."+format+".golden")
				if *update {
					if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
						t.Fatal(err)
					}
				}
				want, err := os.ReadFile(path)
				if err != nil {
					t.Fatalf("%v (run with -update to create)", err)
				}
				if got := buf.String(); got != string(want) {
					t.Errorf("output differs from %s:\n%s", path, got)
				}
				if format == ComplianceHTML && strings.Contains(buf.String(), "<script>") {
					t.Error("unescaped script tag in output")
				}
			})
		}
	}
}

func TestRenderComplianceErrors(t *testing.T) {
	if err := RenderCompliance(&bytes.Buffer{}, "pdf", &policy.Compliance{}); err == nil || !strings.Contains(err.Error(), `unknown compliance format "pdf"`) {
		t.Errorf("err = %v", err)
	}
	if err := RenderCompliance(&bytes.Buffer{}, "html", nil); err == nil {
		t.Error("nil summary rendered")
	}
}

// TestComplianceNeverOverclaims: a control is Pass only when every rule
// under it was evaluated on every resource it applies to. Each case has a
// control "1" that would pass on what was decided, and something left
// unevaluated; every format must show it as not evaluated, with the
// reason, never as Pass.
func TestComplianceNeverOverclaims(t *testing.T) {
	set, err := policy.Compile([]*policy.Rule{
		{ID: "enc", Resources: []string{"aws_ebs_volume"}, Deny: `resource.encrypted != true`, Severity: "high", Controls: map[string][]string{"std": {"1"}}},
		{ID: "account", Resources: []string{"aws_s3_account_public_access_block"}, Deny: `resource.block_public_acls != true`, Severity: "high", Controls: map[string][]string{"std": {"1"}}},
		{ID: "flow", Resources: []string{"aws_vpc"}, Deny: `related("aws_flow_log", "vpc_id", resource.id).size() == 0`, Severity: "medium", Controls: map[string][]string{"std": {"1"}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	good := policy.Subject{Type: "aws_ebs_volume", Address: "aws_ebs_volume.good", Attributes: map[string]any{"encrypted": true}}
	vpcLive := policy.Subject{Type: "aws_vpc", ID: "vpc-1", Region: "eu-west-1", Attributes: map[string]any{"id": "vpc-1"}}
	logLive := policy.Subject{Type: "aws_flow_log", ID: "fl-1", Region: "eu-west-1", Attributes: map[string]any{"vpc_id": "vpc-1"}}
	ctx := context.Background()
	plan := func(subjects ...policy.Subject) func(t *testing.T) *policy.Compliance {
		return func(t *testing.T) *policy.Compliance {
			out, err := set.Evaluate(ctx, subjects)
			if err != nil {
				t.Fatal(err)
			}
			return policy.Summarize("std", set, out)
		}
	}
	live := func(cov policy.Coverage, subjects ...policy.Subject) func(t *testing.T) *policy.Compliance {
		return func(t *testing.T) *policy.Compliance {
			res, err := set.EvaluateLive(ctx, subjects, cov)
			if err != nil {
				t.Fatal(err)
			}
			return policy.SummarizeLive("std", set, res)
		}
	}
	tests := []struct {
		name   string
		make   func(t *testing.T) *policy.Compliance
		status string
		reason string
	}{
		{"plan: everything decided", plan(good), policy.StatusPass, ""},
		{"plan: a value known only after apply", plan(good, policy.Subject{Type: "aws_ebs_volume", Address: "aws_ebs_volume.new", Attributes: map[string]any{"encrypted": &policy.Unknown{}}}),
			policy.StatusNotEvaluated, "encrypted is known only after apply"},
		{"plan: a companion missing", plan(good, policy.Subject{Type: "aws_vpc", Address: "aws_vpc.main", Attributes: map[string]any{"id": &policy.Unknown{}}}),
			policy.StatusFail, ""},
		{"live: everything read", live(listed{"aws_flow_log": true, "aws_ebs_volume": true, "aws_vpc": true, "aws_s3_account_public_access_block": true},
			good, vpcLive, logLive), policy.StatusPass, ""},
		{"live: a rule type not listed (account setting)", live(listed{"aws_flow_log": true, "aws_ebs_volume": true, "aws_vpc": true}, good),
			policy.StatusNotEvaluated, "aws_s3_account_public_access_block is not listed"},
		{"live: an attribute not read", live(listed{"aws_flow_log": true, "aws_ebs_volume": true, "aws_vpc": true, "aws_s3_account_public_access_block": true},
			good, policy.Subject{Type: "aws_ebs_volume", ID: "vol-2", Attributes: map[string]any{"size": 8.0}}),
			policy.StatusNotEvaluated, "encrypted is not read by the live inventory"},
		{"live: a related type not read", live(listed{"aws_ebs_volume": true, "aws_vpc": true, "aws_s3_account_public_access_block": true}, good, vpcLive),
			policy.StatusNotEvaluated, "aws_flow_log is not listed"},
	}
	for _, tt := range tests {
		c := tt.make(t)
		if len(c.Controls) != 1 || c.Controls[0].Status != tt.status {
			t.Errorf("%s: controls = %+v, want status %s", tt.name, c.Controls, tt.status)
			continue
		}
		for _, format := range []string{ComplianceMarkdown, ComplianceHTML} {
			var buf bytes.Buffer
			if err := RenderCompliance(&buf, format, c); err != nil {
				t.Fatal(err)
			}
			out := buf.String()
			row := map[string]string{
				ComplianceMarkdown: "| `1` | " + label(tt.status) + " |",
				ComplianceHTML:     `<td class="` + tt.status + `">` + label(tt.status) + `</td>`,
			}[format]
			if !strings.Contains(out, row) {
				t.Errorf("%s/%s: no row %q:\n%s", tt.name, format, row, out)
			}
			if tt.status != policy.StatusPass && strings.Contains(out, map[string]string{ComplianceMarkdown: "| `1` | Pass |", ComplianceHTML: `class="pass"`}[format]) {
				t.Errorf("%s/%s: control shown as Pass", tt.name, format)
			}
			reason := tt.reason
			if format == ComplianceMarkdown {
				reason = mdText(reason)
			}
			if reason != "" && !strings.Contains(out, reason) {
				t.Errorf("%s/%s: reason %q missing:\n%s", tt.name, format, reason, out)
			}
		}
	}
}

// listed is a policy.Coverage that read the types it names, everywhere.
type listed map[string]bool

func (l listed) Covered(typ, _ string) (bool, string) { return l.Listed(typ) }

func (l listed) Listed(typ string) (bool, string) {
	if l[typ] {
		return true, ""
	}
	return false, typ + " is not listed"
}
