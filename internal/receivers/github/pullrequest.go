package github

import (
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strconv"

	gh "github.com/google/go-github/v92/github"
)

// PullRequests commits files on a branch and opens (or updates) a pull
// request for them through the Git Data and Pulls APIs, so plumb can
// propose code without a local git checkout or credentials helper. It is
// how `plumb codify --pr` delivers adopted resources.
type PullRequests struct {
	repo repoRef
	gh   *gh.Client
}

// NewPullRequests builds the client for repository OWNER/REPO. baseURL is
// a GitHub Enterprise Server API root (empty for github.com); httpClient
// nil means a default client with a timeout.
func NewPullRequests(repository, baseURL, token string, httpClient *http.Client) (*PullRequests, error) {
	repo, err := parseRepo(repository)
	if err != nil {
		return nil, err
	}
	if token == "" {
		return nil, errors.New("GitHub token is empty (set GITHUB_TOKEN)")
	}
	c, err := newClient(baseURL, credentials{token: token}, httpClient)
	if err != nil {
		return nil, err
	}
	return &PullRequests{repo: repo, gh: c}, nil
}

// Repository is OWNER/REPO.
func (p *PullRequests) Repository() string { return p.repo.String() }

// ChangeFile is one file of a proposed change.
type ChangeFile struct {
	// Path is the path in the repository, with forward slashes.
	Path    string
	Content []byte
	// Base is the content the change was made from; nil for a new file.
	// Publishing refuses when the base branch holds something else, so a
	// pull request never silently reverts work merged in the meantime.
	Base []byte
}

// Proposal is a pull request to open or update.
type Proposal struct {
	// Branch is the head branch; the same branch means the same pull
	// request, so a re-run updates it instead of opening another.
	Branch string
	// Base is the branch to merge into; empty means the repository's
	// default branch.
	Base          string
	Title, Body   string
	Labels        []string
	CommitMessage string
	Files         []ChangeFile
}

// Published is what Publish did.
type Published struct {
	Number int
	URL    string
	Base   string
	// Created says the pull request was opened by this call (false: an
	// open one was updated).
	Created bool
	// Committed says a new commit was pushed to the branch (false: the
	// branch already held exactly these files on the current base).
	Committed bool
	Commit    string
}

