package report

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"plumb/internal/inventory"
	"plumb/internal/model"
)

var update = flag.Bool("update", false, "rewrite testdata/golden/*.golden from the current output")

func ptr(s string) *string { return &s }

// finding builds a finding the way the drift engine does, fingerprint
// included, so the fixtures look like real output.
func finding(kind model.Kind, sev model.Severity, env string, r model.Resource, addr *string, msg string, changes ...model.Change) model.Finding {
	if changes == nil {
		changes = []model.Change{}
	}
	return model.Finding{
		Kind:        kind,
		Severity:    sev,
		Fingerprint: model.Fingerprint(kind, env, r.Provider, r.Type, r.Region, r.ID, ""),
		Environment: env,
		Resource:    r,
		Address:     addr,
		Changes:     changes,
		Message:     msg,
	}
}

var started = time.Date(2026, 5, 14, 9, 30, 0, 0, time.UTC)

func emptyReport() *Report {
	return &Report{
		Version:     Version,
		Environment: "prod",
		StartedAt:   started,
		DurationMS:  842,
		Summary:     model.Summary{Managed: 12, InSync: 12, Coverage: 1},
	}
}

// conflictReport has one bucket declared by two roots (a drift.conflict
// finding, counted once) beside an ordinary change, and the note saying a
// state was reached through two sources.
func conflictReport() *Report {
	const env = "prod"
	conflict := finding(model.KindConflict, model.SeverityHigh, env, model.Resource{
		Provider: "aws", Type: "aws_s3_bucket", ID: "shared-assets", Region: "us-east-1",
		Name: "shared-assets", Tags: map[string]string{"owner": "web"},
	}, ptr("aws_s3_bucket.assets"), "Resource defined more than once (shared-assets)")
	conflict.Source = "states/web/terraform.tfstate"
	conflict.Declarations = []model.Declaration{
		{Address: "aws_s3_bucket.assets", Source: "states/web/terraform.tfstate"},
		{Address: "module.cdn.aws_s3_bucket.origin", Source: "infra/cdn"},
	}
	changed := finding(model.KindChanged, model.SeverityMedium, env, model.Resource{
		Provider: "aws", Type: "aws_vpc", ID: "vpc-0abc", Region: "us-east-1", Tags: map[string]string{"env": "prod"},
	}, ptr("aws_vpc.main"), "Resource changed outside code (vpc-0abc)",
		model.Change{Path: "tags.env", Before: "test", After: "prod"})
	changed.Source = "infra/cdn"
	return &Report{
		Version:     Version,
		Environment: env,
		StartedAt:   started,
		DurationMS:  2100,
		Summary: model.Summary{
			Managed: 8, InSync: 6, Changed: 1, Conflicting: 1, Coverage: 1,
		},
		Findings: []model.Finding{changed, conflict},
		Notes: []string{
			"State lineage 0b7c1f4e-1d2a-4c3b-9e8f-5a6b7c8d9e0f was reached through 2 sources and read once: serial 7, from states/cdn/terraform.tfstate (also in infra/cdn).",
		},
	}
}

func kindsReport() *Report {
	const env = "prod"
	return &Report{
		Version:     Version,
		Environment: env,
		// A non-UTC start time must come out in UTC.
		StartedAt:  time.Date(2026, 5, 14, 11, 30, 0, 0, time.FixedZone("CEST", 2*3600)),
		DurationMS: 12345,
		Summary: model.Summary{
			Managed: 120, InSync: 115, Changed: 2, Missing: 1, Unmanaged: 1,
			Coverage: 118.0 / 119.0, NotEvaluated: 2, Unsupported: 3, Ignored: 4,
		},
		NotEvaluatedReasons: []string{"2 parts of the estate could not be read (listed under errors)"},
		// Deliberately out of order: renderers sort.
		Findings: []model.Finding{
			finding(model.KindUnmanaged, model.SeverityMedium, env, model.Resource{
				Provider: "aws", Type: "aws_s3_bucket", ID: "logs-tmp", Region: "us-east-1", Tags: map[string]string{},
			}, nil, "Undefined resource exists (logs-tmp)"),
			finding(model.KindChanged, model.SeverityMedium, env, model.Resource{
				Provider: "aws", Type: "aws_instance", ID: "i-0abc123", Region: "us-east-1",
				Tags: map[string]string{"Name": "api", "env": "prod"},
			}, ptr("aws_instance.api"), "Resource changed outside code (api)",
				model.Change{Path: "tags.env", Before: "dev", After: "prod"},
				model.Change{Path: "tags.owner", Before: nil, After: "alice"},
				model.Change{Path: "user_data", Before: sensitive, After: sensitive},
			),
			finding(model.KindMissing, model.SeverityHigh, env, model.Resource{
				Provider: "aws", Type: "aws_sqs_queue", ID: "https://sqs.us-east-1.amazonaws.com/123456789012/jobs",
				Region: "us-east-1", Name: "jobs", Tags: nil,
			}, ptr("module.queue.aws_sqs_queue.jobs"), "Defined resource doesn't exist (jobs)"),
			finding(model.KindChanged, model.SeverityHigh, env, model.Resource{
				Provider: "aws", Type: "aws_security_group", ID: "sg-0123456789abcdef0", Region: "us-east-1",
				Name: "web", Tags: map[string]string{"env": "prod"},
			}, ptr("module.net.aws_security_group.web"), "Resource changed outside code (web)",
				model.Change{
					Path:   "ingress",
					Before: []any{"tcp:443:443:0.0.0.0/0"},
					After:  []any{"tcp:22:22:0.0.0.0/0", "tcp:443:443:0.0.0.0/0"},
				},
			),
		},
		Errors: []inventory.ScopeError{
			{Scope: "aws/us-east-1/sns", Message: "connection reset (after 3 attempts)", Types: []string{"aws_sns_topic"}},
			{Scope: "aws/eu-west-1/rds", Message: "AccessDenied: User: arn:aws:iam::123456789012:user/plumb is not authorized to perform: rds:DescribeDBInstances",
				Types: []string{"aws_db_instance", "aws_db_subnet_group"}},
		},
		Notes: []string{
			"Drift is measured against the state files, not against unapplied code.",
			"2 resources in unreadable scopes were not evaluated.",
		},
	}
}

