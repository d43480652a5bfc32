package report

import (
	"bytes"
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"

	"plumb/internal/model"
)

func renderJSONMap(t *testing.T, r *Report) (map[string]any, string) {
	t.Helper()
	var buf bytes.Buffer
	if err := Render(&buf, FormatJSON, r); err != nil {
		t.Fatalf("Render: %v", err)
	}
	var doc map[string]any
	if err := json.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, buf.String())
	}
	return doc, buf.String()
}

func TestJSONContract(t *testing.T) {
	doc, raw := renderJSONMap(t, kindsReport())

	if !strings.HasSuffix(raw, "}\n") || !strings.HasPrefix(raw, "{\n  \"version\"") {
		t.Errorf("want two-space indented document with trailing newline, got:\n%s", raw)
	}
	for _, k := range []string{"version", "environment", "started_at", "duration_ms", "summary", "findings", "errors", "notes"} {
		if _, ok := doc[k]; !ok {
			t.Errorf("missing top-level field %q", k)
		}
	}
	if doc["version"] != float64(Version) {
		t.Errorf("version = %v, want %d", doc["version"], Version)
	}
	if doc["started_at"] != "2026-05-14T09:30:00Z" {
		t.Errorf("started_at = %v, want RFC3339 in UTC", doc["started_at"])
	}
	if _, err := time.Parse(time.RFC3339, doc["started_at"].(string)); err != nil {
		t.Errorf("started_at: %v", err)
	}
	sum := doc["summary"].(map[string]any)
	for _, k := range []string{"managed", "in_sync", "changed", "missing", "unmanaged", "coverage", "not_evaluated", "unsupported", "ignored", "conflicting"} {
		if _, ok := sum[k].(float64); !ok {
			t.Errorf("summary.%s = %#v, want a number", k, sum[k])
		}
	}

	findings := doc["findings"].([]any)
	if len(findings) != 4 {
		t.Fatalf("want 4 findings, got %d", len(findings))
	}
	// Order: severity desc, then kind (unmanaged, missing, changed), type, id.
	var order []string
	for _, f := range findings {
		m := f.(map[string]any)
		order = append(order, m["severity"].(string)+" "+m["kind"].(string))
		for _, k := range []string{"kind", "severity", "fingerprint", "resource", "address", "changes", "message"} {
			if _, ok := m[k]; !ok {
				t.Errorf("finding missing %q: %v", k, m)
			}
		}
		if _, ok := m["changes"].([]any); !ok {
			t.Errorf("changes = %#v, want an array", m["changes"])
		}
		res := m["resource"].(map[string]any)
		if _, ok := res["attributes"]; ok {
			t.Errorf("empty attributes must be omitted: %v", res)
		}
		for _, k := range []string{"provider", "type", "id", "region", "tags"} {
			if _, ok := res[k]; !ok {
				t.Errorf("resource missing %q: %v", k, res)
			}
		}
	}
	want := []string{"high drift.missing", "high drift.changed", "medium drift.unmanaged", "medium drift.changed"}
	if strings.Join(order, ",") != strings.Join(want, ",") {
		t.Errorf("order = %v, want %v", order, want)
	}

	missing := findings[0].(map[string]any)
	if missing["address"] != "module.queue.aws_sqs_queue.jobs" {
		t.Errorf("missing address = %v", missing["address"])
	}
	if tags, ok := missing["resource"].(map[string]any)["tags"]; !ok || tags != nil {
		t.Errorf("unknown tags must be null, got %#v", tags)
	}
	if ch := missing["changes"].([]any); len(ch) != 0 {
		t.Errorf("missing finding changes = %v, want []", ch)
	}
	unmanaged := findings[2].(map[string]any)
	if unmanaged["address"] != nil {
		t.Errorf("unmanaged address = %#v, want null", unmanaged["address"])
	}
	if tags, ok := unmanaged["resource"].(map[string]any)["tags"].(map[string]any); !ok || len(tags) != 0 {
		t.Errorf("no tags must be {}, got %#v", unmanaged["resource"].(map[string]any)["tags"])
	}
	if unmanaged["message"] != "Undefined resource exists (logs-tmp)" {
		t.Errorf("message = %v", unmanaged["message"])
	}
	changed := findings[3].(map[string]any)["changes"].([]any)
	first := changed[0].(map[string]any)
	if first["path"] != "tags.env" || first["before"] != "dev" || first["after"] != "prod" {
		t.Errorf("first change = %v", first)
	}
	if second := changed[1].(map[string]any); second["before"] != nil {
		t.Errorf("absent before must be null: %v", second)
	}

	errs := doc["errors"].([]any)
	if len(errs) != 2 || errs[0].(map[string]any)["scope"] != "aws/eu-west-1/rds" {
		t.Errorf("errors = %v, want 2 sorted by scope", errs)
	}
}

