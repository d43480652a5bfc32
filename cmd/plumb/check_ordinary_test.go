package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"plumb/internal/testenv"
)

// The ordinary-Terraform suite: two configurations written the way teams
// write Terraform (references between resources everywhere, policies
// built with jsonencode() from ARNs, a local module called once and with
// for_each, for_each in the root module), planned by the real terraform
// binary with the AWS provider, checked with both built-in packs:
//
//   - compliant: no violation at all, and the verdicts that depend on
//     values known only after apply are reported as not evaluated, naming
//     the attribute;
//   - violations: the same estate with planted violations (resources named
//     bad_*), every one found, nothing else flagged.
//
// The plans are kept as fixtures in internal/tfplan/testdata/ordinary so
// the fast tests need no terraform; TestCheckOrdinaryTerraform plans them
// afresh every time, and with PLUMB_UPDATE_PLANS=1 rewrites the fixtures.

const ordinaryDir = "../../internal/tfplan/testdata/ordinary"

// ordinaryPlanted are the planted violations, by (rule, address).
var ordinaryPlanted = [][2]string{
	{"aws-cloudtrail-multi-region", "aws_cloudtrail.bad_single_region"},
	{"aws-cloudwatch-log-retention", "aws_cloudwatch_log_group.bad_short"},
	{"aws-rds-not-public", "aws_db_instance.bad_public"},
	{"aws-ebs-volume-encrypted", "aws_ebs_volume.bad_plain"},
	{"aws-flow-log-all-traffic", "aws_flow_log.bad_accept_only"},
	{"aws-iam-password-complexity", "aws_iam_account_password_policy.bad_weak"},
	{"aws-iam-password-max-age", "aws_iam_account_password_policy.bad_weak"},
	{"aws-iam-password-min-length", "aws_iam_account_password_policy.bad_weak"},
	{"aws-iam-password-reuse", "aws_iam_account_password_policy.bad_weak"},
	{"aws-iam-no-star-star-policy", "aws_iam_policy.bad_admin"},
	{"aws-iam-no-user-inline-policy", "aws_iam_user_policy.bad_inline"},
	{"aws-ec2-imdsv2", "aws_instance.bad_imdsv1"},
	{"aws-kms-key-rotation", "aws_kms_key.bad_no_rotation"},
	{"aws-s3-bucket-has-public-access-block", "aws_s3_bucket.bad_orphan"},
	{"aws-s3-bucket-deny-http", "aws_s3_bucket_policy.bad_http"},
	{"aws-s3-public-access-block", "aws_s3_bucket_public_access_block.bad_partial"},
	{"aws-sg-ssh-open-ipv4", "aws_security_group.bad_ssh"},
	{"aws-sns-encrypted", "aws_sns_topic.bad_plain"},
	{"aws-sqs-encrypted", "aws_sqs_queue.bad_plain"},
	{"aws-vpc-flow-logs-enabled", "aws_vpc.bad_unlogged"},
}

// ordinaryNotEvaluated are (rule, address, reason) triples the checks
// must report as not evaluated: their verdict depends on a policy
// document built from ARNs known only after apply.
var ordinaryNotEvaluated = map[string][][3]string{
	"compliant": {
		{"aws-iam-no-star-star-policy", "aws_iam_policy.read_data", "policy is known only after apply"},
		{"aws-iam-no-star-star-policy", "aws_iam_role_policy.trail", "policy is known only after apply"},
		{"aws-s3-bucket-deny-http", `module.data["curated"].aws_s3_bucket_policy.this`, "policy is known only after apply"},
		{"aws-s3-bucket-deny-http", `module.data["raw"].aws_s3_bucket_policy.this`, "policy is known only after apply"},
		{"aws-s3-bucket-deny-http", "module.logs.aws_s3_bucket_policy.this", "policy is known only after apply"},
	},
	"violations": {
		{"aws-s3-bucket-deny-http", `module.data["curated"].aws_s3_bucket_policy.this`, "policy is known only after apply"},
		{"aws-s3-bucket-deny-http", `module.data["raw"].aws_s3_bucket_policy.this`, "policy is known only after apply"},
		{"aws-s3-bucket-deny-http", "module.logs.aws_s3_bucket_policy.this", "policy is known only after apply"},
	},
}

