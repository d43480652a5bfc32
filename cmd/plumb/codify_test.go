package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"plumb/internal/model"
	"plumb/internal/receivers/github/githubtest"
	"plumb/internal/testenv"
)

// codifyReport is a report with one unmanaged bucket; its errors array is
// filled in for the partial case.
func codifyReport(t *testing.T, typ, errors string) string {
	t.Helper()
	fp := model.Fingerprint(model.KindUnmanaged, "prod", "aws", typ, "us-east-1", "logs-tmp", "")
	doc := `{"version": 1, "environment": "prod", "findings": [
  {"kind": "drift.unmanaged", "severity": "medium", "fingerprint": "` + fp + `",
   "resource": {"provider": "aws", "type": "` + typ + `", "id": "logs-tmp", "region": "us-east-1", "tags": {}},
   "address": null, "changes": [], "message": "Undefined resource exists (logs-tmp)"}],
 "errors": [` + errors + `]}`
	path := filepath.Join(t.TempDir(), "drift.json")
	if err := os.WriteFile(path, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestCodifyBadInput: every mistake is refused with exit code 1 and a
// message that names the problem, before Terraform runs.
func TestCodifyBadInput(t *testing.T) {
	t.Setenv("GITHUB_TOKEN", "")
	t.Setenv("GH_TOKEN", "")
	good := codifyReport(t, "aws_s3_bucket", "")
	partial := codifyReport(t, "aws_s3_bucket", `{"scope": "aws/us-east-1/s3", "message": "AccessDenied"}`)
	azure := codifyReport(t, "azurerm_storage_account", "")
	notInit := t.TempDir()
	if err := os.WriteFile(filepath.Join(notInit, "main.tf"), []byte("resource \"aws_s3_bucket\" \"b\" {}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	emptyData := t.TempDir()
	// Looks initialised: codify checks for .terraform before anything runs.
	ready := t.TempDir()
	if err := os.WriteFile(filepath.Join(ready, "main.tf"), []byte("resource \"aws_s3_bucket\" \"b\" {}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(ready, ".terraform"), 0o755); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"not initialised", []string{"--from", good, "--dir", notInit}, 1, "is not initialised (no .terraform directory): run terraform init there first"},
		{"not a root module", []string{"--from", good, "--dir", emptyData}, 1, "has no .tf files"},
		{"not initialised before scanning", []string{"--dir", notInit}, 1, "is not initialised"},
		{"partial report", []string{"--from", partial, "--dir", ready}, 1, "comes from a partial scan: 1 part(s) of the estate could not be read (first: aws/us-east-1/s3: AccessDenied)"},
		{"partial report allowed", []string{"--from", partial, "--dir", ready, "--allow-partial", "--type", "aws_sqs_queue"}, 0, "nothing to codify"},
		{"unsupported type", []string{"--from", azure, "--dir", ready}, 1, "have a resource type codify does not support"},
		{"unsupported type narrowed", []string{"--from", azure, "--dir", ready, "--type", "aws_s3_bucket"}, 0, "nothing to codify"},
		{"bad kind", []string{"--from", good, "--dir", ready, "--kind", "drift.bogus"}, 1, "--kind drift.bogus: codify acts on"},
		{"missing without accept", []string{"--from", good, "--dir", ready, "--kind", "drift.missing"}, 1, "needs --accept-missing"},
		{"unknown finding", []string{"--from", good, "--dir", ready, "--finding", "0123456789"}, 1, "--finding 0123456789: no such finding in " + good},
		{"pr without repo", []string{"--from", good, "--dir", ready, "--pr"}, 1, "--pr needs --repo OWNER/REPO"},
		{"pr without token", []string{"--from", good, "--dir", ready, "--pr", "--repo", "acme/infra"}, 1, "GITHUB_TOKEN"},
		{"pr outside a repository", []string{"--from", good, "--dir", ready, "--pr", "--repo", "acme/infra", "--github-url", "http://127.0.0.1:1/api/v3/"}, 1, "pass --repo-path"},
		{"pr and dry run", []string{"--from", good, "--dir", ready, "--pr", "--dry-run"}, 1, "--pr and --dry-run exclude each other"},
		{"from and env", []string{"--from", good, "--dir", ready, "--env", "prod"}, 1, "--from reads findings from a report; it cannot be combined"},
		{"no store", []string{"--env", "prod", "--dir", ready, "--data-dir", emptyData}, 1, "--env prod: no findings store in " + emptyData},
		{"missing report", []string{"--from", filepath.Join(emptyData, "nope.json"), "--dir", ready}, 1, "--from: open"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.name == "pr outside a repository" {
				t.Setenv("GITHUB_TOKEN", "ghp_x")
			}
			var stdout, stderr bytes.Buffer
			code := run(append([]string{"codify"}, tt.args...), &stdout, &stderr)
			if code != tt.code {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tt.code, stdout.String(), stderr.String())
			}
			if !strings.Contains(stdout.String()+stderr.String(), tt.want) {
				t.Errorf("output lacks %q:\nstdout: %s\nstderr: %s", tt.want, stdout.String(), stderr.String())
			}
		})
	}
}

const codifyRoot = `resource "aws_s3_bucket" "data" {
  bucket = "cli-data"
  tags = {
    Team = "web"
  }
}

variable "shared_tags" {
  type    = map(string)
  default = { Team = "shared" }
}

# Tags come from a variable: codify must leave this one for a person.
resource "aws_s3_bucket" "shared" {
  bucket = "cli-shared"
  tags   = var.shared_tags
}
`

// TestCodifyCLIAgainstMoto drives plumb codify end to end through the
// command line with real Terraform against moto: a report from plumb
// scan, a dry run writing only the patch, then --pr against the GitHub
// test server twice (one pull request, updated), and exit code 2 for the
// finding left for a person.
func TestCodifyCLIAgainstMoto(t *testing.T) {
	moto := testenv.StartMoto(t)
	tf := testenv.NewTerraform(t)
	ctx := context.Background()
	repo := t.TempDir()
	dir := filepath.Join(repo, "envs", "prod")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, body := range map[string]string{"main.tf": codifyRoot, "provider.tf": testenv.MotoProvider(moto.Endpoint)} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := tf.Run(ctx, dir, "init", "-input=false", "-no-color"); err != nil {
		t.Fatal(err)
	}
	if _, err := tf.Run(ctx, dir, "apply", "-auto-approve", "-input=false", "-no-color"); err != nil {
		t.Fatal(err)
	}
	t.Setenv("TF_CLI_CONFIG_FILE", tf.CLIConfig)
	s3c := s3.NewFromConfig(moto.Config(t, "us-east-1"), func(o *s3.Options) { o.UsePathStyle = true })
	if _, err := s3c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("cli-extra")}); err != nil {
		t.Fatal(err)
	}
	for bucket, tags := range map[string][]s3types.Tag{
		"cli-data":   {{Key: aws.String("Team"), Value: aws.String("web")}, {Key: aws.String("Owner"), Value: aws.String("dana")}},
		"cli-shared": {{Key: aws.String("Team"), Value: aws.String("shared")}, {Key: aws.String("Owner"), Value: aws.String("erin")}},
	} {
		if _, err := s3c.PutBucketTagging(ctx, &s3.PutBucketTaggingInput{Bucket: aws.String(bucket), Tagging: &s3types.Tagging{TagSet: tags}}); err != nil {
			t.Fatal(err)
		}
	}
	t.Chdir(repo)
	var stdout, stderr bytes.Buffer
	if code := run([]string{"scan", "--state", filepath.Join(dir, "terraform.tfstate"), "--env", "prod", "--region", "us-east-1", "--type", "aws_s3_bucket", "-o", "json=drift.json"}, &stdout, &stderr); code != 2 {
		t.Fatalf("scan exit %d: %s", code, stderr.String())
	}
	mainBefore, _ := os.ReadFile(filepath.Join(dir, "main.tf"))

	// Dry run: the patch is written, the directory is not.
	stdout.Reset()
	stderr.Reset()
	code := run([]string{"codify", "--from", "drift.json", "--dir", "envs/prod", "--dry-run", "--patch", "codify.patch", "--progress"}, &stdout, &stderr)
	if code != 2 {
		t.Fatalf("dry run exit %d, want 2 (one finding left for a person)\nstdout: %s\nstderr: %s", code, stdout.String(), stderr.String())
	}
	out := stdout.String()
	for _, want := range []string{"adopted  aws_s3_bucket.cli_extra", "accepted  aws_s3_bucket.data", "tags.Owner in main.tf", "left", "aws_s3_bucket.shared", "come from the variable var.shared_tags", "dry run: 2 file(s) not written"} {
		if !strings.Contains(strings.Join(strings.Fields(out), " "), strings.Join(strings.Fields(want), " ")) {
			t.Errorf("stdout lacks %q:\n%s", want, out)
		}
	}
	if !strings.Contains(stderr.String(), "terraform plan (generate configuration): running") || !strings.Contains(stderr.String(), "terraform plan (prove the result): done in") {
		t.Errorf("no progress on stderr:\n%s", stderr.String())
	}
	patch, err := os.ReadFile("codify.patch")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"+++ b/envs/prod/adopted_", "--- a/envs/prod/main.tf", `+    Owner = "dana"`, "+import {"} {
		if !strings.Contains(string(patch), want) {
			t.Errorf("patch lacks %q:\n%s", want, patch)
		}
	}
	if after, _ := os.ReadFile(filepath.Join(dir, "main.tf")); !bytes.Equal(after, mainBefore) {
		t.Errorf("--dry-run changed main.tf")
	}
	if m, _ := filepath.Glob(filepath.Join(dir, "adopted_*.tf")); len(m) != 0 {
		t.Errorf("--dry-run wrote %v", m)
	}

	// --pr, twice: one pull request, then the same one again.
	gh := githubtest.New(t, "acme", "infra")
	gh.SetToken("ghp_cli0123456789")
	gh.SeedRepo("main", map[string]string{"envs/prod/main.tf": string(mainBefore), "envs/prod/provider.tf": testenv.MotoProvider(moto.Endpoint)})
	t.Setenv("GITHUB_TOKEN", "ghp_cli0123456789")
	if err := os.Mkdir(filepath.Join(repo, ".git"), 0o755); err != nil {
		t.Fatal(err)
	}
	for round, want := range []string{"opened", "unchanged"} {
		stdout.Reset()
		stderr.Reset()
		code := run([]string{"codify", "--from", "drift.json", "--dir", "envs/prod", "--pr", "--repo", "acme/infra", "--github-url", gh.BaseURL(), "--patch", ""}, &stdout, &stderr)
		if code != 2 {
			t.Fatalf("--pr run %d: exit %d\nstdout: %s\nstderr: %s", round+1, code, stdout.String(), stderr.String())
		}
		if !strings.Contains(stdout.String(), "pull request #1 "+want) {
			t.Errorf("run %d: stdout lacks %q:\n%s", round+1, "pull request #1 "+want, stdout.String())
		}
	}
	prs := gh.PullRequests()
	if len(prs) != 1 || prs[0].Base != "main" || !strings.HasPrefix(prs[0].Head, "plumb/codify/") {
		t.Fatalf("pull requests = %+v", prs)
	}
	files, _, _ := gh.BranchFiles(prs[0].Head)
	if !strings.Contains(files["envs/prod/main.tf"], `Owner = "dana"`) {
		t.Errorf("branch main.tf = %q", files["envs/prod/main.tf"])
	}
	if after, _ := os.ReadFile(filepath.Join(dir, "main.tf")); !bytes.Equal(after, mainBefore) {
		t.Errorf("--pr changed the local main.tf")
	}
}