func TestJSONEmptyArraysNotNull(t *testing.T) {
	r := &Report{Environment: "dev", StartedAt: started}
	r.Findings = []model.Finding{{Kind: model.KindMissing, Severity: model.SeverityHigh, Changes: nil, Address: ptr("")}}
	doc, raw := renderJSONMap(t, r)
	if _, ok := doc["errors"].([]any); !ok {
		t.Errorf("errors must be [], got %#v", doc["errors"])
	}
	f := doc["findings"].([]any)[0].(map[string]any)
	if _, ok := f["changes"].([]any); !ok {
		t.Errorf("nil changes must be [], got %#v", f["changes"])
	}
	if f["address"] != nil {
		t.Errorf("empty address must be null, got %#v", f["address"])
	}
	if _, ok := doc["notes"]; ok {
		t.Errorf("empty notes must be omitted")
	}
	if doc["version"] != float64(Version) {
		t.Errorf("version must default to %d, got %v", Version, doc["version"])
	}

	doc, _ = renderJSONMap(t, &Report{})
	if _, ok := doc["findings"].([]any); !ok {
		t.Errorf("findings must be [], got %#v\n%s", doc["findings"], raw)
	}
}

func TestJSONRoundTripsIntoReport(t *testing.T) {
	var buf bytes.Buffer
	in := kindsReport()
	if err := Render(&buf, FormatJSON, in); err != nil {
		t.Fatal(err)
	}
	var out Report
	if err := json.Unmarshal(buf.Bytes(), &out); err != nil {
		t.Fatalf("a JSON report must decode into Report: %v", err)
	}
	if out.Environment != in.Environment || !out.StartedAt.Equal(in.StartedAt) || out.Summary != in.Summary ||
		len(out.Findings) != len(in.Findings) || len(out.Errors) != len(in.Errors) {
		t.Errorf("round trip lost data: %+v", out)
	}
}

func TestJSONBadValues(t *testing.T) {
	r := emptyReport()
	r.Summary.Coverage = math.NaN()
	if err := Render(&bytes.Buffer{}, FormatJSON, r); err == nil || !strings.Contains(err.Error(), "coverage") {
		t.Errorf("NaN coverage: err = %v", err)
	}
	r = emptyReport()
	r.Findings = []model.Finding{{Kind: model.KindChanged, Resource: model.Resource{Type: "aws_vpc", ID: "vpc-1"},
		Changes: []model.Change{{Path: "x", Before: math.Inf(1)}}}}
	err := Render(&bytes.Buffer{}, FormatJSON, r)
	if err == nil || !strings.Contains(err.Error(), "vpc-1") {
		t.Errorf("unencodable change: err = %v, want one naming the resource", err)
	}
	// The human formats still render such a value.
	if err := Render(&bytes.Buffer{}, FormatTable, r); err != nil {
		t.Errorf("table: %v", err)
	}
}

func TestExitCode(t *testing.T) {
	withFinding := func(r *Report) *Report {
		r.Findings = []model.Finding{{Kind: model.KindUnmanaged}}
		return r
	}
	partial := func(r *Report) *Report {
		r.Errors = append(r.Errors, kindsReport().Errors...)
		return r
	}
	cases := []struct {
		name         string
		r            *Report
		allowPartial bool
		want         int
	}{
		{"clean", &Report{}, false, ExitClean},
		{"findings", withFinding(&Report{}), false, ExitFindings},
		{"partial", partial(&Report{}), false, ExitError},
		{"partial with findings", partial(withFinding(&Report{})), false, ExitError},
		{"partial allowed", partial(&Report{}), true, ExitClean},
		{"partial allowed with findings", partial(withFinding(&Report{})), true, ExitFindings},
	}
	for _, c := range cases {
		if got := c.r.ExitCode(c.allowPartial); got != c.want {
			t.Errorf("%s: ExitCode(%v) = %d, want %d", c.name, c.allowPartial, got, c.want)
		}
	}
}

// TestJSONConflict: a drift.conflict finding carries every declaration
// (address and state, in order); other findings have no declarations
// field at all; summary.conflicting counts the resource once.
func TestJSONConflict(t *testing.T) {
	doc, _ := renderJSONMap(t, conflictReport())
	if got := doc["summary"].(map[string]any)["conflicting"]; got != float64(1) {
		t.Errorf("summary.conflicting = %v, want 1", got)
	}
	findings := doc["findings"].([]any)
	if len(findings) != 2 {
		t.Fatalf("want 2 findings, got %d", len(findings))
	}
	conflict, changed := findings[0].(map[string]any), findings[1].(map[string]any)
	if conflict["kind"] != "drift.conflict" || conflict["severity"] != "high" {
		t.Fatalf("first finding = %v %v, want the high drift.conflict first", conflict["kind"], conflict["severity"])
	}
	decls, ok := conflict["declarations"].([]any)
	if !ok || len(decls) != 2 {
		t.Fatalf("declarations = %#v, want two", conflict["declarations"])
	}
	want := [][2]string{{"aws_s3_bucket.assets", "states/web/terraform.tfstate"}, {"module.cdn.aws_s3_bucket.origin", "infra/cdn"}}
	for i, w := range want {
		d := decls[i].(map[string]any)
		if d["address"] != w[0] || d["source"] != w[1] {
			t.Errorf("declarations[%d] = %v, want %v", i, d, w)
		}
	}
	if conflict["address"] != want[0][0] || conflict["source"] != want[0][1] {
		t.Errorf("address/source = %v/%v, want the first declaration", conflict["address"], conflict["source"])
	}
	if ch := conflict["changes"].([]any); len(ch) != 0 {
		t.Errorf("conflict changes = %v, want []", ch)
	}
	if _, ok := changed["declarations"]; ok {
		t.Errorf("drift.changed finding has a declarations field: %v", changed)
	}
}
