package codify

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zclconf/go-cty/cty"

	"plumb/internal/model"
)

const goodReport = `{
  "version": 1,
  "environment": "prod",
  "started_at": "2026-05-14T09:30:00Z",
  "duration_ms": 1234,
  "summary": {"managed": 2, "in_sync": 1, "changed": 1, "missing": 0, "unmanaged": 1, "coverage": 0.66},
  "findings": [
    {"kind": "drift.unmanaged", "severity": "medium", "fingerprint": "0123456789abcdef0123456789abcdef",
     "resource": {"provider": "aws", "type": "aws_s3_bucket", "id": "logs-tmp", "region": "us-east-1", "tags": {"Name": "logs"}},
     "address": null, "changes": [], "message": "Undefined resource exists (logs-tmp)", "future_field": {"ignored": true}},
    {"kind": "drift.changed", "severity": "low", "fingerprint": "fedcba9876543210fedcba9876543210",
     "resource": {"provider": "aws", "type": "aws_sqs_queue", "id": "https://sqs/1/jobs", "region": "us-east-1", "tags": null},
     "address": "aws_sqs_queue.jobs", "changes": [{"path": "tags.Owner", "before": null, "after": "alice"}, {"path": "delay_seconds", "before": 0, "after": 5}],
     "message": "Resource changed outside code (jobs)"}
  ],
  "errors": []
}
`

func TestReadReport(t *testing.T) {
	in, err := ReadReport("drift.json", []byte(goodReport))
	if err != nil {
		t.Fatal(err)
	}
	if in.Environment != "prod" || len(in.Findings) != 2 || in.Partial() {
		t.Fatalf("input = %+v", in)
	}
	f := in.Findings[1]
	if f.Kind != model.KindChanged || *f.Address != "aws_sqs_queue.jobs" || f.Environment != "prod" || f.Resource.Tags != nil {
		t.Errorf("finding = %+v", f)
	}
	if f.Changes[0].After != "alice" || f.Changes[1].After != json.Number("5") {
		t.Errorf("changes = %+v", f.Changes)
	}
	if in.Findings[0].Resource.Tags["Name"] != "logs" || in.Findings[0].Address != nil {
		t.Errorf("unmanaged finding = %+v", in.Findings[0])
	}
}

// TestReadReportErrors names the file, line, column and field.
func TestReadReportErrors(t *testing.T) {
	replace := func(old, new string) string { return strings.Replace(goodReport, old, new, 1) }
	tests := []struct {
		name, doc, want string
	}{
		{"empty", "  \n", "drift.json: empty file, not a plumb JSON report"},
		{"not json", "{\"version\": 1,\n  oops}", "drift.json:2:3: malformed JSON"},
		{"truncated", goodReport[:200], "drift.json:6:95: malformed JSON: the document ends early"},
		{"no version", `{"findings": []}`, `drift.json: no "version": not a plumb JSON report`},
		{"future version", replace(`"version": 1`, `"version": 2`), "drift.json:2:14: version 2: this plumb reads report version 1"},
		{"no findings", `{"version": 1}`, `no "findings" array`},
		{"wrong type", replace(`"environment": "prod"`, `"environment": 7`), "drift.json:3:18: environment: JSON number where the report has a string"},
		{"bad fingerprint", replace(`"0123456789abcdef0123456789abcdef"`, `"XYZ"`), `drift.json:8:70: findings[0].fingerprint: "XYZ" is not 32 lowercase hexadecimal characters`},
		{"no resource type", replace(`"type": "aws_s3_bucket", `, ``), "drift.json:9:18: findings[0].resource.type: missing"},
		{"no kind", replace(`"kind": "drift.changed", `, ``), "drift.json:11:5: findings[1].kind: missing"},
		{"change without path", replace(`{"path": "tags.Owner", `, `{`), "findings[1].changes[0].path: missing"},
		{"duplicate", replace(`"fedcba9876543210fedcba9876543210"`, `"0123456789abcdef0123456789abcdef"`), "findings[1].fingerprint: 0123456789abcdef0123456789abcdef repeats findings[0]"},
		{"trailing data", goodReport + "{}", "unexpected data after the report object"},
		{"error without scope", replace(`"errors": []`, `"errors": [{"message": "denied"}]`), "errors[0].scope: missing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ReadReport("drift.json", []byte(tt.doc))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
		})
	}
}