// checkOrdinary runs plumb check with both packs on one configuration's
// plan and holds the result to the suite's expectations.
func checkOrdinary(t *testing.T, name, planJSON, configDir string) {
	t.Helper()
	jsonOut := filepath.Join(t.TempDir(), "check.json")
	sarif := filepath.Join(t.TempDir(), "check.sarif")
	md := filepath.Join(t.TempDir(), "check.md")
	code, stdout, stderr := runCheckCLI(t, planJSON, "--pack", "cis-aws-3.0", "--pack", "pci-dss-4.0", "--config-dir", configDir,
		"-o", "json="+jsonOut, "-o", "sarif="+sarif, "-o", "markdown="+md, "-o", "table")
	var rep struct {
		Findings []struct {
			Rule    string `json:"rule"`
			Address string `json:"address"`
			File    string `json:"file"`
			Line    int    `json:"line"`
		} `json:"findings"`
		Errors       []any    `json:"errors"`
		Notes        []string `json:"notes"`
		NotEvaluated []struct {
			Rule    string `json:"rule"`
			Type    string `json:"type"`
			Address string `json:"address"`
			Reason  string `json:"reason"`
		} `json:"policy_not_evaluated"`
	}
	data, err := os.ReadFile(jsonOut)
	if err != nil {
		t.Fatalf("exit %d, no JSON report: %v\n%s", code, err, stderr)
	}
	if err := json.Unmarshal(data, &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.Errors) != 0 {
		t.Errorf("errors: %v", rep.Errors)
	}
	var got [][2]string
	for _, f := range rep.Findings {
		got = append(got, [2]string{f.Rule, f.Address})
		if f.File != "main.tf" || f.Line == 0 {
			t.Errorf("%s on %s points at %s:%d, want a line of main.tf", f.Rule, f.Address, f.File, f.Line)
		}
	}
	want := [][2]string{}
	if name == "violations" {
		want = ordinaryPlanted
	}
	less := func(a, b [2]string) int { return strings.Compare(a[1]+a[0], b[1]+b[0]) }
	slices.SortFunc(got, less)
	want = slices.Clone(want)
	slices.SortFunc(want, less)
	if !slices.Equal(got, want) {
		for _, g := range got {
			if !slices.Contains(want, g) {
				t.Errorf("false alarm: %s on %s", g[0], g[1])
			}
		}
		for _, w := range want {
			if !slices.Contains(got, w) {
				t.Errorf("planted violation missed: %s on %s", w[0], w[1])
			}
		}
	}
	wantCode := exitOK
	if name == "violations" {
		wantCode = exitFindings
	}
	if code != wantCode {
		t.Errorf("exit %d, want %d\n%s", code, wantCode, stderr)
	}
	var ne [][3]string
	for _, n := range rep.NotEvaluated {
		ne = append(ne, [3]string{n.Rule, n.Address, n.Reason})
		if strings.Contains(n.Address, "bad_") {
			t.Errorf("a planted violation is not evaluated: %+v", n)
		}
	}
	if wantNE := ordinaryNotEvaluated[name]; !slices.Equal(ne, wantNE) {
		t.Errorf("not evaluated:\n got %q\nwant %q", ne, wantNE)
	}
	// The note says what was not checked, and it is true.
	if len(rep.Notes) == 0 || !strings.Contains(rep.Notes[0], "evaluations depend on values known only after apply and were not evaluated") {
		t.Errorf("notes = %q", rep.Notes)
	}
	if !strings.Contains(stdout, "Not evaluated: aws-s3-bucket-deny-http on module.logs.aws_s3_bucket_policy.this: policy is known only after apply") {
		t.Errorf("the table does not name what was not evaluated:\n%s", stdout)
	}
	if mdData, err := os.ReadFile(md); err != nil || !strings.Contains(string(mdData), "aws-s3-bucket-deny-http on module.logs.aws\\_s3\\_bucket\\_policy.this") && !strings.Contains(string(mdData), "aws-s3-bucket-deny-http on module.logs.aws_s3_bucket_policy.this") {
		t.Errorf("the markdown report does not name what was not evaluated (%v):\n%s", err, mdData)
	}
	// SARIF: one result per violation, the rest as notes.
	if got := readSARIF(t, sarif); len(got) != len(want) {
		t.Errorf("SARIF results = %d, want %d", len(got), len(want))
	}
	sarifData, err := os.ReadFile(sarif)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(sarifData), "aws-s3-bucket-deny-http not evaluated on module.logs.aws_s3_bucket_policy.this: policy is known only after apply") {
		t.Error("SARIF does not tell what was not evaluated")
	}
}