func trickyReport() *Report {
	const env = "prod|<b>staging</b>"
	long := strings.Repeat("abcdefghij", 30)
	return &Report{
		Version:     Version,
		Environment: env,
		StartedAt:   started,
		DurationMS:  5,
		Summary:     model.Summary{Managed: 3, InSync: 1, Changed: 1, Unmanaged: 1, Coverage: 0.75},
		Findings: []model.Finding{
			finding(model.KindUnmanaged, model.SeverityLow, env, model.Resource{
				Provider: "aws", Type: "aws_s3_bucket", ID: "a|b`c`<script>alert(1)</script>", Region: "eu-west-1",
				Tags: map[string]string{"Name": "[click](https://evil.example) @everyone *bold* $x$"},
			}, nil, "Undefined resource exists ([click](https://evil.example) @everyone *bold* $x$)"),
			finding(model.KindChanged, model.SeverityMedium, env, model.Resource{
				Provider: "aws", Type: "aws_iam_role", ID: "rôle-日本語-🚀", Region: "",
				Tags: map[string]string{"note": "line1\nline2"},
			}, ptr(`aws_iam_role.this["a|b"]`), "Resource changed outside code (rôle-日本語-🚀)",
				model.Change{Path: "tags.note", Before: "line1", After: "line1\nline2\t\x1b[31mred\x1b[0m"},
				model.Change{Path: "tags.a|b", Before: "``x``", After: `back\slash\|pipe`},
				model.Change{Path: "policy", Before: long, After: map[string]any{"Statement": []any{map[string]any{"Effect": "Allow", "Resource": long}}}},
				model.Change{Path: "description", Before: "safe", After: "evil\u202etxt.exe"},
			),
		},
		Errors: []inventory.ScopeError{
			{Scope: "aws/eu-west-1/s3", Message: "line one\nline two | with <pipe>"},
		},
		Notes: []string{"# not a heading", "- not a list", "1. not a list either"},
	}
}

func TestGolden(t *testing.T) {
	reports := map[string]func() *Report{
		"empty":    emptyReport,
		"kinds":    kindsReport,
		"tricky":   trickyReport,
		"conflict": conflictReport,
	}
	for name, mk := range reports {
		for _, format := range Formats() {
			t.Run(name+"/"+format, func(t *testing.T) {
				r := mk()
				var buf bytes.Buffer
				if err := Render(&buf, format, r); err != nil {
					t.Fatalf("Render: %v", err)
				}
				path := filepath.Join("testdata", "golden", name+"."+format+".golden")
				if *update {
					if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
						t.Fatal(err)
					}
					if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
						t.Fatal(err)
					}
					return
				}
				want, err := os.ReadFile(path)
				if err != nil {
					t.Fatalf("%v (run go test ./internal/report -update to create it)", err)
				}
				if got := buf.String(); got != string(want) {
					t.Errorf("%s differs from %s (run with -update if the change is intended):\n--- got\n%s\n--- want\n%s", format, path, got, want)
				}
				// Rendering must not reorder or otherwise modify the report.
				if r2 := mk(); !sameFindingOrder(r.Findings, r2.Findings) {
					t.Errorf("Render modified the report's findings")
				}
			})
		}
	}
}

func sameFindingOrder(a, b []model.Finding) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Fingerprint != b[i].Fingerprint {
			return false
		}
	}
	return true
}

