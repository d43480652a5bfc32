package report

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"plumb/internal/inventory"
	"plumb/internal/model"
)

// TestPartialIsNeverClean: a report with declared resources not evaluated
// never says "No drift", in any human format, whether or not anything
// failed, and its exit code is 1 unless partial scans are allowed.
func TestPartialIsNeverClean(t *testing.T) {
	tests := []struct {
		name    string
		summary model.Summary
		errs    []inventory.ScopeError
		reasons []string
		lead    string
	}{
		{"nothing read", model.Summary{Managed: 18, NotEvaluated: 18}, nil, []string{"no AWS inventory ran (--cloud none)"},
			"18 of 18 declared resources not evaluated: no AWS inventory ran (--cloud none)."},
		{"region left out", model.Summary{Managed: 3, InSync: 2, NotEvaluated: 1}, nil, []string{"their type or region was not part of this scan (see --type and --region)"},
			"1 of 3 declared resources not evaluated: their type or region was not part of this scan (see --type and --region)."},
		{"scope failed", model.Summary{Managed: 2, InSync: 1, NotEvaluated: 1},
			[]inventory.ScopeError{{Scope: "aws/us-east-1/sqs", Message: "AccessDenied: no"}}, []string{"1 part of the estate could not be read: AccessDenied: no"},
			"1 of 2 declared resources not evaluated: 1 part of the estate could not be read: AccessDenied: no."},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := tc.summary
			s.SetCoverage()
			r := &Report{Version: Version, Summary: s, Findings: []model.Finding{}, Errors: tc.errs, NotEvaluatedReasons: tc.reasons}
			for _, format := range []string{"table", "markdown", "json"} {
				var buf bytes.Buffer
				if err := Render(&buf, format, r); err != nil {
					t.Fatal(err)
				}
				out := buf.String()
				if strings.Contains(out, "No drift") {
					t.Errorf("%s says No drift:\n%s", format, out)
				}
				if !strings.Contains(out, tc.lead) {
					t.Errorf("%s does not lead with %q:\n%s", format, tc.lead, out)
				}
			}
			if r.ExitCode(false) != ExitError || r.ExitCode(true) != ExitClean {
				t.Errorf("exit codes %d / %d (allow partial), want 1 / 0", r.ExitCode(false), r.ExitCode(true))
			}
		})
	}
}

// TestCoverageCountsOnlyWhatWasRead pins summary.coverage.
func TestCoverageCountsOnlyWhatWasRead(t *testing.T) {
	tests := []struct {
		name string
		s    model.Summary
		want float64
		text string
	}{
		{"nothing declared, nothing found", model.Summary{}, 1, "-"},
		{"nothing read", model.Summary{Managed: 18, NotEvaluated: 18}, 0, "-"},
		{"only unmanaged read", model.Summary{Managed: 2, NotEvaluated: 2, Unmanaged: 3}, 0, "0.0%"},
		{"part read", model.Summary{Managed: 10, InSync: 6, Missing: 1, NotEvaluated: 3, Unmanaged: 1}, 7.0 / 8.0, "87.5%"},
		{"all read", model.Summary{Managed: 4, InSync: 4}, 1, "100.0%"},
	}
	for _, tc := range tests {
		s := tc.s
		s.SetCoverage()
		if s.Coverage != tc.want || coverageText(s) != tc.text {
			t.Errorf("%s: coverage %v (%s), want %v (%s)", tc.name, s.Coverage, coverageText(s), tc.want, tc.text)
		}
	}
}

// TestIdenticalErrorsAreGrouped: scopes that failed for the same cause
// are one line (table) or one item (markdown) listing them; JSON keeps one
// entry per scope for machines.
func TestIdenticalErrorsAreGrouped(t *testing.T) {
	const denied = "cannot reach http://127.0.0.1:1: connection refused (after 3 attempts)"
	r := &Report{Version: Version, Summary: model.Summary{Managed: 3, NotEvaluated: 3}, Findings: []model.Finding{},
		Errors: []inventory.ScopeError{
			{Scope: "aws/us-east-1/sqs", Message: denied, Types: []string{"aws_sqs_queue"}},
			{Scope: "aws/global/iam", Message: denied, Types: []string{"aws_iam_role"}},
			{Scope: "aws/us-east-1/ec2", Message: denied, Types: []string{"aws_subnet", "aws_vpc"}},
			{Scope: "aws/us-east-1/rds", Message: "AccessDenied: not allowed"},
		}}
	var table, md, js bytes.Buffer
	for format, buf := range map[string]*bytes.Buffer{"table": &table, "markdown": &md, "json": &js} {
		if err := Render(buf, format, r); err != nil {
			t.Fatal(err)
		}
	}
	wantTable := "Not scanned: aws/global/iam, aws/us-east-1/ec2, aws/us-east-1/sqs: " + denied + "\nNot scanned: aws/us-east-1/rds: AccessDenied: not allowed\n"
	if !strings.Contains(table.String(), wantTable) || strings.Count(table.String(), denied) != 1 {
		t.Errorf("table:\n%s\nwant the lines\n%s", table.String(), wantTable)
	}
	wantMD := "### Not scanned (4)\n"
	if !strings.Contains(md.String(), wantMD) || strings.Count(md.String(), "connection refused") != 1 ||
		!strings.Contains(md.String(), "- `aws/global/iam`, `aws/us-east-1/ec2`, `aws/us-east-1/sqs`: ") {
		t.Errorf("markdown:\n%s", md.String())
	}
	var doc struct {
		Errors []struct {
			Scope   string   `json:"scope"`
			Message string   `json:"message"`
			Types   []string `json:"types"`
		} `json:"errors"`
	}
	if err := json.Unmarshal(js.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Errors) != 4 || doc.Errors[1].Scope != "aws/us-east-1/ec2" || strings.Join(doc.Errors[1].Types, ",") != "aws_subnet,aws_vpc" || doc.Errors[2].Scope != "aws/us-east-1/rds" || doc.Errors[2].Types != nil {
		t.Errorf("json errors = %+v", doc.Errors)
	}
}
