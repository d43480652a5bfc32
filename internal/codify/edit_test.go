package codify

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2/hclwrite"

	"plumb/internal/model"
)

var update = flag.Bool("update", false, "rewrite golden files")

func changed(addr string, changes ...model.Change) model.Finding {
	return model.Finding{Kind: model.KindChanged, Address: &addr, Changes: changes}
}

// TestEditGolden accepts drift into .tf files and compares the result
// with golden files: only the edited lines change, comments stay, a file
// in terraform fmt style stays in it, and one that was not keeps its own
// layout apart from the inserted line.
func TestEditGolden(t *testing.T) {
	tests := []struct {
		name, file string
		findings   []model.Finding
	}{
		{name: "add_tag", file: "fmt.tf", findings: []model.Finding{
			changed("aws_s3_bucket.reports", model.Change{Path: "tags.Owner", Before: nil, After: "alice"}),
		}},
		{name: "change_and_remove_tags", file: "fmt.tf", findings: []model.Finding{
			changed("aws_s3_bucket.reports",
				model.Change{Path: "tags.Env", Before: "prod", After: "production"},
				model.Change{Path: "tags.Team", Before: "data", After: nil}),
		}},
		{name: "tag_with_odd_key", file: "fmt.tf", findings: []model.Finding{
			changed("aws_s3_bucket.reports", model.Change{Path: "tags.cost-center:id", Before: nil, After: "42"}),
		}},
		{name: "argument", file: "fmt.tf", findings: []model.Finding{
			changed("aws_sqs_queue.exports",
				model.Change{Path: "visibility_timeout_seconds", Before: 30.0, After: 60.0},
				model.Change{Path: "delay_seconds", Before: nil, After: 5.0}),
		}},
		{name: "empty_block", file: "fmt.tf", findings: []model.Finding{
			changed("aws_sqs_queue.plain", model.Change{Path: "tags.Team", Before: nil, After: "web"}),
		}},
		{name: "merge_literal", file: "fmt.tf", findings: []model.Finding{
			changed("aws_s3_bucket.merged", model.Change{Path: "tags.Owner", Before: nil, After: "bob"}),
		}},
		{name: "inline_object", file: "fmt.tf", findings: []model.Finding{
			changed("aws_s3_bucket.inline",
				model.Change{Path: "tags.Owner", Before: nil, After: "carol"},
				model.Change{Path: "tags.Env", Before: "dev", After: nil}),
		}},
		{name: "remove_block", file: "fmt.tf", findings: []model.Finding{
			{Kind: model.KindMissing, Address: new("aws_s3_bucket.archive")},
		}},
		{name: "unformatted", file: "unformatted.tf", findings: []model.Finding{
			changed("aws_s3_bucket.reports",
				model.Change{Path: "tags.Owner", Before: nil, After: "alice"},
				model.Change{Path: "tags.Env", Before: "prod", After: "production"}),
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src, err := os.ReadFile(filepath.Join("testdata", "edit", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			var edits []edit
			for _, f := range tt.findings {
				addr, err := parseAddress(*f.Address)
				if err != nil {
					t.Fatal(err)
				}
				if f.Kind == model.KindMissing {
					edits = append(edits, edit{typ: addr.typ, name: addr.name, op: opRemoveBlock})
					continue
				}
				es, err := editsForChanged(f, addr)
				if err != nil {
					t.Fatal(err)
				}
				edits = append(edits, es...)
			}
			got, err := applyEdits(tt.file, src, edits)
			if err != nil {
				t.Fatal(err)
			}
			goldenFile(t, filepath.Join("testdata", "edit", tt.name+".golden"), got)
			if tt.file == "fmt.tf" && !bytes.Equal(hclwrite.Format(got), got) {
				t.Errorf("a file in terraform fmt style left it:\n%s", got)
			}
			// Every line of the original that is not part of the edit is
			// still there: comments in particular.
			for _, line := range strings.Split(string(src), "\n") {
				if strings.Contains(line, "#") || strings.Contains(line, "//") {
					if tt.name == "remove_block" && strings.Contains(line, "archive") {
						continue
					}
					if !strings.Contains(string(got), strings.TrimSpace(line)) {
						t.Errorf("comment line %q lost", line)
					}
				}
			}
		})
	}
}

// TestEditRefusals leaves values that come from elsewhere for a person,
// saying where they come from.
func TestEditRefusals(t *testing.T) {
	src, err := os.ReadFile(filepath.Join("testdata", "edit", "fmt.tf"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		finding model.Finding
		want    string
	}{
		{"tags from a variable", changed("aws_s3_bucket.from_var", model.Change{Path: "tags.Owner", After: "x"}),
			`the tags of aws_s3_bucket.from_var come from the variable var.tags (var.tags): set Owner = "x" there by hand`},
		{"tag value from a local", changed("aws_s3_bucket.value_from_local", model.Change{Path: "tags.Owner", Before: "a", After: "b"}),
			`tag Owner of aws_s3_bucket.value_from_local comes from the local value local.owner (local.owner)`},
		{"argument from a local", changed("aws_sqs_queue.from_local", model.Change{Path: "message_retention_seconds", Before: 60.0, After: 120.0}),
			`message_retention_seconds of aws_sqs_queue.from_local comes from the local value local.retention (local.retention): set it to 120 there by hand`},
		{"nested path", changed("aws_s3_bucket.reports", model.Change{Path: "versioning.0.enabled", After: true}),
			`versioning.0.enabled: only tags and top-level arguments are accepted automatically`},
		{"list value", changed("aws_s3_bucket.reports", model.Change{Path: "cors_rule", After: []any{"x"}}),
			`cors_rule: only tags and top-level string, number or bool arguments are accepted automatically`},
		{"sensitive", changed("aws_s3_bucket.reports", model.Change{Path: "policy", Before: "(sensitive)", After: "(sensitive)"}),
			`policy is sensitive`},
		{"no block", changed("aws_s3_bucket.nowhere", model.Change{Path: "tags.A", After: "b"}),
			`resource block aws_s3_bucket.nowhere not found in fmt.tf`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addr, err := parseAddress(*tt.finding.Address)
			if err != nil {
				t.Fatal(err)
			}
			edits, err := editsForChanged(tt.finding, addr)
			if err == nil {
				_, err = applyEdits("fmt.tf", src, edits)
			}
			var r *refusal
			if err == nil || !errorsAs(err, &r) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want a refusal containing %q", err, tt.want)
			}
		})
	}
}

func errorsAs(err error, r **refusal) bool {
	x, ok := err.(*refusal)
	if ok {
		*r = x
	}
	return ok
}

func goldenFile(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs:\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}