// Publish makes the branch hold the base branch plus the files, in one
// commit on top of the base's current head, and makes one open pull
// request from it show the title, body and labels. Calling it again with
// the same proposal changes nothing; with new content it force-updates
// the branch (it belongs to plumb) and edits the same pull request.
func (p *PullRequests) Publish(ctx context.Context, pr Proposal) (*Published, error) {
	if pr.Branch == "" || len(pr.Files) == 0 {
		return nil, errors.New("pull request: a branch and at least one file are required")
	}
	o, r := p.repo.owner, p.repo.name
	base := pr.Base
	if base == "" {
		repo, _, err := p.gh.Repositories.Get(ctx, o, r)
		if err != nil {
			return nil, classify("read repository "+p.repo.String(), err)
		}
		base = repo.GetDefaultBranch()
		if base == "" {
			return nil, fmt.Errorf("repository %s has no default branch: pass a base branch", p.repo)
		}
	}
	baseRef, _, err := p.gh.Git.GetRef(ctx, o, r, "heads/"+base)
	if err != nil {
		return nil, classify(fmt.Sprintf("read branch %s of %s", base, p.repo), err)
	}
	baseSHA := baseRef.GetObject().GetSHA()
	baseCommit, _, err := p.gh.Git.GetCommit(ctx, o, r, baseSHA)
	if err != nil {
		return nil, classify("read commit "+baseSHA, err)
	}
	baseTree := baseCommit.GetTree().GetSHA()
	if err := p.checkBase(ctx, base, baseTree, pr.Files); err != nil {
		return nil, err
	}

	entries := make([]*gh.TreeEntry, 0, len(pr.Files))
	for _, f := range pr.Files {
		entries = append(entries, &gh.TreeEntry{Path: new(f.Path), Mode: new("100644"), Type: new("blob"), Content: new(string(f.Content))})
	}
	tree, _, err := p.gh.Git.CreateTree(ctx, o, r, baseTree, entries)
	if err != nil {
		return nil, classify("create tree", err)
	}
	out := &Published{Base: base}

	head, _, err := p.gh.Git.GetRef(ctx, o, r, "heads/"+pr.Branch)
	exists := err == nil
	if err != nil && !isGone(err) {
		return nil, classify("read branch "+pr.Branch, err)
	}
	current := ""
	if exists {
		headCommit, _, err := p.gh.Git.GetCommit(ctx, o, r, head.GetObject().GetSHA())
		if err != nil {
			return nil, classify("read commit "+head.GetObject().GetSHA(), err)
		}
		if headCommit.GetTree().GetSHA() == tree.GetSHA() && len(headCommit.Parents) == 1 && headCommit.Parents[0].GetSHA() == baseSHA {
			current = headCommit.GetSHA()
		}
	}
	out.Commit = current
	if current == "" {
		msg := pr.CommitMessage
		if msg == "" {
			msg = pr.Title
		}
		commit, _, err := p.gh.Git.CreateCommit(ctx, o, r, gh.Commit{
			Message: new(msg),
			Tree:    &gh.Tree{SHA: tree.SHA},
			Parents: []*gh.Commit{{SHA: new(baseSHA)}},
		}, nil)
		if err != nil {
			return nil, classify("create commit", err)
		}
		out.Commit, out.Committed = commit.GetSHA(), true
		if exists {
			// The branch is plumb's: each run rebuilds it from the base.
			_, _, err = p.gh.Git.UpdateRef(ctx, o, r, "heads/"+pr.Branch, gh.UpdateRef{SHA: commit.GetSHA(), Force: new(true)})
		} else {
			_, _, err = p.gh.Git.CreateRef(ctx, o, r, gh.CreateRef{Ref: "refs/heads/" + pr.Branch, SHA: commit.GetSHA()})
		}
		if err != nil {
			return nil, classify("update branch "+pr.Branch, err)
		}
	}

	pulls, _, err := p.gh.PullRequests.List(ctx, o, r, &gh.PullRequestListOptions{
		State: "open", Head: o + ":" + pr.Branch, ListOptions: gh.ListOptions{PerPage: perPage},
	})
	if err != nil {
		return nil, classify("list pull requests", err)
	}
	var pull *gh.PullRequest
	for _, pl := range pulls {
		if pl.GetHead().GetRef() == pr.Branch && (pull == nil || pl.GetNumber() < pull.GetNumber()) {
			pull = pl
		}
	}
	if pull == nil {
		pull, _, err = p.gh.PullRequests.Create(ctx, o, r, gh.CreatePullRequest{
			Title: new(pr.Title), Head: pr.Branch, Base: base, Body: new(pr.Body), MaintainerCanModify: new(true),
		})
		if err != nil {
			return nil, classify("open pull request", err)
		}
		out.Created = true
	} else if pull.GetTitle() != pr.Title || pull.GetBody() != pr.Body || pull.GetBase().GetRef() != base {
		upd := &gh.PullRequest{Title: new(pr.Title), Body: new(pr.Body)}
		if pull.GetBase().GetRef() != base {
			upd.Base = &gh.PullRequestBranch{Ref: new(base)}
		}
		if pull, _, err = p.gh.PullRequests.Edit(ctx, o, r, pull.GetNumber(), upd); err != nil {
			return nil, classify(fmt.Sprintf("update pull request #%d", pull.GetNumber()), err)
		}
	}
	out.Number, out.URL = pull.GetNumber(), pull.GetHTMLURL()
	if missing := missingLabels(pull.Labels, pr.Labels); len(missing) > 0 {
		if _, _, err := p.gh.Issues.AddLabelsToIssue(ctx, o, r, out.Number, missing); err != nil {
			return nil, classify(fmt.Sprintf("label pull request #%d", out.Number), err)
		}
	}
	return out, nil
}