// TestTableIsSafe checks properties that golden files only show: no
// control characters reach the terminal and every line but user data is
// ASCII.
func TestTableIsSafe(t *testing.T) {
	var buf bytes.Buffer
	if err := Render(&buf, FormatTable, trickyReport()); err != nil {
		t.Fatal(err)
	}
	for i, line := range strings.Split(buf.String(), "\n") {
		for _, r := range line {
			if r < ' ' || r == 0x7f || r == '\u202e' {
				t.Errorf("line %d contains control character %U: %q", i+1, r, line)
			}
		}
	}
	if !strings.Contains(buf.String(), `"line1\nline2\t\u001b[31mred\u001b[0m"`) {
		t.Errorf("escaped newline/ANSI value not found in:\n%s", buf.String())
	}
}

// TestMarkdownTablesStayIntact checks that every row of every Markdown
// table has the column count of its header once escaped pipes are
// discounted, the way GitHub splits cells.
func TestMarkdownTablesStayIntact(t *testing.T) {
	for name, mk := range map[string]func() *Report{"kinds": kindsReport, "tricky": trickyReport} {
		var buf bytes.Buffer
		if err := Render(&buf, FormatMarkdown, mk()); err != nil {
			t.Fatal(err)
		}
		out := buf.String()
		for i, line := range strings.Split(out, "\n") {
			text := stripCodeSpans(line)
			for j := 0; j < len(text); j++ {
				if text[j] == '\\' {
					j++
					continue
				}
				if text[j] == '<' {
					t.Errorf("%s line %d: unescaped '<' outside a code span: %s", name, i+1, line)
				}
			}
		}
		want := -1
		for i, line := range strings.Split(out, "\n") {
			if !strings.HasPrefix(line, "|") {
				want = -1
				continue
			}
			n := gfmCells(line)
			if want == -1 {
				want = n
				continue
			}
			if n != want {
				t.Errorf("%s line %d: %d cells, header has %d: %s", name, i+1, n, want, line)
			}
		}
	}
}

// gfmCells counts table cells the way cmark-gfm does: a backslash escapes
// the next character, and every other pipe separates cells.
func gfmCells(line string) int {
	line = strings.TrimSuffix(strings.TrimPrefix(line, "|"), "|")
	n := 1
	for i := 0; i < len(line); i++ {
		switch line[i] {
		case '\\':
			i++
		case '|':
			n++
		}
	}
	return n
}

func TestRenderUnknownFormat(t *testing.T) {
	err := Render(&bytes.Buffer{}, "xml", emptyReport())
	if err == nil {
		t.Fatal("want error for unknown format")
	}
	for _, f := range Formats() {
		if !strings.Contains(err.Error(), f) {
			t.Errorf("error %q does not list format %q", err, f)
		}
	}
	if err := Render(&bytes.Buffer{}, FormatJSON, nil); err == nil {
		t.Error("want error for nil report")
	}
}

func TestNoDriftPartial(t *testing.T) {
	r := emptyReport()
	r.Errors = []inventory.ScopeError{{Scope: "aws/us-east-1/ec2", Message: "throttled"}}
	var buf bytes.Buffer
	if err := Render(&buf, FormatTable, r); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(buf.String(), "No drift:") {
		t.Errorf("a partial scan must not claim plain \"No drift\":\n%s", buf.String())
	}
	if !strings.Contains(buf.String(), "Not scanned: aws/us-east-1/ec2: throttled") {
		t.Errorf("missing error line:\n%s", buf.String())
	}
}

// stripCodeSpans removes code spans from a line of Markdown: a run of n
// backticks up to the next run of exactly n. What is left is what a
// renderer would parse as markup.
func stripCodeSpans(line string) string {
	var b strings.Builder
	for i := 0; i < len(line); {
		if line[i] == '\\' && i+1 < len(line) {
			b.WriteString(line[i : i+2])
			i += 2
			continue
		}
		if line[i] != '`' {
			b.WriteByte(line[i])
			i++
			continue
		}
		n := 0
		for i+n < len(line) && line[i+n] == '`' {
			n++
		}
		end := -1
		for j := i + n; j < len(line); {
			if line[j] != '`' {
				j++
				continue
			}
			m := 0
			for j+m < len(line) && line[j+m] == '`' {
				m++
			}
			if m == n {
				end = j + m
				break
			}
			j += m
		}
		if end == -1 {
			b.WriteString(line[i : i+n])
			i += n
			continue
		}
		i = end
	}
	return b.String()
}

// TestRenderConcurrent renders one report in every format at once; with
// -race it proves renderers only read the report.
func TestRenderConcurrent(t *testing.T) {
	r := kindsReport()
	done := make(chan error)
	for i := 0; i < 8; i++ {
		go func(format string) {
			done <- Render(&bytes.Buffer{}, format, r)
		}(Formats()[i%len(Formats())])
	}
	for i := 0; i < 8; i++ {
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
}
