package codify

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path"
	"sort"
	"strings"

	"plumb/internal/model"
	"plumb/internal/receivers/github"
)

// SetKey identifies a chosen set of findings: the same findings give the
// same key, so a re-run updates the same branch and pull request.
func SetKey(fs []model.Finding) string {
	fps := make([]string, 0, len(fs))
	for _, f := range fs {
		fps = append(fps, f.Fingerprint)
	}
	sort.Strings(fps)
	h := sha256.New()
	for _, fp := range fps {
		h.Write([]byte(fp + "\n"))
	}
	return hex.EncodeToString(h.Sum(nil))[:12]
}

// BranchName is the head branch of a finding set's pull request.
func BranchName(key string) string { return "plumb/codify/" + key }

// PROptions shape the pull request.
type PROptions struct {
	// RepoPath is the root module's directory inside the repository
	// ("" for the repository root), with forward slashes.
	RepoPath string
	Base     string
	Labels   []string
	// Environment is named in the title and body.
	Environment string
	// Issues links findings to their GitHub issues, by fingerprint.
	Issues map[string]github.IssueLink
}

// Proposal turns a proven result into the pull request that carries it.
func Proposal(res *Result, key string, o PROptions) github.Proposal {
	p := github.Proposal{
		Branch:        BranchName(key),
		Base:          o.Base,
		Title:         prTitle(res, o.Environment),
		Body:          prBody(res, key, o),
		Labels:        o.Labels,
		CommitMessage: commitMessage(res, o.Environment),
	}
	for _, f := range res.Files {
		p.Files = append(p.Files, github.ChangeFile{Path: path.Join(o.RepoPath, f.Path), Content: f.New, Base: f.Old})
	}
	return p
}

func prTitle(res *Result, env string) string {
	var parts []string
	if n := len(res.Adopted); n > 0 {
		parts = append(parts, fmt.Sprintf("adopt %d resource%s", n, plural(n)))
	}
	if n := len(res.Accepted); n > 0 {
		parts = append(parts, fmt.Sprintf("accept %d change%s", n, plural(n)))
	}
	if n := len(res.Removed); n > 0 {
		parts = append(parts, fmt.Sprintf("remove %d missing resource%s", n, plural(n)))
	}
	t := "plumb codify: " + strings.Join(parts, ", ")
	if env != "" {
		t += " (" + env + ")"
	}
	return t
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

func commitMessage(res *Result, env string) string {
	var b strings.Builder
	b.WriteString(prTitle(res, env) + "\n\n")
	for _, a := range res.Adopted {
		fmt.Fprintf(&b, "import %s (%s)\n", a.Address, a.ImportID)
	}
	for _, a := range res.Accepted {
		fmt.Fprintf(&b, "accept %s: %s\n", a.Address, strings.Join(a.Paths, ", "))
	}
	for _, r := range res.Removed {
		fmt.Fprintf(&b, "forget %s\n", r.Address)
	}
	return b.String()
}

// cell makes text safe inside a Markdown table cell.
func cell(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	s = strings.ReplaceAll(s, "|", "\\|")
	s = strings.ReplaceAll(s, "<", "&lt;")
	return s
}

// code renders text as inline code in a table cell.
func code(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	s = strings.ReplaceAll(s, "|", "\\|")
	if strings.Contains(s, "`") {
		return "``" + s + "``"
	}
	return "`" + s + "`"
}

func (o PROptions) findingCell(f model.Finding) string {
	s := code(f.Fingerprint[:min(12, len(f.Fingerprint))]) + " " + cell(f.Message)
	if l, ok := o.Issues[f.Fingerprint]; ok {
		s += fmt.Sprintf(" (#%d)", l.Number)
	}
	return s
}

func prBody(res *Result, key string, o PROptions) string {
	var b strings.Builder
	where := "the repository root"
	if o.RepoPath != "" {
		where = code(o.RepoPath)
	}
	fmt.Fprintf(&b, "plumb found resources and changes that exist in the cloud but not in the code of %s", where)
	if o.Environment != "" {
		fmt.Fprintf(&b, " (environment %s)", code(o.Environment))
	}
	b.WriteString(", and writes them into it.\n\n")
	b.WriteString("**Proof:** `terraform plan` on this change shows the imports")
	if len(res.Accepted)+len(res.Removed) > 0 {
		b.WriteString(", the accepted changes and the removals")
	}
	b.WriteString(" and no other change for these resources. After merging, `terraform apply` brings them into the state; the next `plumb scan` resolves their findings.\n")
	if len(res.Adopted) > 0 {
		b.WriteString("\n### Adopted (import blocks and generated configuration)\n\n| Resource | Import id | Finding |\n|---|---|---|\n")
		for _, a := range res.Adopted {
			fmt.Fprintf(&b, "| %s | %s | %s |\n", code(a.Address), code(a.ImportID), o.findingCell(a.Finding))
		}
	}
	if len(res.Accepted) > 0 {
		b.WriteString("\n### Accepted into code\n\n| Resource | File | Attributes | Finding |\n|---|---|---|---|\n")
		for _, a := range res.Accepted {
			fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", code(a.Address), code(a.File), cell(strings.Join(a.Paths, ", ")), o.findingCell(a.Finding))
		}
	}
	if len(res.Removed) > 0 {
		b.WriteString("\n### Removed from code (forgotten by the state, nothing destroyed)\n\n| Resource | File | Finding |\n|---|---|---|\n")
		for _, r := range res.Removed {
			fmt.Fprintf(&b, "| %s | %s | %s |\n", code(r.Address), code(r.File), o.findingCell(r.Finding))
		}
	}
	if len(res.Skipped) > 0 {
		b.WriteString("\n### Left for a person\n\n| Resource | Why | Finding |\n|---|---|---|\n")
		for _, s := range res.Skipped {
			name := s.Address
			if name == "" {
				name = s.Finding.Resource.Type + " " + s.Finding.Resource.ID
			}
			fmt.Fprintf(&b, "| %s | %s | %s |\n", code(name), cell(s.Reason), o.findingCell(s.Finding))
		}
	}
	if len(res.Others) > 0 {
		b.WriteString("\nOther resources of this root module already have planned changes that this pull request does not make or touch: ")
		var names []string
		for _, a := range res.Others {
			names = append(names, code(a))
		}
		b.WriteString(strings.Join(names, ", ") + ".\n")
	}
	fmt.Fprintf(&b, "\n<!-- plumb:codify=%s -->\n", key)
	return b.String()
}
