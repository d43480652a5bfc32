package codify

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"plumb/internal/model"
)

func finding(kind model.Kind, typ, id string) model.Finding {
	return model.Finding{Kind: kind, Fingerprint: model.Fingerprint(kind, "prod", "aws", typ, "us-east-1", id, ""), Resource: model.Resource{Type: typ, ID: id}}
}

func TestSelect(t *testing.T) {
	bucket := finding(model.KindUnmanaged, "aws_s3_bucket", "logs")
	queue := finding(model.KindUnmanaged, "aws_sqs_queue", "q")
	changed := finding(model.KindChanged, "aws_s3_bucket", "data")
	missing := finding(model.KindMissing, "aws_sqs_queue", "old")
	policy := finding(model.KindPolicyViolation, "aws_s3_bucket", "logs")
	azure := finding(model.KindUnmanaged, "azurerm_storage_account", "/subscriptions/x")
	all := []model.Finding{bucket, queue, changed, missing, policy}
	names := func(fs []model.Finding) string {
		var out []string
		for _, f := range fs {
			out = append(out, string(f.Kind)+" "+f.Resource.ID)
		}
		return strings.Join(out, ", ")
	}
	tests := []struct {
		name    string
		in      []model.Finding
		sel     Selection
		want    string
		wantErr string
	}{
		{name: "default: unmanaged and changed", in: all, want: "drift.unmanaged logs, drift.unmanaged q, drift.changed data"},
		{name: "accept missing", in: all, sel: Selection{AcceptMissing: true}, want: "drift.unmanaged logs, drift.unmanaged q, drift.changed data, drift.missing old"},
		{name: "by type", in: all, sel: Selection{Types: []string{"aws_sqs_queue"}}, want: "drift.unmanaged q"},
		{name: "by kind", in: all, sel: Selection{Kinds: []model.Kind{model.KindChanged}}, want: "drift.changed data"},
		{name: "by fingerprint prefix", in: all, sel: Selection{Fingerprints: []string{queue.Fingerprint[:10]}}, want: "drift.unmanaged q"},
		{name: "fingerprint and type must both match", in: all, sel: Selection{Fingerprints: []string{queue.Fingerprint}, Types: []string{"aws_s3_bucket"}}, want: ""},
		{name: "unknown fingerprint", in: all, sel: Selection{Fingerprints: []string{"0000000000"}}, wantErr: "--finding 0000000000: no such finding in report.json"},
		{name: "short prefix", in: all, sel: Selection{Fingerprints: []string{"abc"}}, wantErr: "at least 8 characters"},
		{name: "policy finding chosen", in: all, sel: Selection{Fingerprints: []string{policy.Fingerprint}}, wantErr: "is a policy.violation finding: codify acts on drift.unmanaged, drift.changed and drift.missing findings only"},
		{name: "missing chosen without flag", in: all, sel: Selection{Fingerprints: []string{missing.Fingerprint}}, wantErr: "pass --accept-missing"},
		{name: "missing kind without flag", in: all, sel: Selection{Kinds: []model.Kind{model.KindMissing}}, wantErr: "--kind drift.missing needs --accept-missing"},
		{name: "unknown kind", in: all, sel: Selection{Kinds: []model.Kind{"drift.bogus"}}, wantErr: "--kind drift.bogus"},
		{name: "unsupported type", in: []model.Finding{bucket, azure}, wantErr: "1 chosen finding(s) have a resource type codify does not support"},
		{name: "unsupported type narrowed away", in: []model.Finding{bucket, azure}, sel: Selection{Types: []string{"aws_s3_bucket"}}, want: "drift.unmanaged logs"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Select(tt.in, tt.sel, "report.json")
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if names(got) != tt.want {
				t.Errorf("selected %q, want %q", names(got), tt.want)
			}
		})
	}
}

func TestOpenRootErrors(t *testing.T) {
	mk := func(t *testing.T, files map[string]string) string {
		dir := t.TempDir()
		for name, content := range files {
			p := filepath.Join(dir, name)
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		return dir
	}
	tests := []struct {
		name  string
		files map[string]string
		path  string
		want  string
	}{
		{name: "missing", path: "does-not-exist", want: "not an initialised Terraform root module"},
		{name: "file", files: map[string]string{"main.tf": ""}, path: "main.tf", want: "is a file"},
		{name: "no tf files", files: map[string]string{"README.md": "x"}, want: "has no .tf files"},
		{name: "json only", files: map[string]string{"main.tf.json": "{}"}, want: "holds only .tf.json files"},
		{name: "not initialised", files: map[string]string{"main.tf": "resource \"aws_s3_bucket\" \"b\" {}\n"}, want: "is not initialised (no .terraform directory): run terraform init there first"},
		{name: "syntax error", files: map[string]string{"main.tf": "resource \"aws_s3_bucket\" \"b\" {\n", ".terraform/x": ""}, want: "main.tf:1,"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := mk(t, tt.files)
			target := dir
			if tt.path != "" {
				target = filepath.Join(dir, tt.path)
			}
			_, err := openRoot(target, "")
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
		})
	}
	dir := mk(t, map[string]string{
		"main.tf":                         "resource \"aws_s3_bucket\" \"b\" {}\nimport {\n  to = aws_sqs_queue.q\n  id = \"https://q\"\n}\n",
		".terraform/modules/modules.json": `{"Modules":[{"Key":"","Source":"","Dir":"."},{"Key":"net","Source":"../modules/net","Dir":"../modules/net"},{"Key":"x","Source":"reg","Dir":".terraform/modules/x"}]}`,
	})
	r, err := openRoot(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	if r.resources["aws_s3_bucket.b"] != "main.tf" || r.importIDs["aws_sqs_queue\x00https://q"] != "main.tf" {
		t.Errorf("index: resources %v imports %v", r.resources, r.importIDs)
	}
	if len(r.outsideModules) != 1 || r.outsideModules[0] != filepath.Join("..", "modules", "net") {
		t.Errorf("outside modules = %v", r.outsideModules)
	}
}
