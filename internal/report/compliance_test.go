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