func missingLabels(have []*gh.Label, want []string) []string {
	got := map[string]bool{}
	for _, l := range have {
		got[l.GetName()] = true
	}
	var out []string
	for _, w := range want {
		if w != "" && !got[w] {
			got[w] = true
			out = append(out, w)
		}
	}
	return out
}

// checkBase refuses a change made from files that differ from the base
// branch: the pull request would undo whatever was merged meanwhile.
func (p *PullRequests) checkBase(ctx context.Context, base, treeSHA string, files []ChangeFile) error {
	tree, _, err := p.gh.Git.GetTree(ctx, p.repo.owner, p.repo.name, treeSHA, true)
	if err != nil {
		return classify("read the tree of "+base, err)
	}
	if tree.GetTruncated() {
		return fmt.Errorf("the tree of %s in %s is too large for one listing; plumb cannot check that its files match the local copy", base, p.repo)
	}
	blobs := map[string]string{}
	for _, e := range tree.Entries {
		if e.GetType() == "blob" {
			blobs[e.GetPath()] = e.GetSHA()
		}
	}
	var problems []string
	for _, f := range files {
		sha, onBase := blobs[f.Path]
		switch {
		case f.Base == nil && onBase:
			problems = append(problems, f.Path+" already exists on "+base+" (merged already?)")
		case f.Base != nil && !onBase:
			problems = append(problems, f.Path+" does not exist on "+base)
		case f.Base != nil && sha == BlobSHA(f.Content):
			problems = append(problems, f.Path+" on "+base+" already holds this change (merged already?)")
		case f.Base != nil && sha != BlobSHA(f.Base):
			problems = append(problems, f.Path+" on "+base+" differs from the local copy plumb edited")
		}
	}
	if len(problems) > 0 {
		sort.Strings(problems)
		var b bytes.Buffer
		for _, s := range problems {
			b.WriteString("\n  " + s)
		}
		return fmt.Errorf("the local directory does not match %s of %s (update it, run codify again):%s", base, p.repo, b.String())
	}
	return nil
}

// BlobSHA is the git object id of a file's content, as GitHub reports it
// in trees.
func BlobSHA(content []byte) string {
	h := sha1.New()
	h.Write([]byte("blob " + strconv.Itoa(len(content)) + "\x00"))
	h.Write(content)
	return hex.EncodeToString(h.Sum(nil))
}

// IssueLink is a finding's GitHub issue, as the github_issue receiver
// opened it.
type IssueLink struct {
	Number int
	URL    string
	State  string
}

// FindingIssues finds the issues plumb's github_issue receiver opened for
// the fingerprints, by the hidden marker in their body: one listing of
// the plumb-labelled issues, open and closed. Fingerprints with no issue
// are absent from the map.
func (p *PullRequests) FindingIssues(ctx context.Context, fingerprints []string) (map[string]IssueLink, error) {
	want := map[string]string{}
	for _, fp := range fingerprints {
		want[findingMarker(fp)] = fp
	}
	out := map[string]IssueLink{}
	best := map[string]*gh.Issue{}
	opts := &gh.IssueListByRepoOptions{State: "all", Labels: []string{plumbLabel}, ListOptions: gh.ListOptions{PerPage: perPage}}
	for {
		page, resp, err := p.gh.Issues.ListByRepo(ctx, p.repo.owner, p.repo.name, opts)
		if err != nil {
			return nil, classify("list plumb issues in "+p.repo.String(), err)
		}
		for _, iss := range page {
			if iss.PullRequestLinks != nil {
				continue
			}
			for _, m := range markerRe.FindAllString(iss.GetBody(), -1) {
				if fp, ok := want[m]; ok {
					best[fp] = better(best[fp], iss)
				}
			}
		}
		switch {
		case resp == nil:
		case resp.NextPage != 0:
			opts.ListOptions.Page = resp.NextPage
			continue
		case resp.After != "" && resp.After != opts.After:
			opts.After = resp.After
			continue
		}
		break
	}
	for fp, iss := range best {
		out[fp] = IssueLink{Number: iss.GetNumber(), URL: iss.GetHTMLURL(), State: iss.GetState()}
	}
	return out, nil
}
