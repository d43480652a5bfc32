package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"plumb/internal/testenv"
)

// awsEnv points the SDK's standard chain at endpoint with the given keys
// (none when empty), away from any configuration of this machine.
func awsEnv(t *testing.T, endpoint, key string) {
	t.Helper()
	dir := t.TempDir()
	for k, v := range map[string]string{
		"AWS_ENDPOINT_URL": endpoint, "AWS_REGION": "us-east-1", "AWS_PROFILE": "",
		"AWS_CONFIG_FILE":             filepath.Join(dir, "no-config"),
		"AWS_SHARED_CREDENTIALS_FILE": filepath.Join(dir, "no-credentials"),
		"AWS_EC2_METADATA_DISABLED":   "true", "AWS_SESSION_TOKEN": "",
		"AWS_ACCESS_KEY_ID": key, "AWS_SECRET_ACCESS_KEY": key,
		"AWS_CONTAINER_CREDENTIALS_FULL_URI": "", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": "",
		"AWS_WEB_IDENTITY_TOKEN_FILE": "",
	} {
		t.Setenv(k, v)
	}
}

// refusingSTS answers every request as STS answers an unknown access key
// (HTTP 403, InvalidClientTokenId, the documented query-protocol error).
func refusingSTS(t testing.TB) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if !strings.Contains(string(body), "Action=GetCallerIdentity") {
			t.Errorf("request before the identity check: %s", body)
		}
		w.Header().Set("Content-Type", "text/xml")
		w.WriteHeader(http.StatusForbidden)
		_, _ = io.WriteString(w, `<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type><Code>InvalidClientTokenId</Code><Message>The security token included in the request is invalid.</Message></Error><RequestId>0b7e3c1a-1111-4222-8333-944455556666</RequestId></ErrorResponse>`)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// TestScanFailsFastWithOneMessage: an AWS that cannot be used ends the
// scan within a bounded time, exit 1, with exactly one line on stderr
// saying what is wrong, and no report claiming anything.
func TestScanFailsFastWithOneMessage(t *testing.T) {
	statePath := writeFile(t, t.TempDir(), "small.tfstate", smallState)
	tests := []struct {
		name     string
		endpoint func(testing.TB) string
		key      string
		want     string // {endpoint} stands for the endpoint
	}{
		{"closed port", testenv.ClosedPort, "testing", "Error: cannot reach AWS at {endpoint} (AWS_ENDPOINT_URL): connection refused"},
		{"black-holed port", testenv.BlackHole, "testing", "Error: cannot reach AWS at {endpoint} (AWS_ENDPOINT_URL): no answer within 5s"},
		{"refused credentials", refusingSTS, "AKIAIOSFODNN7EXAMPLE", "Error: AWS refused the credentials from AWS_ACCESS_KEY_ID: InvalidClientTokenId: The security token included in the request is invalid."},
		{"no credentials", testenv.ClosedPort, "", "Error: no AWS credentials found: set AWS_PROFILE, AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or sign in with `aws sso login`, or run where an instance or task role is available"},
	}
	for _, tc := range tests {
		for _, format := range []string{"table", "json", "markdown"} {
			t.Run(tc.name+"/"+format, func(t *testing.T) {
				endpoint := tc.endpoint(t)
				awsEnv(t, endpoint, tc.key)
				var stdout, stderr bytes.Buffer
				start := time.Now()
				code := run([]string{"scan", "--state", statePath, "--timeout", "5s", "--progress", "-o", format}, &stdout, &stderr)
				took := time.Since(start)
				if code != exitError {
					t.Errorf("exit code %d, want 1", code)
				}
				want := strings.ReplaceAll(tc.want, "{endpoint}", endpoint) + "\n"
				if stderr.String() != want {
					t.Errorf("stderr = %q\nwant     %q", stderr.String(), want)
				}
				if stdout.Len() != 0 {
					t.Errorf("a report was printed for a scan that read nothing:\n%s", stdout.String())
				}
				// Generous for a loaded machine; the SDK's own retries
				// took minutes here.
				if took > 30*time.Second {
					t.Errorf("took %s", took)
				}
			})
		}
	}
}

// TestNothingEvaluatedIsNeverClean: with --cloud none nothing reads the
// declared resources. No format may say "No drift" or claim coverage, the
// report leads with what was not evaluated, and the exit code is 1 unless
// --allow-partial.
func TestNothingEvaluatedIsNeverClean(t *testing.T) {
	statePath := writeFile(t, t.TempDir(), "small.tfstate", smallState)
	lead := "2 of 2 declared resources not evaluated: no AWS inventory ran (--cloud none)."
	tests := []struct {
		format string
		want   []string
	}{
		{"table", []string{"coverage -, not evaluated 2", "\n\n" + lead, "No findings in what could be read (0 managed resources in sync); the scan is incomplete."}},
		{"markdown", []string{"**" + lead, "| 2 | 0 | 0 | 0 | 0 | - | 2 | 0 | 0 |"}},
		{"json", []string{`"coverage": 0,`, `"not_evaluated": 2,`, `"notes": [` + "\n    \"" + lead}},
	}
	for _, tc := range tests {
		for _, allow := range []bool{false, true} {
			name := tc.format
			args := []string{"scan", "--state", statePath, "--cloud", "none", "-o", tc.format}
			wantCode := exitError
			if allow {
				name += "/allow-partial"
				args = append(args, "--allow-partial")
				wantCode = exitOK
			}
			t.Run(name, func(t *testing.T) {
				var stdout, stderr bytes.Buffer
				if code := run(args, &stdout, &stderr); code != wantCode {
					t.Errorf("exit code %d, want %d; stderr %s", code, wantCode, stderr.String())
				}
				out := stdout.String()
				if strings.Contains(out, "No drift") || strings.Contains(out, "100.0%") || strings.Contains(out, `"coverage": 1`) {
					t.Errorf("report claims a clean or covered estate:\n%s", out)
				}
				for _, w := range tc.want {
					if !strings.Contains(out, w) {
						t.Errorf("report lacks %q:\n%s", w, out)
					}
				}
				if !allow && !strings.Contains(stderr.String(), "incomplete scan: 2 of 2 declared resources not evaluated") {
					t.Errorf("stderr = %q", stderr.String())
				}
			})
		}
	}
}