func TestReadReportPartial(t *testing.T) {
	doc := strings.Replace(goodReport, `"errors": []`, `"errors": [{"scope": "aws/us-east-1/ec2", "message": "AccessDenied"}]`, 1)
	in, err := ReadReport("drift.json", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	if !in.Partial() || in.Errors[0].Scope != "aws/us-east-1/ec2" {
		t.Errorf("errors = %+v", in.Errors)
	}
}

// FuzzReadReport feeds arbitrary bytes to the report reader: it must
// never panic, and whatever it accepts is a well-formed selection input.
func FuzzReadReport(f *testing.F) {
	f.Add([]byte(goodReport))
	f.Add([]byte(`{"version":1,"findings":[]}`))
	f.Add([]byte(`{"version":1,"findings":[{"kind":"x","fingerprint":"0123456789abcdef0123456789abcdef","resource":{"type":"t","id":"i"},"changes":[{"path":"p"}]}]}`))
	if seeds, err := filepath.Glob(filepath.Join("testdata", "reports", "*.json")); err == nil {
		for _, s := range seeds {
			if b, err := os.ReadFile(s); err == nil {
				f.Add(b)
			}
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		in, err := ReadReport("fuzz.json", data)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "fuzz.json") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		for _, fd := range in.Findings {
			if !isFingerprint(fd.Fingerprint) || fd.Resource.Type == "" || fd.Resource.ID == "" || fd.Kind == "" || fd.Changes == nil {
				t.Fatalf("accepted an invalid finding: %+v", fd)
			}
		}
	})
}

// FuzzParseAddress: never panics; an accepted address has a type and a
// name.
func FuzzParseAddress(f *testing.F) {
	for _, s := range []string{"aws_s3_bucket.logs", `module.a["x"].aws_vpc.v[0]`, "data.aws_ami.u", "a.b.c", "[", `aws_x.y["\u0000"]`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a, err := parseAddress(s)
		if err == nil && (a.typ == "" || a.name == "") {
			t.Fatalf("parseAddress(%q) = %+v without error", s, a)
		}
	})
}

// FuzzApplyEdits applies a tag edit to arbitrary .tf content: it must
// never panic, and an edited file must still parse.
func FuzzApplyEdits(f *testing.F) {
	for _, name := range []string{"fmt.tf", "unformatted.tf"} {
		if b, err := os.ReadFile(filepath.Join("testdata", "edit", name)); err == nil {
			f.Add(b, "Owner", "alice", false)
		}
	}
	f.Add([]byte("resource \"aws_s3_bucket\" \"reports\" {}"), "a b", "c\"${x}", true)
	f.Add([]byte("resource \"aws_s3_bucket\" \"reports\" { tags = {a=1,b=2} }"), "a", "", true)
	f.Fuzz(func(t *testing.T, src []byte, key, value string, remove bool) {
		e := edit{typ: "aws_s3_bucket", name: "reports", op: opSetTag, key: key}
		if remove {
			e.op = opRemoveTag
		} else {
			e.value = stringValue(value)
		}
		if key == "" {
			return
		}
		if _, err := applyEdits("fuzz.tf", src, []edit{e}); err != nil && strings.Contains(err.Error(), "a bug in plumb") {
			t.Fatalf("edit broke the file: %v\n%s", err, src)
		}
	})
}

func stringValue(s string) cty.Value { return cty.StringVal(strings.ToValidUTF8(s, "?")) }
