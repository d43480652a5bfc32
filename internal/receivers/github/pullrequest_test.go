package github

import (
	"context"
	"strings"
	"testing"

	"plumb/internal/receivers"
	"plumb/internal/receivers/github/githubtest"
)

const mainTF = "resource \"aws_s3_bucket\" \"data\" {\n  bucket = \"data\"\n}\n"

func prClient(t *testing.T) (*githubtest.Fake, *PullRequests) {
	t.Helper()
	f := githubtest.New(t, "acme", "infra")
	f.SetToken(testToken)
	f.SeedRepo("trunk", map[string]string{"envs/prod/main.tf": mainTF, "README.md": "infra\n"})
	p, err := NewPullRequests("acme/infra", f.BaseURL(), testToken, nil)
	if err != nil {
		t.Fatal(err)
	}
	return f, p
}

func proposal(body, adopted string) Proposal {
	edited := strings.Replace(mainTF, "}\n", "  tags = {\n    Owner = \"alice\"\n  }\n}\n", 1)
	return Proposal{
		Branch: "plumb/codify/0123456789ab",
		Title:  "plumb codify: adopt 1 resource",
		Body:   body,
		Labels: []string{"plumb", "codify"},
		Files: []ChangeFile{
			{Path: "envs/prod/adopted_2026-05-14.tf", Content: []byte(adopted)},
			{Path: "envs/prod/main.tf", Content: []byte(edited), Base: []byte(mainTF)},
		},
	}
}

// TestPublishOpensOnceAndUpdates drives the pull request flow against the
// fake: the first run creates the branch, one commit on the base's head
// and the pull request with its labels; the same run again writes
// nothing new; new content is a new commit on the same branch and an
// edit of the same pull request.
func TestPublishOpensOnceAndUpdates(t *testing.T) {
	f, p := prClient(t)
	ctx := context.Background()
	base := f.BranchHead("trunk")

	first, err := p.Publish(ctx, proposal("body one", "import {}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if !first.Created || !first.Committed || first.Base != "trunk" || first.Number == 0 {
		t.Fatalf("first publish = %+v, want a created pull request with a commit onto trunk", first)
	}
	files, parents, ok := f.BranchFiles("plumb/codify/0123456789ab")
	if !ok {
		t.Fatal("branch not created")
	}
	if len(parents) != 1 || parents[0] != base {
		t.Errorf("commit parents = %v, want [%s] (the base head)", parents, base)
	}
	if files["envs/prod/adopted_2026-05-14.tf"] != "import {}\n" || !strings.Contains(files["envs/prod/main.tf"], "Owner") || files["README.md"] != "infra\n" {
		t.Errorf("branch files = %v", files)
	}
	prs := f.PullRequests()
	if len(prs) != 1 || prs[0].Head != "plumb/codify/0123456789ab" || prs[0].Base != "trunk" || prs[0].Body != "body one" {
		t.Fatalf("pull requests = %+v", prs)
	}
	if strings.Join(prs[0].Labels, ",") != "plumb,codify" {
		t.Errorf("labels = %v", prs[0].Labels)
	}

	// Same proposal: no commit, no edit, same pull request.
	commits := f.CommitsMade()
	again, err := p.Publish(ctx, proposal("body one", "import {}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if again.Created || again.Committed || again.Number != first.Number || again.Commit != first.Commit {
		t.Errorf("second publish = %+v, want the same pull request untouched (first %+v)", again, first)
	}
	if f.CommitsMade() != commits {
		t.Errorf("a commit was made for unchanged content")
	}
	for _, line := range f.Log()[len(f.Log())-8:] {
		if strings.HasPrefix(line, "PATCH") {
			t.Errorf("unchanged publish wrote %s", line)
		}
	}

	// New content: one more commit on the same branch, the same PR edited.
	third, err := p.Publish(ctx, proposal("body two", "import {}\nresource {}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if third.Created || !third.Committed || third.Number != first.Number {
		t.Errorf("third publish = %+v", third)
	}
	prs = f.PullRequests()
	if len(prs) != 1 || prs[0].Body != "body two" {
		t.Fatalf("pull requests after update = %+v", prs)
	}
	files, parents, _ = f.BranchFiles("plumb/codify/0123456789ab")
	if files["envs/prod/adopted_2026-05-14.tf"] != "import {}\nresource {}\n" || len(parents) != 1 || parents[0] != base {
		t.Errorf("updated branch: files %v parents %v", files, parents)
	}
}

// TestPublishChecksBase refuses a change made from a main.tf the base
// branch no longer holds, and moves onto a base that advanced elsewhere.
func TestPublishChecksBase(t *testing.T) {
	tests := []struct {
		name    string
		push    func(f *githubtest.Fake)
		wantErr string
	}{
		{name: "edited file changed on base", push: func(f *githubtest.Fake) {
			f.PushFile("trunk", "envs/prod/main.tf", mainTF+"# someone else\n")
		}, wantErr: "envs/prod/main.tf on trunk differs from the local copy plumb edited"},
		{name: "new file already on base", push: func(f *githubtest.Fake) {
			f.PushFile("trunk", "envs/prod/adopted_2026-05-14.tf", "import {}\n")
		}, wantErr: "already exists on trunk"},
		{name: "unrelated file changed on base", push: func(f *githubtest.Fake) {
			f.PushFile("trunk", "README.md", "infra, updated\n")
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, p := prClient(t)
			tt.push(f)
			out, err := p.Publish(context.Background(), proposal("b", "import {}\n"))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				if len(f.PullRequests()) != 0 || f.CommitsMade() != 0 {
					t.Errorf("refused publish still wrote: %d PRs, %d commits", len(f.PullRequests()), f.CommitsMade())
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			_, parents, _ := f.BranchFiles("plumb/codify/0123456789ab")
			if len(parents) != 1 || parents[0] != f.BranchHead("trunk") || !out.Created {
				t.Errorf("parents %v, want the advanced base %s", parents, f.BranchHead("trunk"))
			}
		})
	}
}

// TestFindingIssues finds the issues the github_issue receiver opened, by
// their marker.
func TestFindingIssues(t *testing.T) {
	f, p := prClient(t)
	r := issueReceiver(t, f, f.BaseURL(), false, githubtest.NewMemState())
	fd := driftFinding("sg-1")
	deliver(t, r, receivers.Notification{Receiver: "gh-issues", Findings: []receivers.Finding{fd}})
	links, err := p.FindingIssues(context.Background(), []string{fd.Fingerprint, "ffffffffffffffffffffffffffffffff"})
	if err != nil {
		t.Fatal(err)
	}
	if len(links) != 1 || links[fd.Fingerprint].Number != 1 || links[fd.Fingerprint].State != "open" || links[fd.Fingerprint].URL == "" {
		t.Errorf("links = %+v", links)
	}
}

func TestNewPullRequestsInput(t *testing.T) {
	for _, tt := range []struct{ repo, token, want string }{
		{"acme", "t", "want OWNER/REPO"},
		{"acme/infra", "", "GITHUB_TOKEN"},
	} {
		if _, err := NewPullRequests(tt.repo, "", tt.token, nil); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("NewPullRequests(%q, %q) = %v, want %q", tt.repo, tt.token, err, tt.want)
		}
	}
}
