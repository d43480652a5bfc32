package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"plumb/internal/report"
	"plumb/internal/testenv"
)

func writeFile(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// smallState declares a DynamoDB table and an SQS queue, the way the AWS
// provider 5.x writes them.
const smallState = `{
  "version": 4,
  "terraform_version": "1.11.4",
  "serial": 3,
  "lineage": "3f1b7c2e-0000-4000-8000-000000000001",
  "outputs": {},
  "resources": [
    {
      "mode": "managed", "type": "aws_dynamodb_table", "name": "orders",
      "provider": "provider[\"registry.terraform.io/hashicorp/aws\"]",
      "instances": [{"schema_version": 1, "attributes": {
        "id": "orders", "name": "orders",
        "arn": "arn:aws:dynamodb:us-east-1:123456789012:table/orders",
        "tags": {}, "tags_all": {}}}]
    },
    {
      "mode": "managed", "type": "aws_sqs_queue", "name": "jobs",
      "provider": "provider[\"registry.terraform.io/hashicorp/aws\"]",
      "instances": [{"schema_version": 0, "attributes": {
        "id": "https://sqs.us-east-1.amazonaws.com/123456789012/jobs", "name": "jobs",
        "arn": "arn:aws:sqs:us-east-1:123456789012:jobs",
        "url": "https://sqs.us-east-1.amazonaws.com/123456789012/jobs",
        "tags": {}, "tags_all": {}}}]
    }
  ]
}`

func TestScanCommandLineErrors(t *testing.T) {
	dir := t.TempDir()
	v3 := writeFile(t, dir, "old.tfstate", `{"version": 3, "terraform_version": "0.11.14", "modules": []}`)
	broken := writeFile(t, dir, "broken.tfstate", "{\n  \"version\": 4,\n  \"resources\": [\n    {\"mode\": \"managed\",,}\n  ]\n}\n")
	empty := writeFile(t, dir, "empty.tfstate", `{"version": 4, "terraform_version": "1.11.4", "serial": 1, "lineage": "x", "outputs": {}, "resources": []}`)
	badIgnore := writeFile(t, dir, "bad.ignore", "aws_s3_bucket.ok\nno-dot-here\n")
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no state", []string{"scan"}, "no desired state: pass --state"},
		{"unknown format", []string{"scan", "--state", v3, "-o", "xml"}, "xml"},
		{"two stdouts", []string{"scan", "--state", v3, "-o", "json", "-o", "table"}, "standard output"},
		{"bad concurrency", []string{"scan", "--state", v3, "--concurrency", "0"}, "--concurrency must be at least 1"},
		{"missing ignore file", []string{"scan", "--state", v3, "--ignore", filepath.Join(dir, "nope")}, filepath.Join(dir, "nope")},
		{"broken ignore file", []string{"scan", "--state", v3, "--ignore", badIgnore}, badIgnore + ":2:"},
		{"missing state", []string{"scan", "--state", filepath.Join(dir, "absent.tfstate")}, "absent.tfstate"},
		{"glob matching nothing", []string{"scan", "--state", filepath.Join(dir, "**", "*.nothing")}, "*.nothing"},
		{"old state version", []string{"scan", "--state", v3}, "unsupported state version 3"},
		{"malformed state", []string{"scan", "--state", broken}, "broken.tfstate"},
		{"malformed state position", []string{"scan", "--state", broken}, "line 4"},
		{"empty state", []string{"scan", "--state", empty}, "has no resources"},
		{"bad cloud", []string{"scan", "--state", v3, "--cloud", "gcp"}, `--cloud "gcp": want aws, azure or none`},
		{"unknown type", []string{"scan", "--state", writeFile(t, dir, "ok.tfstate", smallState), "--type", "aws_spaceship", "--region", "us-east-1"}, "unsupported resource types: aws_spaceship"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(tc.args, &stdout, &stderr)
			if code != exitError {
				t.Fatalf("exit code %d, want 1; stderr: %s", code, stderr.String())
			}
			if !strings.Contains(stderr.String(), tc.want) {
				t.Errorf("stderr %q does not mention %q", stderr.String(), tc.want)
			}
		})
	}
}

func TestVersionAndHelp(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run([]string{"version"}, &stdout, &stderr); code != 0 || !strings.HasPrefix(stdout.String(), "plumb ") {
		t.Fatalf("version: code %d, out %q", code, stdout.String())
	}
	stdout.Reset()
	if code := run([]string{"scan", "--help"}, &stdout, &stderr); code != 0 {
		t.Fatalf("scan --help: code %d", code)
	}
	for _, want := range []string{"Exit codes", "--allow-partial", "s3://", "never reported as unmanaged", "Examples:"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("scan --help lacks %q", want)
		}
	}
	stdout.Reset()
	if code := run([]string{"completion", "bash"}, &stdout, &stderr); code != 0 || !strings.Contains(stdout.String(), "plumb") {
		t.Errorf("completion bash: code %d", code)
	}
}

// TestPartialScanExitCodes denies DynamoDB through a proxy in front of
// moto: the scan is partial, exits 1 unless --allow-partial, still writes
// its report, and never calls the declared table missing.
func TestPartialScanExitCodes(t *testing.T) {
	m := testenv.StartMoto(t)
	proxy := testenv.FaultProxy(t, m.Endpoint, func(service string, n int) *testenv.Fault {
		if service == "dynamodb" {
			return testenv.AccessDeniedJSON()
		}
		return nil
	})
	t.Setenv("AWS_ENDPOINT_URL", proxy)
	dir := t.TempDir()
	statePath := writeFile(t, dir, "small.tfstate", smallState)
	args := []string{"scan", "--state", statePath, "--type", "aws_dynamodb_table", "--type", "aws_sqs_queue", "-o", "json"}

	for _, tc := range []struct {
		name string
		args []string
		code int
	}{
		{"partial is an error", args, exitError},
		{"allow partial", append(append([]string{}, args...), "--allow-partial"), exitFindings},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(tc.args, &stdout, &stderr)
			if code != tc.code {
				t.Fatalf("exit code %d, want %d; stderr %s", code, tc.code, stderr.String())
			}
			var rep report.Report
			if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
				t.Fatalf("report not written on a partial scan: %v\n%s", err, stdout.String())
			}
			if len(rep.Errors) != 1 || rep.Errors[0].Scope != "aws/us-east-1/dynamodb" {
				t.Fatalf("errors = %+v", rep.Errors)
			}
			if len(rep.Findings) != 1 || rep.Findings[0].Kind != "drift.missing" || rep.Findings[0].Resource.Type != "aws_sqs_queue" {
				t.Fatalf("findings = %s", describe(&rep))
			}
			if rep.Summary.NotEvaluated != 1 {
				t.Errorf("not evaluated = %d, want 1 (the denied table)", rep.Summary.NotEvaluated)
			}
		})
	}
}

func TestAllowEmptyState(t *testing.T) {
	testenv.StartMoto(t)
	dir := t.TempDir()
	empty := writeFile(t, dir, "empty.tfstate", `{"version": 4, "terraform_version": "1.11.4", "serial": 1, "lineage": "x", "outputs": {}, "resources": []}`)
	var stdout, stderr bytes.Buffer
	code := run([]string{"scan", "--state", empty, "--allow-empty-state", "--type", "aws_vpc", "-o", "json"}, &stdout, &stderr)
	if code != exitOK {
		t.Fatalf("exit code %d; stderr %s; stdout %s", code, stderr.String(), stdout.String())
	}
}