func TestCheckOrdinaryFixtures(t *testing.T) {
	for _, name := range []string{"compliant", "violations"} {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join(ordinaryDir, name)
			checkOrdinary(t, name, filepath.Join(dir, "plan.json"), dir)
		})
	}
}

// TestCheckOrdinaryTerraform plans both configurations with the real
// terraform binary and AWS provider (pointed at moto; planning reads
// nothing from it) and checks the fresh plans. PLUMB_UPDATE_PLANS=1 also
// writes them over the fixtures.
func TestCheckOrdinaryTerraform(t *testing.T) {
	moto := testenv.StartMoto(t)
	tf := testenv.NewTerraform(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	root := t.TempDir()
	copyTree(t, ordinaryDir, root)
	for _, name := range []string{"compliant", "violations"} {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join(root, name)
			if _, err := tf.Run(ctx, dir, "init", "-no-color", "-input=false"); err != nil {
				t.Fatal(err)
			}
			if _, err := tf.Run(ctx, dir, "plan", "-no-color", "-input=false", "-var", "endpoint="+moto.Endpoint, "-out=tfplan"); err != nil {
				t.Fatal(err)
			}
			js, err := tf.Run(ctx, dir, "show", "-json", "tfplan")
			if err != nil {
				t.Fatal(err)
			}
			planJSON := filepath.Join(dir, "plan.json")
			if err := os.WriteFile(planJSON, js, 0o644); err != nil {
				t.Fatal(err)
			}
			checkOrdinary(t, name, planJSON, dir)
			if os.Getenv("PLUMB_UPDATE_PLANS") == "1" {
				if err := os.WriteFile(filepath.Join(ordinaryDir, name, "plan.json"), js, 0o644); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

// TestReportComplianceOrdinary: the per-control report of the ordinary
// plans. A control whose rule depends on a policy document known only
// after apply is not evaluated, never Pass; a missing companion fails
// its control.
func TestReportComplianceOrdinary(t *testing.T) {
	tests := []struct {
		name     string
		wantCode int
		want     []string
		notWant  []string
	}{
		{"compliant", exitOK,
			[]string{
				"| `2.1.1` | Not evaluated |",
				"`module.logs.aws_s3_bucket_policy.this` (`aws-s3-bucket-deny-http`): policy is known only after apply",
				"| `2.1.4` | Pass |",
				"| `3.7` | Pass |",
			},
			[]string{"| `2.1.1` | Pass |", "` | Fail |"}},
		{"violations", exitFindings,
			[]string{
				"| `2.1.4` | Fail |",
				"`aws_s3_bucket.bad_orphan` (`aws-s3-bucket-has-public-access-block`)",
				"| `3.7` | Fail |",
				"`aws_vpc.bad_unlogged` (`aws-vpc-flow-logs-enabled`)",
			},
			nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(ordinaryDir, tt.name)
			var stdout, stderr bytes.Buffer
			code := run([]string{"report", "compliance", "--pack", "cis-aws-3.0", "--plan", filepath.Join(dir, "plan.json"), "--config-dir", dir}, &stdout, &stderr)
			if code != tt.wantCode {
				t.Fatalf("exit %d, want %d\n%s%s", code, tt.wantCode, stderr.String(), stdout.String())
			}
			md := stdout.String()
			for _, w := range tt.want {
				if !strings.Contains(md, w) {
					t.Errorf("report lacks %q", w)
				}
			}
			for _, w := range tt.notWant {
				if strings.Contains(md, w) {
					t.Errorf("report has %q", w)
				}
			}
			if t.Failed() {
				t.Logf("report:\n%s", md)
			}
		})
	}
}