// TestPlanEvaluatesWithoutInventory: a saved plan's refresh judged the
// declared resources, so --cloud none with --plan is a complete scan.
func TestPlanEvaluatesWithoutInventory(t *testing.T) {
	dir := t.TempDir()
	statePath := writeFile(t, dir, "small.tfstate", smallState)
	plan := writeFile(t, dir, "plan.json", `{"format_version":"1.2","terraform_version":"1.11.4","planned_values":{"root_module":{}},"resource_drift":[],
"prior_state":{"format_version":"1.0","values":{"root_module":{"resources":[
 {"address":"aws_dynamodb_table.orders","mode":"managed","type":"aws_dynamodb_table","name":"orders","values":{}},
 {"address":"aws_sqs_queue.jobs","mode":"managed","type":"aws_sqs_queue","name":"jobs","values":{}}]}}}}`)
	rep := scanJSON(t, exitOK, "scan", "--state", statePath, "--plan", plan, "--cloud", "none")
	if s := rep.Summary; s.NotEvaluated != 0 || s.InSync != 2 || s.Coverage != 1 {
		t.Errorf("summary = %+v", s)
	}
	var stdout, stderr bytes.Buffer
	if code := run([]string{"scan", "--state", statePath, "--plan", plan, "--cloud", "none"}, &stdout, &stderr); code != exitOK ||
		!strings.Contains(stdout.String(), "No drift: 2 managed resources in sync.") {
		t.Errorf("exit %d\n%s%s", code, stdout.String(), stderr.String())
	}
}

// TestProgressNamesWaitingScope: EC2 stops answering mid-scan. With
// --progress on a non-terminal, stderr names the waiting scope and call;
// --timeout stops the scan, whose report shows what was read and which
// scope was still running, and the exit code is 1.
func TestProgressNamesWaitingScope(t *testing.T) {
	m := testenv.StartMoto(t)
	proxy := testenv.HangProxy(t, m.Endpoint, func(service string) bool { return service == "ec2" })
	t.Setenv("AWS_ENDPOINT_URL", proxy)
	statePath := writeFile(t, t.TempDir(), "small.tfstate", smallState)
	var stdout, stderr bytes.Buffer
	start := time.Now()
	code := run([]string{"scan", "--state", statePath, "--type", "aws_vpc", "--type", "aws_sqs_queue", "--type", "aws_dynamodb_table",
		"--progress", "--timeout", "6s", "-o", "json"}, &stdout, &stderr)
	if took := time.Since(start); took > 40*time.Second {
		t.Errorf("took %s with --timeout 6s", took)
	}
	if code != exitError {
		t.Errorf("exit code %d, want 1", code)
	}
	errOut := stderr.String()
	if !strings.Contains(errOut, "waiting: ec2/us-east-1 (DescribeVpcs)") {
		t.Errorf("progress does not name the waiting scope and call:\n%s", errOut)
	}
	if !strings.HasSuffix(errOut, "Error: the scan stopped after --timeout 6s; the report shows what was read and which parts were still running\n") {
		t.Errorf("stderr does not end with the time limit error:\n%s", errOut)
	}
	var rep struct {
		Summary struct {
			InSync       int `json:"in_sync"`
			Missing      int `json:"missing"`
			NotEvaluated int `json:"not_evaluated"`
		} `json:"summary"`
		Errors []struct {
			Scope   string   `json:"scope"`
			Message string   `json:"message"`
			Types   []string `json:"types"`
		} `json:"errors"`
		Notes []string `json:"notes"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		t.Fatalf("report: %v\n%s", err, stdout.String())
	}
	if len(rep.Errors) != 1 || rep.Errors[0].Scope != "aws/us-east-1/ec2" ||
		rep.Errors[0].Message != "the scan's time limit was reached while waiting for DescribeVpcs" {
		t.Errorf("errors = %+v", rep.Errors)
	}
	// The table and the queue were read (both missing from this moto);
	// nothing of EC2 was declared, so nothing is not evaluated.
	if rep.Summary.Missing != 2 || rep.Summary.NotEvaluated != 0 {
		t.Errorf("summary = %+v", rep.Summary)
	}
}
