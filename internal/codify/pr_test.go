package codify

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"plumb/internal/model"
	"plumb/internal/receivers/github"
	"plumb/internal/receivers/github/githubtest"
)

const prToken = "ghp_codifytest0123456789"

func sampleResult() (*Result, []model.Finding) {
	bucket := finding(model.KindUnmanaged, "aws_s3_bucket", "logs-tmp")
	bucket.Message = "Undefined resource exists (logs-tmp)"
	tagged := finding(model.KindChanged, "aws_s3_bucket", "data")
	tagged.Message = "Resource changed outside code (data)"
	legacy := finding(model.KindUnmanaged, "aws_sqs_queue", "legacy")
	legacy.Message = "Undefined resource exists (legacy)"
	res := &Result{
		Adopted:  []Adopted{{Finding: bucket, Address: "aws_s3_bucket.incident_logs", ImportID: "logs-tmp"}},
		Accepted: []Accepted{{Finding: tagged, Address: "aws_s3_bucket.data", File: "main.tf", Paths: []string{"tags.Owner"}}},
		Skipped:  []Skipped{{Finding: legacy, Address: "aws_sqs_queue.legacy", Reason: "does not converge: max_message_size | rejected"}},
		Files: []FileChange{
			{Path: "adopted_2026-05-14.tf", New: []byte("import {\n}\n")},
			{Path: "main.tf", Old: []byte("resource \"aws_s3_bucket\" \"data\" {}\n"), New: []byte("resource \"aws_s3_bucket\" \"data\" {\n  tags = {\n    Owner = \"alice\"\n  }\n}\n")},
		},
	}
	return res, []model.Finding{bucket, tagged, legacy}
}

// TestPullRequestFlow proposes a codify result through the GitHub test
// server: the first run creates the branch, a commit and the pull
// request; running again for the same findings updates that pull
// request, never opening a second one.
func TestPullRequestFlow(t *testing.T) {
	f := githubtest.New(t, "acme", "infra")
	f.SetToken(prToken)
	res, chosen := sampleResult()
	f.SeedRepo("main", map[string]string{"envs/prod/main.tf": string(res.Files[1].Old)})
	client, err := github.NewPullRequests("acme/infra", f.BaseURL(), prToken, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	key := SetKey(chosen)
	opts := PROptions{RepoPath: "envs/prod", Labels: []string{"plumb", "codify"}, Environment: "prod",
		Issues: map[string]github.IssueLink{chosen[0].Fingerprint: {Number: 7}}}

	out, err := client.Publish(ctx, Proposal(res, key, opts))
	if err != nil {
		t.Fatal(err)
	}
	if !out.Created || !out.Committed {
		t.Fatalf("first run = %+v", out)
	}
	files, _, ok := f.BranchFiles(BranchName(key))
	if !ok || !strings.Contains(files["envs/prod/main.tf"], "Owner") || files["envs/prod/adopted_2026-05-14.tf"] != "import {\n}\n" {
		t.Fatalf("branch %s files = %v", BranchName(key), files)
	}
	prs := f.PullRequests()
	if len(prs) != 1 {
		t.Fatalf("pull requests = %+v", prs)
	}
	body := prs[0].Body
	for _, want := range []string{
		"`aws_s3_bucket.incident_logs` | `logs-tmp` |", "(#7)", "`aws_s3_bucket.data` | `main.tf` | tags.Owner",
		"### Left for a person", `max_message_size \| rejected`, "<!-- plumb:codify=" + key + " -->", "`envs/prod`", "**Proof:**",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("body lacks %q:\n%s", want, body)
		}
	}
	if prs[0].Title != "plumb codify: adopt 1 resource, accept 1 change (prod)" {
		t.Errorf("title = %q", prs[0].Title)
	}

	// Re-run for the same findings: same key, same branch, same PR.
	if SetKey([]model.Finding{chosen[2], chosen[0], chosen[1]}) != key {
		t.Fatal("the set key depends on the order of the findings")
	}
	res.Files[0].New = []byte("import {\n}\n# more\n")
	again, err := client.Publish(ctx, Proposal(res, key, opts))
	if err != nil {
		t.Fatal(err)
	}
	if again.Created || !again.Committed || again.Number != out.Number || len(f.PullRequests()) != 1 {
		t.Errorf("re-run = %+v, pull requests %d; want the same one updated", again, len(f.PullRequests()))
	}
	if SetKey(chosen[:2]) == key {
		t.Error("another finding set got the same key")
	}
}

// TestScratchLayout copies a root module whose module lives outside it,
// keeping the relative path working, and links the data directory.
func TestScratchLayout(t *testing.T) {
	repo := t.TempDir()
	rootDir := filepath.Join(repo, "envs", "prod")
	for p, c := range map[string]string{
		"envs/prod/main.tf":                           "module \"net\" {\n  source = \"../../modules/net\"\n}\n",
		"envs/prod/terraform.tfstate":                 "{}",
		"envs/prod/.terraform/modules/modules.json":   `{"Modules":[{"Key":"net","Source":"../../modules/net","Dir":"../../modules/net"}]}`,
		"envs/prod/.terraform/providers/p/big-binary": "x",
		"envs/prod/.terraform/terraform.tfstate":      `{"backend":{"type":"local"}}`,
		"modules/net/main.tf":                         "resource \"aws_vpc\" \"v\" {}\n",
	} {
		full := filepath.Join(repo, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	r, err := openRoot(rootDir, "")
	if err != nil {
		t.Fatal(err)
	}
	s, err := newScratch(r)
	if err != nil {
		t.Fatal(err)
	}
	defer s.remove()
	if _, err := os.Stat(filepath.Join(s.dir, "..", "..", "modules", "net", "main.tf")); err != nil {
		t.Errorf("module not reachable through its relative path: %v", err)
	}
	if b, err := os.ReadFile(filepath.Join(s.dir, "terraform.tfstate")); err != nil || string(b) != "{}" {
		t.Errorf("local state not copied: %v", err)
	}
	if fi, err := os.Lstat(filepath.Join(s.dir, ".terraform", "providers")); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf("providers not linked: %v", err)
	}
	if fi, err := os.Lstat(filepath.Join(s.dir, ".terraform", "terraform.tfstate")); err != nil || !fi.Mode().IsRegular() {
		t.Errorf("backend configuration not copied: %v", err)
	}
	if !strings.HasPrefix(s.dir, s.base) {
		t.Errorf("scratch dir %s outside %s", s.dir, s.base)
	}
}
